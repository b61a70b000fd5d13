package s3api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Test credentials used by the hand-built and SDK-signed requests.
const (
	authKeyID  = "AKIDISHTARTEST"
	authSecret = "ishtar/test+secret/0123456789abcdefghijkl"
	authRegion = "us-east-1"
	authHost   = "127.0.0.1:9000"
)

// Documentation example credentials and time (testdata/sigv4/s3).
const (
	vecAccessKey = "AKIAIOSFODNN7EXAMPLE"
	vecSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	vecTime  = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	authTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
)

func atClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func authVerifier(now time.Time) *verifier {
	return newVerifier(StaticCredentials{authKeyID: authSecret, vecAccessKey: vecSecret}, authRegion, atClock(now))
}

// readReqFile parses a testdata .req file: an HTTP/1.1 request head
// with LF line endings, an empty line, and the body bytes.
func readReqFile(t testing.TB, path string) *http.Request {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseReqText(t, data)
}

func parseReqText(t testing.TB, data []byte) *http.Request {
	t.Helper()
	head, body, _ := bytes.Cut(data, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	first := lines[0]
	i, j := strings.IndexByte(first, ' '), strings.LastIndexByte(first, ' ')
	if i < 0 || j <= i {
		t.Fatalf("bad request line %q", first)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", first[:i], strings.ReplaceAll(first[i+1:j], " ", "%20"), first[j+1:])
	hasLength := false
	for _, l := range lines[1:] {
		b.WriteString(l + "\r\n")
		hasLength = hasLength || strings.HasPrefix(strings.ToLower(l), "content-length:")
	}
	if !hasLength && len(body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	r, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatalf("parse request: %v", err)
	}
	return r
}

// wantAuthCode fails unless err is an *Error with the given code.
func wantAuthCode(t testing.TB, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want S3 error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%s), want %s", e.Code, e.Message, code)
	}
}

// drainPayload reads p.Body to its end.
func drainPayload(p *payload) ([]byte, error) {
	return io.ReadAll(p.Body)
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// authSDKSign signs r with aws-sdk-go-v2's SigV4 signer, an implementation
// independent of ours.
func authSDKSign(t testing.TB, r *http.Request, payloadHash string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: authKeyID, SecretAccessKey: authSecret}
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := authSDKSigner().SignHTTP(context.Background(), creds, r, payloadHash, "s3", authRegion, at); err != nil {
		t.Fatal(err)
	}
}

