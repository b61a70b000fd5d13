package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// verifyOnly is a handler that only authenticates and reads the body, and
// remembers what it saw: enough S3 for aws-sdk-go-v2 to finish PutObject,
// UploadPart and GetObject.
type verifyOnly struct {
	v    *verifier
	mu   sync.Mutex
	last verifySeen
	objs map[string][]byte
}

type verifySeen struct {
	mode     string // x-amz-content-sha256, or "presigned"
	trailer  string
	body     []byte
	algo     string
	checksum string
	size     int64
}

func (h *verifyOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := h.v.verify(r)
	if err == nil {
		var body []byte
		body, err = io.ReadAll(p.Body)
		if err == nil {
			h.serve(w, r, p, body)
			return
		}
	}
	var e *Error
	if !errors.As(err, &e) {
		e = ErrInternalError
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", e.Code, e.Message)
}

func (h *verifyOnly) serve(w http.ResponseWriter, r *http.Request, p *payload, body []byte) {
	seen := verifySeen{mode: r.Header.Get("X-Amz-Content-Sha256"), trailer: r.Header.Get("X-Amz-Trailer"), body: body, size: p.Size}
	if r.URL.Query().Has("X-Amz-Signature") {
		seen.mode = "presigned"
	}
	seen.algo, seen.checksum = p.checksum()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = seen
	sum := md5.Sum(body)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	switch {
	case r.Method == http.MethodPost && r.URL.Query().Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>up1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPut:
		h.objs[r.URL.Path] = body
		w.Header().Set("ETag", etag)
	case r.Method == http.MethodGet:
		obj, ok := h.objs[r.URL.Path]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<Error><Code>NoSuchKey</Code></Error>")
			return
		}
		w.Write(obj)
	}
}

func (h *verifyOnly) seen() verifySeen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// sdkAuthEnv is a verify-only server and an SDK client for it.
type sdkAuthEnv struct {
	h   *verifyOnly
	srv *httptest.Server
}

func newSDKAuthEnv(t *testing.T, tls bool) *sdkAuthEnv {
	h := &verifyOnly{v: newVerifier(StaticCredentials{authKeyID: authSecret}, authRegion, time.Now), objs: map[string][]byte{}}
	e := &sdkAuthEnv{h: h}
	if tls {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// client is an S3 client with the SDK's default configuration (as
// config.LoadDefaultConfig builds it, shared files ignored), so its default
// request checksums apply.
func (e *sdkAuthEnv) client(t *testing.T, keyID, secret string, opts ...func(*s3.Options)) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(authRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(keyID, secret, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = e.srv.Client()
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.srv.URL)
		o.UsePathStyle = true
		o.RetryMaxAttempts = 1
	}}, opts...)...)
}

// onlyReader hides Seek, so the SDK cannot hash the body up front.
type onlyReader struct{ io.Reader }

// TestSDKPayloadModes sends PutObject from aws-sdk-go-v2 in every payload
// mode it can be made to use and checks what verify saw.
func TestSDKPayloadModes(t *testing.T) {
	data := authPattern(300_000)
	whenRequired := func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }
	cases := []struct {
		name     string
		tls      bool
		opts     []func(*s3.Options)
		in       func(*s3.PutObjectInput)
		mode     string // x-amz-content-sha256 the SDK sent ("hash" = a hex digest)
		algo     string
		checksum bool // the trailer or header value must match ours
	}{
		{"defaults over TLS", true, nil, nil, streamingUnsignedTrailer, "CRC32", true},
		{"defaults over HTTP", false, nil, nil, "hash", "CRC32", true},
		{"CRC32C", true, nil, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c }, streamingUnsignedTrailer, "CRC32C", true},
		{"CRC64NVME", true, nil, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc64nvme }, streamingUnsignedTrailer, "CRC64NVME", true},
		{"SHA1", true, nil, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmSha1 }, streamingUnsignedTrailer, "SHA1", true},
		{"SHA256", true, nil, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256 }, streamingUnsignedTrailer, "SHA256", true},
		{"SHA256 over HTTP", false, nil, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256 }, "hash", "SHA256", true},
		{"unseekable body over TLS", true, nil, func(in *s3.PutObjectInput) { in.Body = onlyReader{bytes.NewReader(data)} }, streamingUnsignedTrailer, "CRC32", true},
		{"checksum when required, TLS", true, []func(*s3.Options){whenRequired}, nil, unsignedPayload, "", false},
		{"checksum when required, HTTP", false, []func(*s3.Options){whenRequired}, nil, "hash", "", false},
		{"Content-MD5", true, []func(*s3.Options){whenRequired}, func(in *s3.PutObjectInput) {
			sum := md5.Sum(data)
			in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
		}, unsignedPayload, "", false},
		{"precomputed CRC32 header", true, nil, func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String(checksumB64("CRC32", data)) }, unsignedPayload, "CRC32", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newSDKAuthEnv(t, c.tls)
			in := &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("dir/a key+ü.bin"), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
			if c.in != nil {
				c.in(in)
			}
			if _, err := e.client(t, authKeyID, authSecret, c.opts...).PutObject(context.Background(), in); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			s := e.h.seen()
			if got := s.mode; got != c.mode && !(c.mode == "hash" && len(got) == 64) {
				t.Errorf("x-amz-content-sha256 = %q, want %s", got, c.mode)
			}
			if !bytes.Equal(s.body, data) || s.size != int64(len(data)) {
				t.Fatalf("body %d bytes, size %d", len(s.body), s.size)
			}
			if s.algo != c.algo || (c.checksum && s.checksum != checksumB64(c.algo, data)) {
				t.Fatalf("checksum %s %s, want %s", s.algo, s.checksum, c.algo)
			}
		})
	}
}

