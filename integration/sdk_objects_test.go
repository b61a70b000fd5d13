package integration

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func testMetadata(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	data := randBytes(70*KiB, 77)
	key := "meta/é + ü/../a b%2F?x=1"
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ContentType:        aws.String("text/x-ishtar"),
		CacheControl:       aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="a.txt"`),
		ContentEncoding:    aws.String("identity"),
		ContentLanguage:    aws.String("fr"),
		Metadata:           map[string]string{"color": "blue", "mtime": "1700000000.5"},
	})
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	for _, f := range []struct{ name, got, want string }{
		{"Content-Type", aws.ToString(head.ContentType), "text/x-ishtar"},
		{"Cache-Control", aws.ToString(head.CacheControl), "max-age=60"},
		{"Content-Disposition", aws.ToString(head.ContentDisposition), `attachment; filename="a.txt"`},
		{"Content-Encoding", aws.ToString(head.ContentEncoding), "identity"},
		{"Content-Language", aws.ToString(head.ContentLanguage), "fr"},
		{"x-amz-meta-color", head.Metadata["color"], "blue"},
		{"x-amz-meta-mtime", head.Metadata["mtime"], "1700000000.5"},
	} {
		if f.got != f.want {
			t.Errorf("%s: %q, want %q", f.name, f.got, f.want)
		}
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key),
		ResponseContentType: aws.String("application/x-override"),
	})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, key, got, data)
	if aws.ToString(out.ContentType) != "application/x-override" {
		t.Fatalf("response-content-type: %q", aws.ToString(out.ContentType))
	}
}

func testConditional(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	data := s.stored(t, sizeKey(4*KiB))
	etag := quoted(md5hex(data))
	in := func(mod func(*s3.GetObjectInput)) *s3.GetObjectInput {
		i := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(sizeKey(4 * KiB))}
		mod(i)
		return i
	}
	out, err := c.GetObject(ctx, in(func(i *s3.GetObjectInput) { i.IfMatch = aws.String(etag) }))
	if err != nil {
		t.Fatalf("If-Match current ETag: %v", err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "If-Match", got, data)

	_, err = c.GetObject(ctx, in(func(i *s3.GetObjectInput) { i.IfMatch = aws.String(`"0123"`) }))
	wantCode(t, err, "PreconditionFailed")
	_, err = c.GetObject(ctx, in(func(i *s3.GetObjectInput) { i.IfNoneMatch = aws.String(etag) }))
	wantStatus(t, err, http.StatusNotModified)
	_, err = c.GetObject(ctx, in(func(i *s3.GetObjectInput) { i.IfModifiedSince = aws.Time(time.Now().Add(time.Hour)) }))
	wantStatus(t, err, http.StatusNotModified)
	_, err = c.GetObject(ctx, in(func(i *s3.GetObjectInput) {
		i.IfUnmodifiedSince = aws.Time(time.Now().Add(-24 * time.Hour))
	}))
	wantCode(t, err, "PreconditionFailed")
}

func testOverwrite(t *testing.T, s *sdkSuite) {
	first := randBytes(17*MiB, 101)
	second := randBytes(3*KiB, 102)
	putObject(t, s.c, s.bucket, "overwrite", first)
	// A read started before the overwrite keeps reading the old version.
	old, err := s.c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("overwrite")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer old.Body.Close()
	putObject(t, s.c, s.bucket, "overwrite", second)
	got, out := getObject(t, s.c, s.bucket, "overwrite", "")
	sameBytes(t, "overwritten", got, second)
	if aws.ToInt64(out.ContentLength) != int64(len(second)) {
		t.Fatalf("length %d", aws.ToInt64(out.ContentLength))
	}
	b, err := io.ReadAll(old.Body)
	if err != nil {
		t.Fatalf("read of the version before the overwrite: %v", err)
	}
	sameBytes(t, "version before the overwrite", b, first)
}

func testDelete(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	putObject(t, c, s.bucket, "del/one", []byte("one"))
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("del/one")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("del/one")})
	wantCode(t, err, "NoSuchKey")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("del/one")})
	wantStatus(t, err, http.StatusNotFound)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("del/one")}); err != nil {
		t.Fatalf("delete of an absent key: %v", err)
	}

	var ids []types.ObjectIdentifier
	for _, k := range []string{"del/a", "del/b", "del/c"} {
		putObject(t, c, s.bucket, k, []byte(k))
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	ids = append(ids, types.ObjectIdentifier{Key: aws.String("del/absent")})
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids},
	})
	if err != nil {
		t.Fatalf("delete objects: %v", err)
	}
	if len(out.Deleted) != 4 || len(out.Errors) != 0 {
		t.Fatalf("deleted %d, errors %v; want 4 deleted", len(out.Deleted), out.Errors)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String("del/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(lo.Contents) != 0 {
		t.Fatalf("%d objects left under del/", len(lo.Contents))
	}
}

func testPresigned(t *testing.T, s *sdkSuite) {
	ctx := t.Context()
	pc := s3.NewPresignClient(s.c)
	data := randBytes(300*KiB, 303)
	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("presigned")},
		s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, s.n.HTTPClient(), put.Method, put.URL, put.SignedHeader, data)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("presigned")},
		s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp = do(t, s.n.HTTPClient(), get.Method, get.URL, get.SignedHeader, nil)
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned GET: %d %v", resp.StatusCode, err)
	}
	sameBytes(t, "presigned GET", got, data)
}

func do(t *testing.T, hc *http.Client, method, url string, hdr http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k != "Host" {
			req.Header[k] = v
		}
	}
	req.ContentLength = int64(len(body))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// testRelease checks that the shards of a deleted object leave the peers:
// the stores return to what they held before the object was stored.
func testRelease(t *testing.T, s *sdkSuite) {
	before := s.n.Settle(t)
	data := randBytes(20*MiB, 404) // two segments: ten shards
	putObject(t, s.c, s.bucket, "release", data)
	if during := s.n.StoredShards(t); during.Count != before.Count+2*s.n.Config.N {
		t.Fatalf("stores hold %d shards after a two-segment upload, want %d", during.Count, before.Count+2*s.n.Config.N)
	}
	if _, err := s.c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("release")}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if after := s.n.Settle(t); after != before {
		t.Fatalf("after the delete the stores hold %+v, before the upload %+v", after, before)
	}
}

// testInline checks that objects up to gateway.inline_max (4 KiB by
// default) leave no shard on any node, yet read, range, copy and list
// like any object, and that one byte more is stored as shards.
func testInline(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	before := s.n.Settle(t)
	small := map[string][]byte{"inline/empty": {}, "inline/1": {42}, "inline/4096": randBytes(4*KiB, 707)}
	for k, data := range small {
		putObject(t, c, s.bucket, k, data)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("inline/copy"),
		CopySource: aws.String(s.bucket + "/inline/4096")}); err != nil {
		t.Fatalf("copy: %v", err)
	}
	small["inline/copy"] = small["inline/4096"]
	if got := s.n.Settle(t); got != before {
		t.Fatalf("inline objects changed the stored shards from %+v to %+v", before, got)
	}
	for k, data := range small {
		got, _ := getObject(t, c, s.bucket, k, "")
		sameBytes(t, k, got, data)
	}
	got, out := getObject(t, c, s.bucket, "inline/4096", "bytes=-10")
	sameBytes(t, "suffix range", got, small["inline/4096"][4*KiB-10:])
	if aws.ToString(out.ContentRange) != "bytes 4086-4095/4096" {
		t.Fatalf("Content-Range %q", aws.ToString(out.ContentRange))
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("inline/1"), Range: aws.String("bytes=1-")})
	wantCode(t, err, "InvalidRange")
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String("inline/")})
	if err != nil || len(lo.Contents) != len(small) {
		t.Fatalf("list: %v, %v", lo, err)
	}
	for _, o := range lo.Contents {
		data := small[aws.ToString(o.Key)]
		if aws.ToInt64(o.Size) != int64(len(data)) || aws.ToString(o.ETag) != quoted(md5hex(data)) {
			t.Fatalf("listed %s: %d bytes, ETag %s", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}

	over := randBytes(4*KiB+1, 708)
	putObject(t, c, s.bucket, "inline/4097", over)
	if got := s.n.Settle(t); got.Count != before.Count+s.n.Config.N {
		t.Fatalf("an object of 4 KiB + 1 left %d shards, want %d", got.Count-before.Count, s.n.Config.N)
	}
	got, _ = getObject(t, c, s.bucket, "inline/4097", "")
	sameBytes(t, "inline/4097", got, over)

	var ids []types.ObjectIdentifier
	for _, k := range []string{"inline/empty", "inline/1", "inline/4096", "inline/copy", "inline/4097"} {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids}}); err != nil {
		t.Fatalf("delete objects: %v", err)
	}
	if got := s.n.Settle(t); got != before {
		t.Fatalf("after the deletes the stores hold %+v, before %+v", got, before)
	}
}