// authSDKPresign presigns r with aws-sdk-go-v2's signer.
func authSDKPresign(t testing.TB, r *http.Request, expires time.Duration, at time.Time, payloadHash string) string {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", fmt.Sprint(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: authKeyID, SecretAccessKey: authSecret}
	if payloadHash == "" {
		payloadHash = unsignedPayload
	}
	u, _, err := authSDKSigner().PresignHTTP(context.Background(), creds, r, payloadHash, "s3", authRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// asServerRequest turns a client request into what a handler receives: it
// is written to the wire and read back by net/http's parser.
func asServerRequest(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// authSignedPut builds the server side of PUT /bucket/key signed by the SDK
// signer with payload hash ph and the extra headers.
func authSignedPut(t testing.TB, body []byte, ph string, hdr map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	authSDKSign(t, r, ph, authTime)
	return asServerRequest(t, r)
}

func contentMD5(b []byte) string {
	h := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// authSignedGet builds the server side of a GET signed by the SDK signer at
// the given time, after edit has changed the client request.
func authSignedGet(t testing.TB, at time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/some%20key?versionId=null", nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	authSDKSign(t, r, emptySHA256, at)
	return asServerRequest(t, r)
}

// TestVerifyHeaderErrors provokes every error verify itself returns for
// Authorization-header requests.
func TestVerifyHeaderErrors(t *testing.T) {
	skewed := func(d time.Duration) func(testing.TB) *http.Request {
		return func(t testing.TB) *http.Request { return authSignedGet(t, authTime.Add(d), nil) }
	}
	withAuth := func(f func(string) string) func(testing.TB) *http.Request {
		return func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Set("Authorization", f(r.Header.Get("Authorization")))
			return r
		}
	}
	cases := []struct {
		name string
		req  func(testing.TB) *http.Request
		code string // "" = accepted
	}{
		{"valid", skewed(0), ""},
		{"14 minutes ahead", skewed(14 * time.Minute), ""},
		{"14 minutes behind", skewed(-14 * time.Minute), ""},
		{"16 minutes ahead", skewed(16 * time.Minute), "RequestTimeTooSkewed"},
		{"16 minutes behind", skewed(-16 * time.Minute), "RequestTimeTooSkewed"},
		{"anonymous", func(t testing.TB) *http.Request {
			return parseReqText(t, []byte("GET /bucket/key HTTP/1.1\nHost: "+authHost+"\n\n"))
		}, "AccessDenied"},
		{"unknown access key", withAuth(func(a string) string { return strings.Replace(a, authKeyID, "AKIDUNKNOWN", 1) }), "InvalidAccessKeyId"},
		{"signature changed", withAuth(func(a string) string { return a[:len(a)-1] + string(authFlipHex(a[len(a)-1])) }), "SignatureDoesNotMatch"},
		{"wrong secret", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			creds := aws.Credentials{AccessKeyID: authKeyID, SecretAccessKey: authSecret + "x"}
			if err := authSDKSigner().SignHTTP(context.Background(), creds, r, emptySHA256, "s3", authRegion, authTime); err != nil {
				t.Fatal(err)
			}
			return asServerRequest(t, r)
		}, "SignatureDoesNotMatch"},
		{"other region is accepted", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			creds := aws.Credentials{AccessKeyID: authKeyID, SecretAccessKey: authSecret}
			if err := authSDKSigner().SignHTTP(context.Background(), creds, r, emptySHA256, "s3", "eu-central-1", authTime); err != nil {
				t.Fatal(err)
			}
			return asServerRequest(t, r)
		}, ""},
		{"other service", withAuth(func(a string) string { return strings.Replace(a, "/s3/", "/ec2/", 1) }), "AuthorizationHeaderMalformed"},
		{"no Signature", withAuth(func(a string) string { a, _, _ = strings.Cut(a, ", Signature="); return a }), "AuthorizationHeaderMalformed"},
		{"bad credential", withAuth(func(a string) string { return strings.Replace(a, "aws4_request", "aws5_request", 1) }), "AuthorizationHeaderMalformed"},
		{"credential date differs", withAuth(func(a string) string {
			return strings.Replace(a, authTime.Format(scopeDateFormat), authTime.AddDate(0, 0, 1).Format(scopeDateFormat), 1)
		}), "AuthorizationHeaderMalformed"},
		{"host not signed", withAuth(func(a string) string { return strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1) }), "AuthorizationHeaderMalformed"},
		{"SigV2", withAuth(func(string) string { return "AWS " + authKeyID + ":c2lnbmF0dXJl" }), "InvalidRequest"},
		{"two Authorization headers", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}, "AuthorizationHeaderMalformed"},
		{"no date", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Del("X-Amz-Date")
			return r
		}, "AccessDenied"},
		{"bad x-amz-date", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Set("X-Amz-Date", "2025-03-14T15:09:26Z")
			return r
		}, "AccessDenied"},
		{"Date header instead of x-amz-date", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			r.Header.Set("Date", authTime.Format(http.TimeFormat))
			return authHandSigned(t, r, emptySHA256, []string{"date", "host", "x-amz-content-sha256"})
		}, ""},
		// botocore, given a Date header (even an empty one), signs with
		// Date alone, written by Python's email.utils.formatdate: a
		// numeric zone, not "GMT".
		{"Date header as botocore writes it", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			r.Header.Set("Date", authTime.Format("Mon, 02 Jan 2006 15:04:05 -0000"))
			return authHandSigned(t, r, emptySHA256, []string{"date", "host", "x-amz-content-sha256"})
		}, ""},
		{"Date header with an offset", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			r.Header.Set("Date", authTime.In(time.FixedZone("", 2*3600)).Format(time.RFC1123Z))
			return authHandSigned(t, r, emptySHA256, []string{"date", "host", "x-amz-content-sha256"})
		}, ""},
		{"no x-amz-content-sha256", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Del("X-Amz-Content-Sha256")
			return r
		}, "InvalidRequest"},
		{"x-amz-content-sha256 garbage", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			authSDKSign(t, r, "not-a-hash", authTime)
			return asServerRequest(t, r)
		}, "InvalidArgument"},
		{"SigV4a streaming", func(t testing.TB) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://"+authHost+"/bucket/key", nil)
			authSDKSign(t, r, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", authTime)
			return asServerRequest(t, r)
		}, "NotImplemented"},
		{"header and query auth", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.URL.RawQuery += "&X-Amz-Signature=" + strings.Repeat("0", 64)
			return r
		}, "InvalidArgument"},
		{"path changed", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.RequestURI = strings.Replace(r.RequestURI, "some%20key", "some%20kex", 1)
			return r
		}, "SignatureDoesNotMatch"},
		{"query changed", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.URL.RawQuery = "versionId=nul"
			return r
		}, "SignatureDoesNotMatch"},
		{"method changed", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Method = http.MethodDelete
			return r
		}, "SignatureDoesNotMatch"},
		{"signed header changed", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, func(r *http.Request) { r.Header.Set("Range", "bytes=0-9") })
			r.Header.Set("Range", "bytes=0-99")
			return r
		}, "SignatureDoesNotMatch"},
		{"unsigned header added", func(t testing.TB) *http.Request {
			r := authSignedGet(t, authTime, nil)
			r.Header.Set("X-Unsigned", "1")
			return r
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := authVerifier(authTime).verify(c.req(t))
			if c.code == "" {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if p.AccessKey != authKeyID || p.Body == nil {
					t.Fatalf("payload %+v", p)
				}
				return
			}
			if p != nil {
				t.Fatalf("payload returned with error %v", err)
			}
			wantAuthCode(t, err, c.code)
		})
	}
}

