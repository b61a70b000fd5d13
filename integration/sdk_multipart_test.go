package integration

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func testCopy(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	srcKey := sizeKey(16*MiB + 1)
	src := s.stored(t, srcKey)
	out, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String("copy/a"), CopySource: aws.String(s.bucket + "/" + srcKey),
	})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got := aws.ToString(out.CopyObjectResult.ETag); got != quoted(md5hex(src)) {
		t.Fatalf("copy ETag %s", got)
	}
	got, _ := getObject(t, c, s.bucket, "copy/a", "")
	sameBytes(t, "copy", got, src)

	other := createBucket(t, c, "sdk-copies")
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(other), Key: aws.String("b"), CopySource: aws.String(s.bucket + "/" + srcKey),
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       aws.String("application/x-copied"),
		Metadata:          map[string]string{"copied": "yes"},
	})
	if err != nil {
		t.Fatalf("copy to another bucket with REPLACE: %v", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(other), Key: aws.String("b")})
	if err != nil {
		t.Fatalf("head copy: %v", err)
	}
	if aws.ToString(head.ContentType) != "application/x-copied" || head.Metadata["copied"] != "yes" ||
		aws.ToInt64(head.ContentLength) != int64(len(src)) {
		t.Fatalf("copy head: type %q meta %v length %d", aws.ToString(head.ContentType), head.Metadata, aws.ToInt64(head.ContentLength))
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String("copy/c"), CopySource: aws.String(s.bucket + "/" + srcKey),
		CopySourceIfMatch: aws.String(`"00000000000000000000000000000000"`),
	})
	wantCode(t, err, "PreconditionFailed")

	testCopyMovesNoBytes(t, s)
}

// testCopyMovesNoBytes checks that a copy adds no shards and that the
// copy's shards outlive its source.
func testCopyMovesNoBytes(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	data := randBytes(5*MiB, 505)
	before := s.n.Settle(t)
	putObject(t, c, s.bucket, "copy/src", data)
	withSrc := s.n.StoredShards(t)
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String("copy/dst"), CopySource: aws.String(s.bucket + "/copy/src"),
	})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got := s.n.StoredShards(t); got != withSrc {
		t.Fatalf("a copy changed the stored shards from %+v to %+v", withSrc, got)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("copy/src")}); err != nil {
		t.Fatalf("delete source: %v", err)
	}
	if got := s.n.Settle(t); got != withSrc {
		t.Fatalf("deleting the source of a copy changed the stored shards from %+v to %+v", withSrc, got)
	}
	got, _ := getObject(t, c, s.bucket, "copy/dst", "")
	sameBytes(t, "copy after its source was deleted", got, data)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String("copy/dst")}); err != nil {
		t.Fatalf("delete copy: %v", err)
	}
	if got := s.n.Settle(t); got != before {
		t.Fatalf("after deleting source and copy the stores hold %+v, before %+v", got, before)
	}
}

// multipartETag is S3's ETag of a multipart object: the MD5 of the
// parts' binary MD5s, a dash and the number of parts.
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		sum := md5.Sum(p)
		sums = append(sums, sum[:]...)
	}
	return fmt.Sprintf(`"%s-%d"`, md5hex(sums), len(parts))
}

func uploadPart(t *testing.T, c *s3.Client, bucket, key, id string, n int32, data []byte) types.CompletedPart {
	t.Helper()
	out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
		PartNumber: aws.Int32(n), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("upload part %d: %v", n, err)
	}
	if aws.ToString(out.ETag) != quoted(md5hex(data)) {
		t.Fatalf("part %d ETag %s", n, aws.ToString(out.ETag))
	}
	return types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag}
}

func createUpload(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("application/x-parts"),
		Metadata: map[string]string{"origin": "multipart"},
	})
	if err != nil {
		t.Fatalf("create multipart upload: %v", err)
	}
	return aws.ToString(out.UploadId)
}

