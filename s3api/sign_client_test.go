package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// AWS's published SigV4 examples for S3 (GET object with a Range, GET
// with a subresource, and a listing with query parameters).
func TestSignerAWSExamples(t *testing.T) {
	at := time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	s := &Signer{
		AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Now:             func() time.Time { return at },
	}
	for _, tc := range []struct {
		url, rng, signed, sig string
	}{
		{"https://examplebucket.s3.amazonaws.com/test.txt", "bytes=0-9", "host;range;x-amz-content-sha256;x-amz-date",
			"f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
		{"https://examplebucket.s3.amazonaws.com/?lifecycle", "", "host;x-amz-content-sha256;x-amz-date",
			"fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
		{"https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", "", "host;x-amz-content-sha256;x-amz-date",
			"34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
	} {
		r, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.rng != "" {
			r.Header.Set("Range", tc.rng)
		}
		if err := s.Sign(r, EmptyPayloadHash); err != nil {
			t.Fatal(err)
		}
		want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=" +
			tc.signed + ", Signature=" + tc.sig
		if got := r.Header.Get("Authorization"); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.url, got, want)
		}
		if r.Header.Get("X-Amz-Date") != "20130524T000000Z" || r.Header.Get("X-Amz-Content-Sha256") != EmptyPayloadHash {
			t.Errorf("%s: headers %v", tc.url, r.Header)
		}
	}
}

func TestSignerNeedsKeys(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://h/", nil)
	if err := (&Signer{AccessKeyID: "a"}).Sign(r, UnsignedPayload); err == nil {
		t.Fatal("signed without a secret")
	}
}

// Requests signed by Signer pass the handler's verification over the wire,
// whatever the key, query and payload mode; a change after signing fails.
func TestSignerAgainstHandler(t *testing.T) {
	const ak, sk = "ISHTARTESTKEY", "ishtar-test-secret/+="
	h := NewHandler(newMemBackend(), StaticCredentials{ak: sk}, Config{}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := &Signer{AccessKeyID: ak, SecretAccessKey: sk}

	do := func(method, path, rawQuery string, body []byte, hashed bool, hdr http.Header, tamper func(*http.Request)) *http.Response {
		t.Helper()
		u, err := url.Parse(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		u.Path, u.RawQuery = path, rawQuery
		r, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r.URL.Path, r.URL.RawPath = path, "" // the decoded path is what Sign takes
		r.ContentLength = int64(len(body))
		for k, v := range hdr {
			r.Header[k] = v
		}
		ph := UnsignedPayload
		if hashed {
			sum := sha256.Sum256(body)
			ph = hex.EncodeToString(sum[:])
		}
		if err := s.Sign(r, ph); err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			tamper(r)
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	expect := func(resp *http.Response, status int, wantBody string) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || (wantBody != "" && !strings.Contains(string(b), wantBody)) {
			t.Fatalf("%s %s: %d %s; want %d with %q", resp.Request.Method, resp.Request.URL, resp.StatusCode, b, status, wantBody)
		}
	}

	expect(do(http.MethodPut, "/bkt", "", nil, true, nil, nil), http.StatusOK, "")
	keys := []string{
		"plain.txt", "with space/and+plus", "ünïcødé/ファイル", "odd !$&'()*,;=:@[]~-_.", "%2F literal percent", "a//double/./dots/../x",
	}
	for _, key := range keys {
		body := []byte("content of " + key)
		hdr := http.Header{"Content-Type": {"text/plain"}, "X-Amz-Meta-Note": {"  spaced   value "}}
		expect(do(http.MethodPut, "/bkt/"+key, "", body, false, hdr, nil), http.StatusOK, "")
		expect(do(http.MethodGet, "/bkt/"+key, "", nil, true, http.Header{"Range": {"bytes=0-6"}}, nil), http.StatusPartialContent, "content")
		expect(do(http.MethodPut, "/bkt/"+key, "", body, true, nil, nil), http.StatusOK, "")
		expect(do(http.MethodGet, "/bkt/"+key, "", nil, false, nil, nil), http.StatusOK, string(body))
	}
	q := url.Values{"list-type": {"2"}, "prefix": {"with space/"}, "delimiter": {"/"}, "start-after": {"a=b&c"}}
	expect(do(http.MethodGet, "/bkt", q.Encode(), nil, true, nil, nil), http.StatusOK, "<Key>with space/and+plus</Key>")

	// A hashed payload that is not the body's hash is refused.
	expect(do(http.MethodPut, "/bkt/x", "", []byte("abc"), true, nil, func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader("abd"))
	}), http.StatusBadRequest, "XAmzContentSHA256Mismatch")
	// Anything signed that changes afterwards breaks the signature.
	for name, tamper := range map[string]func(*http.Request){
		"path":   func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/bkt/plain.txu", "" },
		"query":  func(r *http.Request) { r.URL.RawQuery = "x-id=GetObject" },
		"header": func(r *http.Request) { r.Header.Set("Range", "bytes=0-1") },
		"method": func(r *http.Request) { r.Method = http.MethodHead },
	} {
		resp := do(http.MethodGet, "/bkt/plain.txt", "", nil, true, http.Header{"Range": {"bytes=0-6"}}, tamper)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("tampered %s: status %d, want 403", name, resp.StatusCode)
		}
		resp.Body.Close()
	}
}
