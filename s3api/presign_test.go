package s3api

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// presigned returns the server side of a GET of a URL presigned by the
// SDK signer at authTime.
func presigned(t testing.TB, method, target string, expires time.Duration, body []byte) *http.Request {
	t.Helper()
	return presignedWithHash(t, method, target, expires, body, "")
}

// presignedWithHash presigns with x-amz-content-sha256 = ph as a signed
// header (UNSIGNED-PAYLOAD and no header if ph is "").
func presignedWithHash(t testing.TB, method, target string, expires time.Duration, body []byte, ph string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, "http://"+authHost+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ph != "" {
		r.Header.Set("X-Amz-Content-Sha256", ph)
	}
	u := authSDKPresign(t, r, expires, authTime, ph)
	cr, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ph != "" {
		cr.Header.Set("X-Amz-Content-Sha256", ph)
	}
	return asServerRequest(t, cr)
}

func TestPresignWindow(t *testing.T) {
	cases := []struct {
		name string
		at   time.Time
		code string
	}{
		{"at signing", authTime, ""},
		{"last second", authTime.Add(time.Hour), ""},
		{"expired", authTime.Add(time.Hour + time.Second), "AccessDenied"},
		{"clock 14 minutes behind", authTime.Add(-14 * time.Minute), ""},
		{"dated 16 minutes ahead", authTime.Add(-16 * time.Minute), "AccessDenied"},
	}
	for _, c := range cases {
		r := presigned(t, http.MethodGet, "/bucket/a%20key", time.Hour, nil)
		p, err := authVerifier(c.at).verify(r)
		if c.code == "" {
			if err != nil || p.AccessKey != authKeyID {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		wantAuthCode(t, err, c.code)
	}
	r := presigned(t, http.MethodGet, "/bucket/key", time.Hour, nil)
	_, err := authVerifier(authTime.Add(2 * time.Hour)).verify(r)
	if e, ok := err.(*Error); !ok || e.Message != "Request has expired" {
		t.Fatalf("expired: %v", err)
	}
}

func TestPresignLongest(t *testing.T) {
	r := presigned(t, http.MethodGet, "/bucket/key", 7*24*time.Hour, nil)
	if _, err := authVerifier(authTime.Add(7 * 24 * time.Hour)).verify(r); err != nil {
		t.Fatal(err)
	}
}

// TestPresignParams breaks the query parameters one at a time.
func TestPresignParams(t *testing.T) {
	edit := func(f func(q url.Values)) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			f(q)
			r.URL.RawQuery = q.Encode()
			r.RequestURI = r.URL.RequestURI()
		}
	}
	cases := []struct {
		name string
		edit func(*http.Request)
		code string
	}{
		{"expires 0", edit(func(q url.Values) { q.Set("X-Amz-Expires", "0") }), "AccessDenied"},
		{"expires negative", edit(func(q url.Values) { q.Set("X-Amz-Expires", "-60") }), "AccessDenied"},
		{"expires over a week", edit(func(q url.Values) { q.Set("X-Amz-Expires", "604801") }), "AuthorizationQueryParametersError"},
		{"expires not a number", edit(func(q url.Values) { q.Set("X-Amz-Expires", "1h") }), "AuthorizationQueryParametersError"},
		{"no credential", edit(func(q url.Values) { q.Del("X-Amz-Credential") }), "AuthorizationQueryParametersError"},
		{"no date", edit(func(q url.Values) { q.Del("X-Amz-Date") }), "AuthorizationQueryParametersError"},
		{"no expires", edit(func(q url.Values) { q.Del("X-Amz-Expires") }), "AuthorizationQueryParametersError"},
		{"no signed headers", edit(func(q url.Values) { q.Del("X-Amz-SignedHeaders") }), "AuthorizationQueryParametersError"},
		{"no signature", edit(func(q url.Values) { q.Del("X-Amz-Signature") }), "AuthorizationQueryParametersError"},
		{"no algorithm", edit(func(q url.Values) { q.Del("X-Amz-Algorithm") }), "AuthorizationQueryParametersError"},
		{"other algorithm", edit(func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256") }), "AuthorizationQueryParametersError"},
		{"repeated signature", edit(func(q url.Values) { q.Add("X-Amz-Signature", q.Get("X-Amz-Signature")) }), "AuthorizationQueryParametersError"},
		{"bad date", edit(func(q url.Values) { q.Set("X-Amz-Date", "yesterday") }), "AuthorizationQueryParametersError"},
		{"other service", edit(func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), "/s3/", "/sts/", 1))
		}), "AuthorizationQueryParametersError"},
		{"unknown key", edit(func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), authKeyID, "AKIDNOBODY", 1))
		}), "InvalidAccessKeyId"},
		{"signature changed", edit(func(q url.Values) {
			s := q.Get("X-Amz-Signature")
			q.Set("X-Amz-Signature", s[:10]+string(authFlipHex(s[10]))+s[11:])
		}), "SignatureDoesNotMatch"},
		{"expiry extended", edit(func(q url.Values) { q.Set("X-Amz-Expires", "7200") }), "SignatureDoesNotMatch"},
		{"parameter added", edit(func(q url.Values) { q.Set("response-content-type", "text/html") }), "SignatureDoesNotMatch"},
		{"path changed", func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/bucket/key", "/bucket/kez", 1) }, "SignatureDoesNotMatch"},
		{"host changed", func(r *http.Request) { r.Host = "127.0.0.2:9000" }, "SignatureDoesNotMatch"},
		{"authorization header too", func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, "InvalidArgument"},
		{"payload hash header added", func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", emptySHA256) }, "SignatureDoesNotMatch"},
		{"unsigned header added", func(r *http.Request) { r.Header.Set("X-Foo", "bar") }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := presigned(t, http.MethodGet, "/bucket/key", time.Hour, nil)
			c.edit(r)
			_, err := authVerifier(authTime).verify(r)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantAuthCode(t, err, c.code)
		})
	}
}

