package s3api

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// streamTimeout bounds how long a streaming test waits for the other side
// before concluding that a body was buffered instead of streamed.
const streamTimeout = 20 * time.Second

// signalReader closes ch on the first byte read through it.
type signalReader struct {
	r    io.Reader
	once sync.Once
	ch   chan struct{}
}

func (s *signalReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.once.Do(func() { close(s.ch) })
	}
	return n, err
}

// streamBackend tells the test when PutObject starts receiving data, and
// serves objects whose reader stalls half-way until the client has seen the
// first half.
type streamBackend struct {
	*memBackend
	putStarted chan struct{}
	clientGot  chan struct{}
}

func (s *streamBackend) PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error) {
	in.Body = &signalReader{r: in.Body, ch: s.putStarted}
	return s.memBackend.PutObject(ctx, in)
}

func (s *streamBackend) GetObject(ctx context.Context, bucket, key string) (*Object, error) {
	obj, err := s.memBackend.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	open := obj.Open
	obj.Open = func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		rc, err := open(ctx, off, n)
		if err != nil {
			return nil, err
		}
		half := n / 2
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(io.LimitReader(rc, half), &gatedReader{r: rc, gate: s.clientGot}), rc}, nil
	}
	return obj, nil
}

// gatedReader blocks its first Read until gate is closed.
type gatedReader struct {
	r    io.Reader
	gate chan struct{}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	select {
	case <-g.gate:
	case <-time.After(streamTimeout):
		return 0, io.ErrUnexpectedEOF
	}
	return g.r.Read(p)
}

// TestBodiesStream checks that a PUT body reaches the Backend while the
// client is still sending, and that a GET body reaches the client while
// the Backend is still producing it: neither is buffered whole.
func TestBodiesStream(t *testing.T) {
	sb := &streamBackend{memBackend: newMemBackend(), putStarted: make(chan struct{}), clientGot: make(chan struct{})}
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true, backend: sb})
	e.mem = sb.memBackend
	b := e.bucket(t, "stream")
	const size = 8 << 20
	data := opsRandBytes(size, 21)

	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.srv.URL+"/stream/big", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	opsSign(t, req, "UNSIGNED-PAYLOAD", e.region)
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		done <- result{resp, err}
	}()
	if _, err := pw.Write(data[:size/4]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sb.putStarted:
	case <-time.After(streamTimeout):
		t.Fatal("the backend saw no byte of the PUT body while the client was sending it")
	}
	if _, err := pw.Write(data[size/4:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	res.resp.Body.Close()
	sum := md5.Sum(data)
	if res.resp.StatusCode != http.StatusOK || res.resp.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("PUT: %d %s", res.resp.StatusCode, res.resp.Header.Get("ETag"))
	}

	get, err := e.c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	defer get.Body.Close()
	first := make([]byte, size/4)
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(get.Body, first)
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(streamTimeout):
		t.Fatal("the client saw no byte of the GET body while the backend was producing it")
	}
	close(sb.clientGot)
	rest, err := io.ReadAll(get.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(first, rest...), data) {
		t.Fatal("streamed GET returned different bytes")
	}
}

// syncBuffer is a log destination safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestInternalErrorLogged(t *testing.T) {
	var logs syncBuffer
	e := newSDKEnv(t, sdkEnvOptions{log: &logs})
	b := e.bucket(t, "logged")
	e.mem.setFail(func(op, _, _ string) error {
		if op == "HeadBucket" {
			return errInjected
		}
		return nil
	})
	resp := e.raw(t, http.MethodGet, "/"+b+"?location", nil, nil)
	if code := opsErrorCode(t, resp); code != "InternalError" {
		t.Fatalf("code %s", code)
	}
	id := resp.Header.Get("X-Amz-Request-Id")
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "request_id="+id) && strings.Contains(l, "level=ERROR") {
			line = l
		}
	}
	if !strings.Contains(line, errInjected.Error()) {
		t.Fatalf("no error log line with request_id=%s and the cause in:\n%s", id, logs.String())
	}
	// The client is told nothing of the cause.
	resp = e.raw(t, http.MethodGet, "/"+b+"?location", nil, nil)
	body := string(opsReadAll(t, resp.Body))
	if strings.Contains(body, "injected") || !strings.Contains(body, "<Code>InternalError</Code>") {
		t.Fatalf("body %s", body)
	}
	// Every response has a fresh request ID.
	if resp.Header.Get("X-Amz-Request-Id") == id {
		t.Fatal("request ID reused")
	}
	if n, err := strconv.Atoi(resp.Header.Get("Content-Length")); err != nil || n != len(body) {
		t.Fatalf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(body))
	}
}

