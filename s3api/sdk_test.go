package s3api

// The aws-sdk-go-v2 suite: the real, current S3 client with its default
// settings (CRC32 request checksums, aws-chunked bodies with trailers over
// TLS, response checksum validation) against NewHandler on a loopback
// listener, backed by memBackend.

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const (
	opsAccessKey = "AKIAISHTARTEST000001"
	opsSecretKey = "ishtar/test+secret/key0000000000000000000"
)

// sdkEnv is one handler on a loopback listener with its backend and client.
type sdkEnv struct {
	mem    *memBackend
	srv    *httptest.Server
	cfg    Config
	c      *s3.Client
	region string
	skew   atomic.Int64 // nanoseconds added to the server clock
}

type sdkEnvOptions struct {
	plainHTTP bool      // http instead of https (no aws-chunked trailers)
	cfg       Config    // Now is set by newSDKEnv
	backend   Backend   // default: the env's memBackend
	log       io.Writer // where the handler logs; default: discarded
}

func newSDKEnv(t testing.TB, o sdkEnvOptions) *sdkEnv {
	t.Helper()
	e := &sdkEnv{mem: newMemBackend(), cfg: o.cfg}
	e.cfg.Now = func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	e.region = e.cfg.withDefaults().Region
	var backend Backend = e.mem
	if o.backend != nil {
		backend = o.backend
	}
	logTo := o.log
	if logTo == nil {
		logTo = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewHandler(backend, StaticCredentials{opsAccessKey: opsSecretKey}, e.cfg, log)
	if o.plainHTTP {
		e.srv = httptest.NewServer(h)
	} else {
		e.srv = httptest.NewTLSServer(h)
	}
	t.Cleanup(e.srv.Close)
	e.c = e.client(t, opsAccessKey, opsSecretKey)
	return e
}

// client returns an SDK client with the SDK's default behaviour (the
// defaults config.LoadDefaultConfig resolves, without reading this
// machine's AWS environment or files), addressing the server path-style,
// with retries off so every error surfaces.
func (e *sdkEnv) client(t testing.TB, ak, sk string, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg := aws.Config{
		Region:                     e.region,
		Credentials:                credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient:                 e.srv.Client(),
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.srv.URL)
		o.UsePathStyle = true
	}}, opts...)...)
}

func (e *sdkEnv) bucket(t testing.TB, name string) string {
	t.Helper()
	if _, err := e.c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// wantS3Code fails unless err is an S3 error with the given code.
func wantS3Code(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want S3 error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code %s (%v), want %s", ae.ErrorCode(), err, code)
	}
}

// wantHTTPStatus fails unless err is an HTTP response error with status.
func wantHTTPStatus(t *testing.T, err error, status int) *awshttp.ResponseError {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want HTTP status %d", err, status)
	}
	if re.HTTPStatusCode() != status {
		t.Fatalf("status %d (%v), want %d", re.HTTPStatusCode(), err, status)
	}
	return re
}

func opsRandBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func opsQuotedMD5(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func opsReadAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// raw sends a request signed with the SDK's SigV4 signer, for what the
// SDK will not send: odd query strings, unknown methods, literal paths.
// The path is sent exactly as given (already escaped).
func (e *sdkEnv) raw(t testing.TB, method, path string, body []byte, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		hash = v
	} else {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	opsSign(t, req, hash, e.region)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// opsSign signs req for the test credentials with the SDK's SigV4 signer;
// the caller has set X-Amz-Content-Sha256 to payloadHash.
func opsSign(t testing.TB, req *http.Request, payloadHash, region string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: opsAccessKey, SecretAccessKey: opsSecretKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(req.Context(), creds, req, payloadHash, "s3", region, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// opsErrorCode returns the Code of an S3 error document.
func opsErrorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc errorXML
	if err := parseXML(b, &doc); err != nil {
		t.Fatalf("status %d, body %q is not an error document", resp.StatusCode, b)
	}
	if doc.RequestID == "" || doc.RequestID != resp.Header.Get("X-Amz-Request-Id") {
		t.Fatalf("error RequestId %q, header %q", doc.RequestID, resp.Header.Get("X-Amz-Request-Id"))
	}
	return doc.Code
}

// opsHostDialer sends every connection to the test server, whatever host the
// client asks for, so virtual-host names need no DNS.
func opsHostDialer(addr string) func(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
}

// urlDecode reverses encoding-type=url.
func urlDecode(t *testing.T, s string) string {
	t.Helper()
	d, err := url.PathUnescape(s)
	if err != nil {
		t.Fatalf("listing name %q is not URL-encoded: %v", s, err)
	}
	return d
}
