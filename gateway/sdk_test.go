package gateway

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"ishtar/s3api"
)

// TestThroughS3API drives the gateway with aws-sdk-go-v2 (its defaults:
// aws-chunked bodies with CRC32 trailers over TLS) through s3api's
// handler on a loopback listener.
func TestThroughS3API(t *testing.T) {
	tn := newNet(t, 5, nil)
	c := tn.s3Client()
	ctx := t.Context()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	seg := int(tn.g.cfg.SegmentSize)
	objs := map[string][]byte{"empty": {}, "one": {7}, "small": randBytes(4<<10, 50), "multi": randBytes(3*seg+5, 51)}
	for k, data := range objs {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k),
			Body: bytes.NewReader(data), ContentType: aws.String("app/x")}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for k, data := range objs {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, data) || aws.ToString(out.ETag) != `"`+md5hex(data)+`"` ||
			aws.ToString(out.ContentType) != "app/x" {
			t.Fatalf("get %s: %d bytes, etag %s, %v", k, len(got), aws.ToString(out.ETag), err)
		}
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("multi"), Range: aws.String("bytes=262100-524300")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, objs["multi"][262100:524301]) {
		t.Fatal("ranged GET across segments: wrong bytes")
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"),
		CopySource: aws.String("bkt/multi")}); err != nil {
		t.Fatal(err)
	}
	// Multipart: two parts, completed.
	mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{randBytes(s3api.MinPartSize, 52), randBytes(100, 53)}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("bkt"), Key: aws.String("mp"), UploadId: mu.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("mp"),
		UploadId: mu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	if got := tn.get("bkt", "mp"); !bytes.Equal(got, append(append([]byte(nil), parts[0]...), parts[1]...)) {
		t.Fatal("multipart object wrong")
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if want := []string{"copy", "empty", "mp", "multi", "one", "small"}; !equalStrings(keys, want) {
		t.Fatalf("listed %q", keys)
	}
	// Three peers away: a 503 ServiceUnavailable, never bytes.
	for _, f := range tn.faults[:3] {
		f.set(offline)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("small")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("GET with three peers away: %v", err)
	}
}

// s3Client serves the gateway through s3api's handler on a loopback TLS
// listener and returns an aws-sdk-go-v2 client of it.
func (tn *testNet) s3Client() *s3.Client {
	const ak, sk = "AKIAGATEWAYTEST00001", "gateway/test/secret/0000000000000000000"
	h := s3api.NewHandler(tn.g, s3api.StaticCredentials{ak: sk}, s3api.Config{}, slog.New(slog.DiscardHandler))
	srv := httptest.NewTLSServer(h)
	tn.t.Cleanup(srv.Close)
	return s3.NewFromConfig(aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
		HTTPClient: srv.Client(), RetryMaxAttempts: 1,
	}, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true })
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
