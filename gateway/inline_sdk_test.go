package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"ishtar/meta"
)

// TestInlineThroughS3API drives inline objects with aws-sdk-go-v2 at its
// defaults (aws-chunked bodies with CRC32 trailers, over TLS) through
// s3api's handler: PUT with checksums, GET whole, by range and under
// conditions, response overrides, HEAD, listings v1 and v2, CopyObject
// and DeleteObjects, all without a peer call; one byte more than
// InlineMax goes to peers.
func TestInlineThroughS3API(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	c := tn.s3Client()
	ctx := t.Context()
	tn.bucket("inl")
	bkt := aws.String("inl")
	put := func(key string, data []byte, mod func(*s3.PutObjectInput)) {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: bkt, Key: aws.String(key), Body: bytes.NewReader(data)}
		if mod != nil {
			mod(in)
		}
		out, err := c.PutObject(ctx, in)
		if err != nil || aws.ToString(out.ETag) != `"`+md5hex(data)+`"` {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	get := func(key string, mod func(*s3.GetObjectInput)) ([]byte, *s3.GetObjectOutput, error) {
		t.Helper()
		in := &s3.GetObjectInput{Bucket: bkt, Key: aws.String(key)}
		if mod != nil {
			mod(in)
		}
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return nil, nil, err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return b, out, err
	}

	over := randBytes(DefaultInlineMax+1, 61)
	put("over", over, nil)
	tn.wantInline("inl", "over", false)
	before := tn.peerCalls()

	data := randBytes(DefaultInlineMax, 60)
	small := []byte("a few bytes with a SHA-256")
	put("k", data, func(in *s3.PutObjectInput) {
		in.ContentType, in.CacheControl = aws.String("text/x-small"), aws.String("max-age=9")
		in.Metadata = map[string]string{"color": "blue"}
	})
	put("sha", small, func(in *s3.PutObjectInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256 })
	put("empty", nil, nil)
	for _, k := range []string{"k", "sha", "empty"} {
		tn.wantInline("inl", k, true)
	}

	size := len(data)
	for _, r := range []struct {
		rng         string
		first, last int
	}{
		{"", 0, size - 1},
		{"bytes=0-0", 0, 0},
		{fmt.Sprintf("bytes=%d-%d", size-1, size-1), size - 1, size - 1},
		{fmt.Sprintf("bytes=%d-", size-1), size - 1, size - 1},
		{"bytes=-1", size - 1, size - 1},
		{"bytes=-100", size - 100, size - 1},
		{fmt.Sprintf("bytes=-%d", size+5000), 0, size - 1},
		{"bytes=100-99999", 100, size - 1},
		{"bytes=1000-2000", 1000, 2000},
	} {
		got, out, err := get("k", func(in *s3.GetObjectInput) {
			if r.rng != "" {
				in.Range = aws.String(r.rng)
			}
		})
		if err != nil || !bytes.Equal(got, data[r.first:r.last+1]) {
			t.Fatalf("GET %q: %d bytes, %v", r.rng, len(got), err)
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, size); r.rng != "" && aws.ToString(out.ContentRange) != want {
			t.Fatalf("GET %q: Content-Range %q, want %q", r.rng, aws.ToString(out.ContentRange), want)
		}
	}
	for key, rng := range map[string]string{"k": fmt.Sprintf("bytes=%d-", size), "empty": "bytes=0-0", "sha": "bytes=1000-1001"} {
		_, _, err := get(key, func(in *s3.GetObjectInput) { in.Range = aws.String(rng) })
		wantAPICode(t, err, "InvalidRange")
	}

	etag := `"` + md5hex(data) + `"`
	if got, _, err := get("k", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) }); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("If-Match: %v", err)
	}
	_, _, err := get("k", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) })
	wantHTTP(t, err, http.StatusNotModified)
	_, _, err = get("k", func(in *s3.GetObjectInput) { in.IfModifiedSince = aws.Time(time.Now().Add(time.Hour)) })
	wantHTTP(t, err, http.StatusNotModified)
	_, _, err = get("k", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(`"0123"`) })
	wantAPICode(t, err, "PreconditionFailed")
	_, _, err = get("k", func(in *s3.GetObjectInput) { in.IfUnmodifiedSince = aws.Time(time.Now().Add(-time.Hour)) })
	wantAPICode(t, err, "PreconditionFailed")

	got, out, err := get("k", func(in *s3.GetObjectInput) {
		in.ResponseContentType, in.ResponseCacheControl = aws.String("app/override"), aws.String("no-store")
		in.ResponseContentDisposition = aws.String("attachment")
	})
	if err != nil || !bytes.Equal(got, data) || aws.ToString(out.ContentType) != "app/override" ||
		aws.ToString(out.CacheControl) != "no-store" || aws.ToString(out.ContentDisposition) != "attachment" {
		t.Fatalf("response overrides: %+v, %v", out, err)
	}
	sum := sha256.Sum256(small)
	got, out, err = get("sha", func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
	if err != nil || !bytes.Equal(got, small) || aws.ToString(out.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("checksum mode: %q, %v", aws.ToString(out.ChecksumSHA256), err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bkt, Key: aws.String("k")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(size) || aws.ToString(head.ETag) != etag ||
		aws.ToString(head.ContentType) != "text/x-small" || aws.ToString(head.CacheControl) != "max-age=9" ||
		head.Metadata["color"] != "blue" {
		t.Fatalf("HEAD: %+v, %v", head, err)
	}

	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: bkt, Key: aws.String("k-copy"), CopySource: aws.String("inl/k")}); err != nil {
		t.Fatal(err)
	}
	tn.wantInline("inl", "k-copy", true)
	if got, _, err := get("k-copy", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy: %v", err)
	}

	want := map[string][]byte{"empty": nil, "k": data, "k-copy": data, "over": over, "sha": small}
	l2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bkt})
	if err != nil {
		t.Fatal(err)
	}
	l1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: bkt})
	if err != nil {
		t.Fatal(err)
	}
	for v, objs := range [][]types.Object{l1.Contents, l2.Contents} {
		if len(objs) != len(want) {
			t.Fatalf("list v%d: %d objects", 2-v, len(objs))
		}
		for _, o := range objs {
			d := want[aws.ToString(o.Key)]
			if aws.ToInt64(o.Size) != int64(len(d)) || aws.ToString(o.ETag) != `"`+md5hex(d)+`"` {
				t.Fatalf("list v%d: %s is %d bytes, ETag %s", 2-v, aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag))
			}
		}
	}

	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: bkt, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k")}, {Key: aws.String("sha")}, {Key: aws.String("empty")}, {Key: aws.String("k-copy")}}}})
	if err != nil || len(del.Deleted) != 4 || len(del.Errors) != 0 {
		t.Fatalf("DeleteObjects: %+v, %v", del, err)
	}
	_, _, err = get("k", nil)
	wantAPICode(t, err, "NoSuchKey")
	if n := tn.peerCalls() - before; n != 0 {
		t.Fatalf("inline objects made %d peer calls", n)
	}
	tn.wantCounters(1, int64(len(over)), tn.g.expansion(tn.g.cfg.Params, int64(len(over))), 0)
	if got, _, err := get("over", nil); err != nil || !bytes.Equal(got, over) {
		t.Fatalf("the object over the limit: %v", err)
	}
}

// TestInlineCorruptThroughS3API: a damaged inline object answers 500
// InternalError, not a byte.
func TestInlineCorruptThroughS3API(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	tn.bucket("inl")
	tn.put("inl", "k", randBytes(1000, 62))
	o := tn.object("inl", "k")
	o.Inline.Sealed[3] ^= 4
	if err := tn.db.Update(func(b *meta.Batch) error { return b.PutObject(o) }); err != nil {
		t.Fatal(err)
	}
	c := tn.s3Client()
	_, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("inl"), Key: aws.String("k")})
	wantAPICode(t, err, "InternalError")
	_, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String("inl"), Key: aws.String("k"), Range: aws.String("bytes=999-")})
	wantAPICode(t, err, "InternalError")
}

func wantAPICode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error %v, want S3 %s", err, code)
	}
}

func wantHTTP(t *testing.T, err error, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("error %v, want HTTP status %d", err, status)
	}
}