func testMultipart(t *testing.T, s *sdkSuite) {
	ctx, c, b := t.Context(), s.c, s.bucket
	seg := s.stored(t, sizeKey(16*MiB+1))
	const key = "mp/object"
	id := createUpload(t, c, b, key)
	p1 := randBytes(5*MiB, 601)
	p2 := randBytes(17*MiB, 602) // two segments in one part
	uploadPart(t, c, b, key, id, 1, randBytes(5*MiB, 600))
	parts := []types.CompletedPart{uploadPart(t, c, b, key, id, 1, p1)} // replaces the first part 1
	parts = append(parts, uploadPart(t, c, b, key, id, 2, p2))
	// Part 3 copies 17 bytes across the segment boundary of another object.
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String(b), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(3),
		CopySource: aws.String(b + "/" + sizeKey(16*MiB+1)), CopySourceRange: aws.String("bytes=16777200-16777216"),
	})
	if err != nil {
		t.Fatalf("upload part copy: %v", err)
	}
	p3 := seg[16777200:]
	parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(3), ETag: cp.CopyPartResult.ETag})

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String(key), UploadId: aws.String(id)})
	if err != nil {
		t.Fatalf("list parts: %v", err)
	}
	for i, want := range [][]byte{p1, p2, p3} {
		if i >= len(lp.Parts) || aws.ToInt64(lp.Parts[i].Size) != int64(len(want)) || aws.ToString(lp.Parts[i].ETag) != quoted(md5hex(want)) {
			t.Fatalf("list parts: %d parts, part %d wrong (want size %d)", len(lp.Parts), i+1, len(want))
		}
	}
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b), Prefix: aws.String("mp/")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].UploadId) != id {
		t.Fatalf("list uploads: %v, %d uploads", err, len(lu.Uploads))
	}

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b), Key: aws.String(key), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatalf("complete: %v", err)
	}
	if want := multipartETag(p1, p2, p3); aws.ToString(done.ETag) != want {
		t.Fatalf("multipart ETag %s, want %s", aws.ToString(done.ETag), want)
	}
	whole := bytes.Join([][]byte{p1, p2, p3}, nil)
	got, out := getObject(t, c, b, key, "")
	sameBytes(t, "multipart object", got, whole)
	if aws.ToString(out.ContentType) != "application/x-parts" || out.Metadata["origin"] != "multipart" {
		t.Fatalf("multipart metadata: %q %v", aws.ToString(out.ContentType), out.Metadata)
	}
	for _, r := range [][2]int{{5*MiB - 5, 5*MiB + 5}, {5*MiB + 16*MiB - 1, len(whole) - 1}, {len(whole) - 20, len(whole) - 1}} {
		got, _ := getObject(t, c, b, key, fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		sameBytes(t, fmt.Sprint("multipart range ", r), got, whole[r[0]:r[1]+1])
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key), PartNumber: aws.Int32(2)})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(p2)) || aws.ToInt32(head.PartsCount) != 3 {
		t.Fatalf("head part 2: %v, length %d, parts %d", err, aws.ToInt64(head.ContentLength), aws.ToInt32(head.PartsCount))
	}
	pg, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatalf("get part 2: %v", err)
	}
	got = readAll(t, pg.Body)
	sameBytes(t, "part 2", got, p2)
	lu, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b), Prefix: aws.String("mp/")})
	if err != nil || len(lu.Uploads) != 0 {
		t.Fatalf("uploads after completion: %v, %d", err, len(lu.Uploads))
	}
	testAbort(t, s)
}

// testAbort checks that an aborted upload is gone with its shards.
func testAbort(t *testing.T, s *sdkSuite) {
	ctx, c, b := t.Context(), s.c, s.bucket
	before := s.n.Settle(t)
	id := createUpload(t, c, b, "mp/aborted")
	uploadPart(t, c, b, "mp/aborted", id, 1, randBytes(5*MiB, 610))
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(b), Key: aws.String("mp/aborted"), UploadId: aws.String(id),
	}); err != nil {
		t.Fatalf("abort: %v", err)
	}
	_, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("mp/aborted"), UploadId: aws.String(id)})
	wantCode(t, err, "NoSuchUpload")
	if got := s.n.Settle(t); got != before {
		t.Fatalf("after the abort the stores hold %+v, before the upload %+v", got, before)
	}
}

func testMultipartErrors(t *testing.T, s *sdkSuite) {
	ctx, c, b := t.Context(), s.c, s.bucket
	const key = "mp/errors"
	id := createUpload(t, c, b, key)
	small := uploadPart(t, c, b, key, id, 1, randBytes(1*MiB, 620))
	last := uploadPart(t, c, b, key, id, 2, randBytes(10, 621))
	complete := func(parts ...types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(b), Key: aws.String(key), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	}
	wantCode(t, complete(small, last), "EntityTooSmall")
	wrong := types.CompletedPart{PartNumber: aws.Int32(2), ETag: aws.String(quoted(hex.EncodeToString(make([]byte, 16))))}
	wantCode(t, complete(small, wrong), "InvalidPart")
	wantCode(t, complete(last, small), "InvalidPartOrder")
	_, err := c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(b), Key: aws.String(key), UploadId: aws.String("no-such-upload"),
		PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("x")),
	})
	wantCode(t, err, "NoSuchUpload")
	// The upload survives failed completions; a good one still works.
	if err := complete(last); err != nil {
		t.Fatalf("complete with the last part only: %v", err)
	}
}
