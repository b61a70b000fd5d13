package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// multipartETag computes the S3 multipart ETag of parts independently of
// MultipartETag.
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

func TestSDKMultipart(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "mpu")
	key := "big/object é+.bin"
	src := opsRandBytes(MinPartSize+4096, 11)
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("source"), Body: bytes.NewReader(src)}); err != nil {
		t.Fatal(err)
	}
	create, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &b, Key: &key, ContentType: aws.String("application/x-big"), Metadata: map[string]string{"mtime": "42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := create.UploadId
	if aws.ToString(create.Key) != key || aws.ToString(create.Bucket) != b || aws.ToString(id) == "" {
		t.Fatalf("create %+v", create)
	}

	// Part 1 with Content-MD5 (as aws cli sends it), part 2 copied from a
	// range of another object, part 3 small and last.
	part1 := opsRandBytes(MinPartSize, 12)
	sum := md5.Sum(part1)
	up1, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: id, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(part1), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up1.ETag) != opsQuotedMD5(part1) || aws.ToString(up1.ChecksumCRC32) != crc32Base64(part1) {
		t.Fatalf("part 1 ETag %s CRC32 %s", aws.ToString(up1.ETag), aws.ToString(up1.ChecksumCRC32))
	}
	part2 := src[100 : 100+MinPartSize]
	up2, err := e.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &b, Key: &key, UploadId: id, PartNumber: aws.Int32(2),
		CopySource: aws.String(b + "/source"), CopySourceRange: aws.String(fmt.Sprintf("bytes=100-%d", 100+MinPartSize-1))})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(up2.CopyPartResult.ETag) != opsQuotedMD5(part2) {
		t.Fatalf("part 2 ETag %s", aws.ToString(up2.CopyPartResult.ETag))
	}
	part3 := []byte("the small last part")
	up3, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: id, PartNumber: aws.Int32(3), Body: bytes.NewReader(part3)})
	if err != nil {
		t.Fatal(err)
	}

	// ListParts, paginated by the SDK two at a time.
	var numbers []int32
	var sizes []int64
	lp := s3.NewListPartsPaginator(e.c, &s3.ListPartsInput{Bucket: &b, Key: &key, UploadId: id, MaxParts: aws.Int32(2)})
	for pages := 0; lp.HasMorePages(); pages++ {
		if pages > 3 {
			t.Fatal("ListParts paginator does not end")
		}
		out, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Parts {
			numbers, sizes = append(numbers, aws.ToInt32(p.PartNumber)), append(sizes, aws.ToInt64(p.Size))
		}
	}
	if !reflect.DeepEqual(numbers, []int32{1, 2, 3}) || !reflect.DeepEqual(sizes, []int64{MinPartSize, MinPartSize, int64(len(part3))}) {
		t.Fatalf("parts %v sizes %v", numbers, sizes)
	}

	// Completion errors leave the upload in place.
	completed := func(parts ...types.CompletedPart) *types.CompletedMultipartUpload {
		return &types.CompletedMultipartUpload{Parts: parts}
	}
	cp := func(n int32, etag *string) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: etag}
	}
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: id,
		MultipartUpload: completed(cp(1, up1.ETag), cp(2, aws.String(`"00000000000000000000000000000000"`)))})
	wantS3Code(t, err, "InvalidPart")
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: id,
		MultipartUpload: completed(cp(2, up2.CopyPartResult.ETag), cp(1, up1.ETag))})
	wantS3Code(t, err, "InvalidPartOrder")
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: id,
		MultipartUpload: completed(cp(3, up3.ETag), cp(4, up3.ETag))})
	wantS3Code(t, err, "InvalidPart")
	resp := e.raw(t, http.MethodPost, "/mpu/big/object%20%C3%A9%2B.bin?uploadId="+aws.ToString(id), []byte("<CompleteMultipartUpload></CompleteMultipartUpload>"), nil)
	if opsErrorCode(t, resp) != "MalformedXML" {
		t.Fatal("empty part list accepted")
	}
	if e.mem.has(b, key) {
		t.Fatal("object visible before a successful completion")
	}

	done, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: id,
		MultipartUpload: completed(cp(1, up1.ETag), cp(2, up2.CopyPartResult.ETag), cp(3, up3.ETag))})
	if err != nil {
		t.Fatal(err)
	}
	wantETag := multipartETag(part1, part2, part3)
	if aws.ToString(done.ETag) != wantETag || aws.ToString(done.Key) != key || !strings.HasSuffix(aws.ToString(done.Location), "/mpu/big/object%20%C3%A9+.bin") {
		t.Fatalf("complete %+v, want ETag %s", done, wantETag)
	}
	whole := append(append(append([]byte{}, part1...), part2...), part3...)
	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, get.Body); !bytes.Equal(got, whole) || aws.ToString(get.ETag) != wantETag ||
		aws.ToString(get.ContentType) != "application/x-big" || get.Metadata["mtime"] != "42" {
		t.Fatalf("assembled object: %d bytes, ETag %s, type %s", len(got), aws.ToString(get.ETag), aws.ToString(get.ContentType))
	}

	// partNumber reads one part, with the part count.
	for n, want := range map[int32][]byte{1: part1, 2: part2, 3: part3} {
		get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key, PartNumber: aws.Int32(n)})
		if err != nil {
			t.Fatal(err)
		}
		if got := opsReadAll(t, get.Body); !bytes.Equal(got, want) || aws.ToInt32(get.PartsCount) != 3 {
			t.Fatalf("part %d: %d bytes, parts count %d", n, len(got), aws.ToInt32(get.PartsCount))
		}
		head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key, PartNumber: aws.Int32(n)})
		if err != nil || aws.ToInt64(head.ContentLength) != int64(len(want)) || aws.ToInt32(head.PartsCount) != 3 {
			t.Fatalf("head part %d: %+v %v", n, head, err)
		}
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key, PartNumber: aws.Int32(4)})
	wantS3Code(t, err, "InvalidPart")
	// A single-PUT object has one part.
	one, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("source"), PartNumber: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, one.Body); !bytes.Equal(got, src) || one.PartsCount != nil {
		t.Fatalf("part 1 of a single object: %d bytes, count %v", len(got), one.PartsCount)
	}

	// The upload is gone once completed.
	_, err = e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: &b, Key: &key, UploadId: id})
	wantS3Code(t, err, "NoSuchUpload")
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: id, PartNumber: aws.Int32(4), Body: bytes.NewReader(part3)})
	wantS3Code(t, err, "NoSuchUpload")
}

