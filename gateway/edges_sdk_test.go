package gateway

import (
	"bytes"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"ishtar/s3api"
)

// TestCompleteRetriedThroughS3API: a part re-uploaded after later parts
// replaces the earlier body; a CompleteMultipartUpload retried after it
// succeeded answers 200 with the same ETag for as long as the object it
// made stands, and NoSuchUpload once it was overwritten or deleted.
func TestCompleteRetriedThroughS3API(t *testing.T) {
	tn := newNet(t, 5, nil)
	c := tn.s3Client()
	ctx := t.Context()
	b, key := aws.String("bkt"), aws.String("mp")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	put := func(n int32, body []byte) types.CompletedPart {
		t.Helper()
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: mu.UploadId,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("part %d: %v", n, err)
		}
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: up.ETag}
	}
	first := randBytes(s3api.MinPartSize, 60)
	p2, p3 := randBytes(s3api.MinPartSize+7, 61), randBytes(300, 62)
	put(1, first)
	done := []types.CompletedPart{{}, put(2, p2), put(3, p3)}
	p1 := randBytes(s3api.MinPartSize+1, 63)
	done[0] = put(1, p1) // after parts 2 and 3: the last one wins
	complete := func() (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key,
			UploadId: mu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	}
	out, err := complete()
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{p1, p2, p3}, nil)
	get := func() []byte {
		t.Helper()
		o, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Body.Close()
		got, err := io.ReadAll(o.Body)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if !bytes.Equal(get(), want) {
		t.Fatal("object is not the last upload of each part")
	}
	for i := range 2 {
		again, err := complete()
		if err != nil {
			t.Fatalf("retry %d: %v", i, err)
		}
		if aws.ToString(again.ETag) != aws.ToString(out.ETag) || aws.ToString(again.Key) != *key {
			t.Fatalf("retry %d: ETag %s key %s, want %s", i, aws.ToString(again.ETag), aws.ToString(again.Key), aws.ToString(out.ETag))
		}
	}
	if !bytes.Equal(get(), want) {
		t.Fatal("retried Complete changed the object")
	}
	// The retry must name this upload: another ID, or a list that is not
	// the one completed, is still refused.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key,
		UploadId: aws.String("00000000000000000000000000000000"), MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	wantAPICode(t, err, "NoSuchUpload")
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key,
		UploadId: mu.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done[:2]}})
	wantAPICode(t, err, "NoSuchUpload")
	// Once the object is replaced, the upload is gone for good.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: key, Body: bytes.NewReader([]byte("new"))}); err != nil {
		t.Fatal(err)
	}
	_, err = complete()
	wantAPICode(t, err, "NoSuchUpload")
	if got := get(); string(got) != "new" {
		t.Fatalf("object after retry of a replaced upload: %q", got)
	}
}