func TestExpectContinue(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	e.bucket(t, "expect")
	for _, v := range []string{"100-continue", "100-Continue"} {
		resp := e.raw(t, http.MethodPut, "/expect/k", []byte("body"), http.Header{"Expect": {v}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Expect %s: %d", v, resp.StatusCode)
		}
	}
	if !e.mem.has("expect", "k") {
		t.Fatal("not stored")
	}
}

// TestExpectContinueEmptyBody checks that a request with an empty body and
// Expect: 100-continue gets its interim 100 response, which net/http alone
// never sends for a body nobody reads (botocore then stalls; boto/botocore#3755).
func TestExpectContinueEmptyBody(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true})
	e.bucket(t, "expect")
	var got100 atomic.Int32
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		if code == http.StatusContinue {
			got100.Add(1)
		}
		return nil
	}}
	ctx := httptrace.WithClientTrace(t.Context(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, e.srv.URL+"/expect/empty", http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("X-Amz-Content-Sha256", emptyHash)
	opsSign(t, req, emptyHash, e.region)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got100.Load() != 1 {
		t.Fatalf("got %d interim 100 responses, want 1", got100.Load())
	}
	if !e.mem.has("expect", "empty") {
		t.Fatal("not stored")
	}
}

// failAfter yields n bytes of r and then fails.
type failAfter struct {
	r io.Reader
	n int64
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errInjected
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	k, err := f.r.Read(p)
	f.n -= int64(k)
	return k, err
}

type brokenReadBackend struct{ *memBackend }

func (b brokenReadBackend) GetObject(ctx context.Context, bucket, key string) (*Object, error) {
	obj, err := b.memBackend.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	open := obj.Open
	obj.Open = func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		rc, err := open(ctx, off, n)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{&failAfter{r: rc, n: n / 2}, rc}, nil
	}
	return obj, nil
}

// TestGetFailsMidStream checks that a read failure after the headers are
// sent reaches the client as an error, not as a short "complete" body.
func TestGetFailsMidStream(t *testing.T) {
	bb := brokenReadBackend{newMemBackend()}
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true, backend: bb})
	e.bucket(t, "broken")
	bb.put("broken", "obj", opsRandBytes(1<<20, 4))
	resp := e.raw(t, http.MethodGet, "/broken/obj", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %d of %d bytes without an error", len(b), 1<<20)
	}
}

func TestSizeLimits(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{cfg: Config{MaxObjectSize: 1 << 10, MaxXMLBodySize: 200}})
	ctx := t.Context()
	b := e.bucket(t, "limits")
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("big"), Body: bytes.NewReader(make([]byte, 1<<10+1))})
	wantS3Code(t, err, "EntityTooLarge")
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("fits"), Body: bytes.NewReader(make([]byte, 1<<10))}); err != nil {
		t.Fatal(err)
	}
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(make([]byte, 1<<10+1))})
	wantS3Code(t, err, "EntityTooLarge")
	_, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String(strings.Repeat("a", 100))}, {Key: aws.String(strings.Repeat("b", 100))}}}})
	wantS3Code(t, err, "MalformedXML")
	if !e.mem.has(b, "fits") || e.mem.has(b, "big") {
		t.Fatal("wrong objects stored")
	}

	// A body of unknown length (chunked transfer coding) is held to the
	// same limit as it streams.
	resp := chunkedPut(t, e, "/limits/chunked", bytes.Repeat([]byte("x"), 1<<10), nil)
	if resp.StatusCode != http.StatusOK || !e.mem.has(b, "chunked") {
		t.Fatalf("chunked PUT of the limit: %d", resp.StatusCode)
	}
	resp = chunkedPut(t, e, "/limits/chunked-big", make([]byte, 1<<10+1), nil)
	if code := opsErrorCode(t, resp); code != "EntityTooLarge" || e.mem.has(b, "chunked-big") {
		t.Fatalf("chunked PUT past the limit: %d %s", resp.StatusCode, code)
	}
}
