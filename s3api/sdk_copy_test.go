package s3api

import (
	"bytes"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestSDKCopyObject(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	src := e.bucket(t, "src")
	dst := e.bucket(t, "dst")
	data := opsRandBytes(4096, 3)
	srcKey := "dir/source file+é"
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &src, Key: &srcKey, Body: bytes.NewReader(data),
		ContentType: aws.String("image/png"), Metadata: map[string]string{"origin": "camera"},
	})
	if err != nil {
		t.Fatal(err)
	}
	escaped := url.PathEscape(src) + "/" + url.PathEscape("dir") + "/" + url.PathEscape("source file+é")

	// COPY keeps the metadata; the source may start with '/'.
	for i, source := range []string{escaped, "/" + escaped} {
		key := "copy" + string(rune('0'+i))
		out, err := e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: &key, CopySource: aws.String(source)})
		if err != nil {
			t.Fatalf("copy from %q: %v", source, err)
		}
		if aws.ToString(out.CopyObjectResult.ETag) != opsQuotedMD5(data) || out.CopyObjectResult.LastModified == nil {
			t.Fatalf("copy result %+v", out.CopyObjectResult)
		}
		get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &dst, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		if got := opsReadAll(t, get.Body); !bytes.Equal(got, data) || aws.ToString(get.ContentType) != "image/png" || get.Metadata["origin"] != "camera" {
			t.Fatalf("copy %s: %d bytes, type %q, metadata %v", key, len(got), aws.ToString(get.ContentType), get.Metadata)
		}
	}
	// REPLACE sets new metadata.
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &dst, Key: aws.String("replaced"), CopySource: aws.String(escaped),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain"),
		Metadata: map[string]string{"new": "yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &dst, Key: aws.String("replaced")})
	if err != nil || aws.ToString(head.ContentType) != "text/plain" || len(head.Metadata) != 1 || head.Metadata["new"] != "yes" {
		t.Fatalf("replaced: %+v %v", head, err)
	}
	// Copying onto itself needs REPLACE, as in S3.
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &src, Key: &srcKey, CopySource: aws.String(escaped)})
	wantS3Code(t, err, "InvalidRequest")
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &src, Key: &srcKey, CopySource: aws.String(escaped),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"touched": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	head, err = e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &src, Key: &srcKey})
	if err != nil || head.Metadata["touched"] != "1" || aws.ToString(head.ETag) != opsQuotedMD5(data) {
		t.Fatalf("self copy: %+v %v", head, err)
	}

	// Copy-source conditions: every failure is 412.
	etag := opsQuotedMD5(data)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	conds := []struct {
		name string
		in   s3.CopyObjectInput
		ok   bool
	}{
		{"if-match", s3.CopyObjectInput{CopySourceIfMatch: &etag}, true},
		{"if-match miss", s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"x"`)}, false},
		{"if-none-match hit", s3.CopyObjectInput{CopySourceIfNoneMatch: &etag}, false},
		{"if-none-match miss", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(`"x"`)}, true},
		{"if-modified-since past", s3.CopyObjectInput{CopySourceIfModifiedSince: &past}, true},
		{"if-modified-since future", s3.CopyObjectInput{CopySourceIfModifiedSince: &future}, false},
		{"if-unmodified-since future", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &future}, true},
		{"if-unmodified-since past", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: &past}, false},
		{"if-match beats unmodified-since", s3.CopyObjectInput{CopySourceIfMatch: &etag, CopySourceIfUnmodifiedSince: &past}, true},
	}
	for i, c := range conds {
		in := c.in
		key := "cond" + string(rune('a'+i))
		in.Bucket, in.Key, in.CopySource = &dst, &key, aws.String(escaped)
		_, err := e.c.CopyObject(ctx, &in)
		if c.ok {
			if err != nil || !e.mem.has(dst, key) {
				t.Fatalf("%s: %v", c.name, err)
			}
			continue
		}
		wantS3Code(t, err, "PreconditionFailed")
		if e.mem.has(dst, key) {
			t.Fatalf("%s: copied despite the failed condition", c.name)
		}
	}

	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: aws.String("src/missing")})
	wantS3Code(t, err, "NoSuchKey")
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: aws.String("nobucket/k")})
	wantS3Code(t, err, "NoSuchBucket")
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: aws.String("justabucket")})
	wantS3Code(t, err, "InvalidArgument")
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: aws.String(escaped + "?versionId=3HL4kqtJlcpXroDTDmJ"), MetadataDirective: "MOVE"})
	wantS3Code(t, err, "NotImplemented")
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("x"), CopySource: aws.String(escaped + "?versionId=null")})
	if err != nil {
		t.Fatalf("versionId=null names the only version: %v", err)
	}
	_, err = e.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &dst, Key: aws.String("y"), CopySource: aws.String(escaped), MetadataDirective: "MOVE"})
	wantS3Code(t, err, "InvalidArgument")
}