// TestPresignPut: the body of a presigned PUT is UNSIGNED-PAYLOAD, but
// Content-MD5 and checksum headers are still enforced, and a hash the
// client adds in x-amz-content-sha256 is verified.
func TestPresignPut(t *testing.T) {
	body := authPattern(3000)
	r := presigned(t, http.MethodPut, "/bucket/key", time.Hour, body)
	p, err := authVerifier(authTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := drainPayload(p); err != nil || !bytes.Equal(got, body) || p.Size != int64(len(body)) {
		t.Fatalf("body %d %v size %d", len(got), err, p.Size)
	}
	r = presigned(t, http.MethodPut, "/bucket/key", time.Hour, body)
	r.Header.Set("Content-MD5", contentMD5(body[1:]))
	p, err = authVerifier(authTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = drainPayload(p)
	wantAuthCode(t, err, "BadDigest")
	r = presignedWithHash(t, http.MethodPut, "/bucket/key", time.Hour, body, hexSHA256(body))
	p, err = authVerifier(authTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := drainPayload(p); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("signed hash: %d bytes, %v", len(got), err)
	}
	r = presignedWithHash(t, http.MethodPut, "/bucket/key", time.Hour, body, hexSHA256(body[1:]))
	p, err = authVerifier(authTime).verify(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = drainPayload(p)
	wantAuthCode(t, err, "XAmzContentSHA256Mismatch")
	// aws-chunked bodies need a seed signature from a header request.
	r = presignedWithHash(t, http.MethodPut, "/bucket/key", time.Hour, body, streamingUnsignedTrailer)
	_, err = authVerifier(authTime).verify(r)
	wantAuthCode(t, err, "InvalidRequest")
}

// TestPresignDocQueryErrors checks parsePresign directly on the
// documented URL's parameters.
func TestPresignDocQueryErrors(t *testing.T) {
	r := readReqFile(t, "testdata/sigv4/s3/presigned-get.req")
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := parsePresign(q)
	if err != nil {
		t.Fatal(err)
	}
	if pp.expires != 24*time.Hour || pp.scope.accessKey != vecAccessKey || strings.Join(pp.signedHeaders, ";") != "host" {
		t.Fatalf("%+v", pp)
	}
	if _, err := authVerifier(vecTime.Add(24*time.Hour + time.Second)).verify(r); err == nil {
		t.Fatal("expired documented URL accepted")
	}
}