// authHandSigned signs r with our own SigV4 code for headers the SDK signer
// will not sign (Date without X-Amz-Date, Expect, Transfer-Encoding). The
// code itself is pinned by the published vectors in sigv4_test.go.
func authHandSigned(t testing.TB, r *http.Request, payloadHash string, signed []string) *http.Request {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if r.Header.Get("Date") == "" {
		r.Header.Set("X-Amz-Date", authTime.Format(amzDateFormat))
	}
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	sr := asServerRequest(t, r)
	amzDate, scopeDate := authTime.Format(amzDateFormat), authTime.Format(scopeDateFormat)
	s := &sigV4Request{
		scope:         credentialScope{authKeyID, scopeDate, authRegion, "s3"},
		signedHeaders: signed,
		amzDate:       amzDate,
		payloadHash:   payloadHash,
	}
	q, err := parseQuery(sr.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	key := deriveSigningKey(authSecret, scopeDate, authRegion, "s3")
	sig := hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate, s.scope, canonicalRequests(sr, q, s)[0].String())))
	sr.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		sigV4Algorithm, authKeyID, s.scope.String(), strings.Join(signed, ";"), sig))
	return sr
}

// TestVerifyReconstructedHeaders signs headers net/http takes out of
// r.Header (Transfer-Encoding) or that a proxy may drop (Expect,
// Content-Length) and checks they are rebuilt.
func TestVerifyReconstructedHeaders(t *testing.T) {
	body := []byte("hello, chunked transfer")
	// Transfer-Encoding: chunked, signed.
	r, _ := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", io.NopCloser(bytes.NewReader(body)))
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	sr := authHandSigned(t, r, hexSHA256(body), []string{"host", "transfer-encoding", "x-amz-content-sha256"})
	if len(sr.TransferEncoding) != 1 || sr.Header.Get("Transfer-Encoding") != "" {
		t.Fatalf("net/http kept Transfer-Encoding in the header map: %v", sr.Header)
	}
	p, err := authVerifier(authTime).verify(sr)
	if err != nil {
		t.Fatalf("transfer-encoding: %v", err)
	}
	if got, err := drainPayload(p); err != nil || !bytes.Equal(got, body) || p.Size != -1 {
		t.Fatalf("body %q %v size %d", got, err, p.Size)
	}
	// Expect and Content-Length signed, then removed from the header map.
	for _, expect := range []string{"100-continue", "100-Continue"} {
		r, _ = http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(body))
		r.Header.Set("Expect", expect)
		sr = authHandSigned(t, r, unsignedPayload, []string{"content-length", "expect", "host", "x-amz-content-sha256"})
		if _, err := authVerifier(authTime).verify(sr); err != nil {
			t.Fatalf("expect %s as sent: %v", expect, err)
		}
		sr.Header.Del("Expect")
		sr.Header.Del("Content-Length")
		if _, err := authVerifier(authTime).verify(sr); err != nil {
			t.Fatalf("expect %s rebuilt: %v", expect, err)
		}
	}
}

// authSDKSigner is aws-sdk-go-v2's signer configured the way its S3
// client configures it: the path is escaped once, by the caller.
func authSDKSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