// TestSDKUploadPart: parts go through the same payload modes.
func TestSDKUploadPart(t *testing.T) {
	e := newSDKAuthEnv(t, true)
	c := e.client(t, authKeyID, authSecret)
	ctx := context.Background()
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("k"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatal(err)
	}
	data := authPattern(5 << 20)
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bucket"), Key: aws.String("k"), UploadId: aws.String("up1"),
		PartNumber: aws.Int32(1), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatal(err)
	}
	if s := e.h.seen(); !bytes.Equal(s.body, data) || s.mode != streamingUnsignedTrailer || s.algo != "CRC32" {
		t.Fatalf("part: mode %s algo %s, %d bytes", s.mode, s.algo, len(s.body))
	}
}

// TestSDKPresigned fetches and uploads through URLs from
// s3.NewPresignClient.
func TestSDKPresigned(t *testing.T) {
	e := newSDKAuthEnv(t, true)
	ctx := context.Background()
	pc := s3.NewPresignClient(e.client(t, authKeyID, authSecret))
	data := authPattern(10_000)
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ключ")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range put.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s := e.h.seen(); resp.StatusCode != http.StatusOK || s.mode != "presigned" || !bytes.Equal(s.body, data) {
		t.Fatalf("presigned PUT: %s, mode %s, %d bytes", resp.Status, s.mode, len(s.body))
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("pre signed/ключ")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, err = http.NewRequestWithContext(ctx, get.Method, get.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("presigned GET: %s, %d bytes, %v", resp.Status, len(got), err)
	}
	// The same URL with the key changed is refused.
	req, _ = http.NewRequestWithContext(ctx, get.Method, strings.Replace(get.URL, "pre%20signed", "pre%20signee", 1), nil)
	resp, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered presigned GET: %s", resp.Status)
	}
}

// TestSDKAuthErrors checks the codes the SDK surfaces for bad requests.
func TestSDKAuthErrors(t *testing.T) {
	data := authPattern(1000)
	put := func(c *s3.Client, edit func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k"), Body: bytes.NewReader(data)}
		if edit != nil {
			edit(in)
		}
		_, err := c.PutObject(context.Background(), in)
		return err
	}
	e := newSDKAuthEnv(t, true)
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"wrong secret", put(e.client(t, authKeyID, authSecret+"x"), nil), "SignatureDoesNotMatch"},
		{"wrong CRC32", put(e.client(t, authKeyID, authSecret), func(in *s3.PutObjectInput) { in.ChecksumCRC32 = aws.String("AAAAAA==") }), "BadDigest"},
		{"wrong SHA256", put(e.client(t, authKeyID, authSecret), func(in *s3.PutObjectInput) {
			in.ChecksumSHA256 = aws.String(checksumB64("SHA256", data[1:]))
		}), "BadDigest"},
		{"wrong Content-MD5", put(e.client(t, authKeyID, authSecret, func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }),
			func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String(contentMD5(data[1:])) }), "BadDigest"},
		{"malformed Content-MD5", put(e.client(t, authKeyID, authSecret), func(in *s3.PutObjectInput) { in.ContentMD5 = aws.String("nope") }), "InvalidDigest"},
	}
	for _, c := range cases {
		var api smithy.APIError
		if !errors.As(c.err, &api) || api.ErrorCode() != c.code {
			t.Errorf("%s: %v, want %s", c.name, c.err, c.code)
		}
	}
	var api smithy.APIError
	if err := put(e.client(t, "AKIDNOBODY", authSecret), nil); !errors.As(err, &api) || api.ErrorCode() != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v", err)
	}
}
