package s3api

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestOpsPresignedURLs(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "presign")
	pc := s3.NewPresignClient(e.c)
	data := opsRandBytes(100_000, 5)
	key := "shared/file name+1.bin"

	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, put.Method, put.URL, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range put.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = v
		}
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != opsQuotedMD5(data) {
		t.Fatalf("presigned PUT: %d ETag %s", resp.StatusCode, resp.Header.Get("ETag"))
	}

	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = e.srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, resp.Body); resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("presigned GET: %d, %d bytes", resp.StatusCode, len(got))
	}
	// Tampered: another key under the same signature.
	resp, err = e.srv.Client().Get(strings.Replace(get.URL, "file%20name", "file%20nome", 1))
	if err != nil {
		t.Fatal(err)
	}
	if code := opsErrorCode(t, resp); code != "SignatureDoesNotMatch" {
		t.Fatalf("tampered presigned GET: %s", code)
	}
	resp.Body.Close()
	// Expired: the server clock moves past the one-minute expiry.
	e.skew.Store(int64(2 * time.Minute))
	resp, err = e.srv.Client().Get(get.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || opsErrorCode(t, resp) != "AccessDenied" {
		t.Fatalf("expired presigned GET: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestOpsAuthErrorCodes(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "auth")
	put := func(c *s3.Client, in s3.PutObjectInput) error {
		in.Bucket = &b
		if in.Body == nil {
			in.Body = strings.NewReader("payload")
		}
		_, err := c.PutObject(ctx, &in)
		return err
	}
	err := put(e.client(t, opsAccessKey, "wrong-secret"), s3.PutObjectInput{Key: aws.String("k1")})
	wantS3Code(t, err, "SignatureDoesNotMatch")
	err = put(e.client(t, "AKIAUNKNOWN000000000", opsSecretKey), s3.PutObjectInput{Key: aws.String("k2")})
	wantS3Code(t, err, "InvalidAccessKeyId")

	wrong := md5.Sum([]byte("not the payload"))
	err = put(e.c, s3.PutObjectInput{Key: aws.String("k3"), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantS3Code(t, err, "BadDigest")
	err = put(e.c, s3.PutObjectInput{Key: aws.String("k4"), ContentMD5: aws.String("not-base64!")})
	wantS3Code(t, err, "InvalidDigest")
	err = put(e.c, s3.PutObjectInput{Key: aws.String("k5"), ChecksumCRC32: aws.String("AAAAAA==")})
	wantS3Code(t, err, "BadDigest")

	// A payload hash that does not match the body.
	other := sha256.Sum256([]byte("other"))
	resp := e.raw(t, http.MethodPut, "/auth/k6", []byte("payload"), http.Header{"X-Amz-Content-Sha256": {hex.EncodeToString(other[:])}})
	if code := opsErrorCode(t, resp); code != "XAmzContentSHA256Mismatch" {
		t.Fatalf("payload hash mismatch: %s", code)
	}

	// A byte flipped in flight inside an aws-chunked body: the CRC32
	// trailer no longer matches.
	flip := e.client(t, opsAccessKey, opsSecretKey, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: flipTransport{base: e.srv.Client().Transport, at: 500}}
	})
	err = put(flip, s3.PutObjectInput{Key: aws.String("k7"), Body: bytes.NewReader(opsRandBytes(4000, 9))})
	wantS3Code(t, err, "BadDigest")

	e.skew.Store(int64(time.Hour))
	err = put(e.c, s3.PutObjectInput{Key: aws.String("k8")})
	wantS3Code(t, err, "RequestTimeTooSkewed")
	e.skew.Store(0)

	for _, k := range []string{"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"} {
		if e.mem.has(b, k) {
			t.Fatalf("%s stored despite the failed check", k)
		}
	}
	if err := put(e.c, s3.PutObjectInput{Key: aws.String("ok")}); err != nil || !e.mem.has(b, "ok") {
		t.Fatalf("a good PUT after the failures: %v", err)
	}
}

// flipTransport inverts one byte of every request body at offset at.
type flipTransport struct {
	base http.RoundTripper
	at   int64
}

func (f flipTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.ContentLength != 0 {
		r2 := r.Clone(r.Context())
		r2.Body = &flipReader{rc: r.Body, at: f.at}
		r = r2
	}
	return f.base.RoundTrip(r)
}

type flipReader struct {
	rc  io.ReadCloser
	off int64
	at  int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.rc.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipReader) Close() error { return f.rc.Close() }

func TestSDKVirtualHost(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true, cfg: Config{BaseDomain: "s3.ishtar.test"}})
	ctx := t.Context()
	port := e.srv.URL[strings.LastIndex(e.srv.URL, ":")+1:]
	seen := make(chan string, 100)
	vc := e.client(t, opsAccessKey, opsSecretKey, func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://s3.ishtar.test:" + port)
		o.UsePathStyle = false
		o.HTTPClient = &http.Client{Transport: hostRecorder{
			base: &http.Transport{DialContext: opsHostDialer(e.srv.Listener.Addr().String())}, seen: seen}}
	})
	if _, err := vc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	if h := <-seen; h != "vhost.s3.ishtar.test:"+port {
		t.Fatalf("the SDK sent Host %q, not virtual-host style", h)
	}
	data := []byte("virtual host body")
	for _, key := range []string{"a/b c+d", "top"} {
		if _, err := vc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		if !e.mem.has("vhost", key) {
			t.Fatalf("%q not stored in the bucket named by the host", key)
		}
		get, err := vc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if got := opsReadAll(t, get.Body); !bytes.Equal(got, data) {
			t.Fatalf("get %q: %q", key, got)
		}
	}
	list, err := vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost"), Delimiter: aws.String("/")})
	if err != nil || len(list.Contents) != 1 || len(list.CommonPrefixes) != 1 {
		t.Fatalf("virtual-host listing %+v %v", list, err)
	}
	if _, err := vc.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	_, err = vc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("missing")})
	wantS3Code(t, err, "NoSuchKey")
	// The same server still answers path-style requests by address.
	lb, err := e.c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(lb.Buckets) != 1 || aws.ToString(lb.Buckets[0].Name) != "vhost" {
		t.Fatalf("path-style ListBuckets %+v %v", lb, err)
	}
	if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("vhost"), Key: aws.String("top")}); err != nil || e.mem.has("vhost", "top") {
		t.Fatalf("path-style delete: %v", err)
	}
}

// hostRecorder reports the Host of each request it sends.
type hostRecorder struct {
	base http.RoundTripper
	seen chan string
}

func (h hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case h.seen <- r.URL.Host:
	default:
	}
	return h.base.RoundTrip(r)
}
