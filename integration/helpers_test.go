package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

const (
	KiB = 1 << 10
	MiB = 1 << 20
)

// randBytes returns n pseudo-random bytes determined by seed.
func randBytes(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b) // never fails
	return b
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func quoted(s string) string { return `"` + s + `"` }

// sameBytes fails the test unless got equals want, naming the first
// differing offset rather than printing megabytes.
func sameBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	t.Fatalf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

func createBucket(t testing.TB, c *s3.Client, name string) string {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

func putObject(t testing.TB, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("put %s/%s (%d bytes): %v", bucket, key, len(data), err)
	}
	if got, want := aws.ToString(out.ETag), quoted(md5hex(data)); got != want {
		t.Fatalf("put %s/%s: ETag %s, want %s", bucket, key, got, want)
	}
	return out
}

// getObject reads a whole object, or one range of it when rng is set.
func getObject(t testing.TB, c *s3.Client, bucket, key, rng string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := c.GetObject(t.Context(), in)
	if err != nil {
		t.Fatalf("get %s/%s %s: %v", bucket, key, rng, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s/%s %s: %v", bucket, key, rng, err)
	}
	return b, out
}

// wantCode fails unless err is an S3 error with one of the codes.
func wantCode(t testing.TB, err error, codes ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v, want S3 error %v", err, codes)
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return
		}
	}
	t.Fatalf("error code %s (%v), want one of %v", ae.ErrorCode(), err, codes)
}

// wantStatus fails unless err is an HTTP response with status.
func wantStatus(t testing.TB, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want HTTP status %d", err, status)
	}
	if re.HTTPStatusCode() != status {
		t.Fatalf("status %d (%v), want %d", re.HTTPStatusCode(), err, status)
	}
}

func readAll(t testing.TB, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}
