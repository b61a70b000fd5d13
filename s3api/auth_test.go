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
	testAccessKey = "AKIDISHTARTEST"
	testSecret    = "ishtar/test+secret/0123456789abcdefghijkl"
	testRegion    = "us-east-1"
	testHost      = "127.0.0.1:9000"
)

// Documentation example credentials and time (testdata/sigv4/s3).
const (
	docAccessKey = "AKIAIOSFODNN7EXAMPLE"
	docSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var (
	docTime  = time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC)
	testTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func testVerifier(now time.Time) *verifier {
	return newVerifier(StaticCredentials{testAccessKey: testSecret, docAccessKey: docSecret}, testRegion, fixedClock(now))
}

// readRequestFile parses a testdata .req file: an HTTP/1.1 request head
// with LF line endings, an empty line, and the body bytes.
func readRequestFile(t testing.TB, path string) *http.Request {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseRequestText(t, data)
}

func parseRequestText(t testing.TB, data []byte) *http.Request {
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

// wantCode fails unless err is an *Error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want S3 error %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%s), want %s", e.Code, e.Message, code)
	}
}

// readBody reads p.Body to its end.
func readBody(p *payload) ([]byte, error) {
	return io.ReadAll(p.Body)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sdkSign signs r with aws-sdk-go-v2's SigV4 signer, an implementation
// independent of ours.
func sdkSign(t testing.TB, r *http.Request, payloadHash string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash, "s3", testRegion, at); err != nil {
		t.Fatal(err)
	}
}

// sdkPresign presigns r with aws-sdk-go-v2's signer.
func sdkPresign(t testing.TB, r *http.Request, expires time.Duration, at time.Time) string {
	t.Helper()
	q := r.URL.Query()
	q.Set("X-Amz-Expires", fmt.Sprint(int(expires/time.Second)))
	r.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, unsignedPayload, "s3", testRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// serverRequest turns a client request into what a handler receives: it
// is written to the wire and read back by net/http's parser.
func serverRequest(t testing.TB, r *http.Request) *http.Request {
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

// signedPut builds the server side of PUT /bucket/key signed by the SDK
// signer with payload hash ph and the extra headers.
func signedPut(t testing.TB, body []byte, ph string, hdr map[string]string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPut, "http://"+testHost+"/bucket/key", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	sdkSign(t, r, ph, testTime)
	return serverRequest(t, r)
}

func md5B64(b []byte) string {
	h := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(h[:])
}