func TestSDKMultipartErrors(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "mperr")
	create, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	id := create.UploadId
	small := []byte("too small to be a middle part")
	var etags []*string
	for n := int32(1); n <= 2; n++ {
		up, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(small)})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, up.ETag)
	}
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: etags[0]}, {PartNumber: aws.Int32(2), ETag: etags[1]}}}})
	wantS3Code(t, err, "EntityTooSmall")

	// Content-MD5 that does not match the part: BadDigest, nothing stored.
	wrong := md5.Sum([]byte("something else"))
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: id, PartNumber: aws.Int32(3),
		Body: bytes.NewReader(small), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(wrong[:]))})
	wantS3Code(t, err, "BadDigest")
	parts, err := e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: &b, Key: aws.String("k"), UploadId: id})
	if err != nil || len(parts.Parts) != 2 {
		t.Fatalf("parts after BadDigest: %+v %v", parts, err)
	}
	for _, n := range []int32{0, 10001} {
		_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: id, PartNumber: aws.Int32(n), Body: bytes.NewReader(small)})
		wantS3Code(t, err, "InvalidArgument")
	}
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("other-key"), UploadId: id, PartNumber: aws.Int32(1), Body: bytes.NewReader(small)})
	wantS3Code(t, err, "NoSuchUpload")
	_, err = e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("k"), UploadId: aws.String("bogus"), PartNumber: aws.Int32(1), Body: bytes.NewReader(small)})
	wantS3Code(t, err, "NoSuchUpload")

	if _, err := e.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: id})
	wantS3Code(t, err, "NoSuchUpload")
	_, err = e.c.ListParts(ctx, &s3.ListPartsInput{Bucket: &b, Key: aws.String("k"), UploadId: id})
	wantS3Code(t, err, "NoSuchUpload")
	_, err = e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: aws.String("k"), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: etags[0]}}}})
	wantS3Code(t, err, "NoSuchUpload")
	if e.mem.has(b, "k") {
		t.Fatal("aborted upload produced an object")
	}
}

func TestSDKListMultipartUploads(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "uploads")
	type upload struct{ key, id string }
	var all []upload
	for _, k := range []string{"logs/a", "logs/b", "photos/x", "photos/x", "readme"} {
		out, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, upload{k, aws.ToString(out.UploadId)})
	}
	var got []upload
	p := s3.NewListMultipartUploadsPaginator(e.c, &s3.ListMultipartUploadsInput{Bucket: &b, MaxUploads: aws.Int32(2)})
	for pages := 0; p.HasMorePages(); pages++ {
		if pages > 5 {
			t.Fatal("ListMultipartUploads paginator does not end")
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			got = append(got, upload{aws.ToString(u.Key), aws.ToString(u.UploadId)})
			if u.Initiated == nil || u.Initiator == nil || u.StorageClass != types.StorageClassStandard {
				t.Fatalf("upload entry %+v", u)
			}
		}
	}
	if !reflect.DeepEqual(got, all) { // IDs ascend with creation, as keys do here
		t.Fatalf("uploads %v, want %v", got, all)
	}
	out, err := e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b, Prefix: aws.String("photos/")})
	if err != nil || len(out.Uploads) != 2 || aws.ToString(out.Prefix) != "photos/" {
		t.Fatalf("prefix: %+v %v", out, err)
	}
	out, err = e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b, Delimiter: aws.String("/")})
	if err != nil || len(out.Uploads) != 1 || len(out.CommonPrefixes) != 2 || aws.ToString(out.Uploads[0].Key) != "readme" {
		t.Fatalf("delimiter: %+v %v", out, err)
	}
	out, err = e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b, KeyMarker: aws.String("photos/x"), UploadIdMarker: aws.String(all[2].id)})
	if err != nil || len(out.Uploads) != 2 || aws.ToString(out.Uploads[0].UploadId) != all[3].id {
		t.Fatalf("markers: %+v %v", out, err)
	}
	_, err = e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b, MaxUploads: aws.Int32(-2)})
	wantS3Code(t, err, "InvalidArgument")
	_, err = e.c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("absent")})
	wantS3Code(t, err, "NoSuchBucket")
}
