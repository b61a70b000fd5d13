package integration

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// oddKeys are keys S3 clients send and expect back byte for byte.
var oddKeys = []string{
	"a b/c+d", "a b/x%y", "a b/é", "../up", "a//b", "q?&=#", "tab\there", "emoji/🙂",
	strings.Repeat("k", 1024),
}

// testKeys stores objects under odd keys and finds them again by GET and
// by listings, plain and URL-encoded.
func testKeys(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	b := createBucket(t, c, "sdk-keys")
	for i, k := range oddKeys {
		putObject(t, c, b, k, []byte{byte(i)})
	}
	for i, k := range oddKeys {
		got, _ := getObject(t, c, b, k, "")
		sameBytes(t, k, got, []byte{byte(i)})
	}
	want := slices.Clone(oddKeys)
	slices.Sort(want)
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var got []string
	for _, o := range out.Contents {
		got = append(got, aws.ToString(o.Key))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %q, want %q", got, want)
	}
	enc, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), EncodingType: types.EncodingTypeUrl})
	if err != nil {
		t.Fatalf("list with encoding-type=url: %v", err)
	}
	got = got[:0]
	for _, o := range enc.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key))
		if err != nil {
			t.Fatalf("encoded key %q: %v", aws.ToString(o.Key), err)
		}
		got = append(got, k)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed with encoding-type=url, decoded %q, want %q", got, want)
	}
}

// testChecksums sends every checksum the SDK offers and Content-MD5, and
// checks that a wrong one stores nothing.
func testChecksums(t *testing.T, s *sdkSuite) {
	ctx, c, b := t.Context(), s.c, s.bucket
	data := randBytes(3*MiB+5, 808)
	for _, alg := range []struct {
		alg  types.ChecksumAlgorithm
		hash func() hash.Hash
		got  func(*s3.GetObjectOutput) *string
	}{
		{types.ChecksumAlgorithmCrc32, func() hash.Hash { return crc32.NewIEEE() }, func(o *s3.GetObjectOutput) *string { return o.ChecksumCRC32 }},
		{types.ChecksumAlgorithmCrc32c, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
			func(o *s3.GetObjectOutput) *string { return o.ChecksumCRC32C }},
		{types.ChecksumAlgorithmSha1, sha1.New, func(o *s3.GetObjectOutput) *string { return o.ChecksumSHA1 }},
		{types.ChecksumAlgorithmSha256, sha256.New, func(o *s3.GetObjectOutput) *string { return o.ChecksumSHA256 }},
	} {
		key := "checksum/" + string(alg.alg)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(data), ChecksumAlgorithm: alg.alg,
		}); err != nil {
			t.Fatalf("put with %s: %v", alg.alg, err)
		}
		h := alg.hash()
		h.Write(data)
		want := base64.StdEncoding.EncodeToString(h.Sum(nil))
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got := readAll(t, out.Body)
		sameBytes(t, key, got, data)
		if aws.ToString(alg.got(out)) != want {
			t.Fatalf("%s: checksum %q, want %q", key, aws.ToString(alg.got(out)), want)
		}
	}

	sum := md5.Sum(data)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("checksum/md5"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	}); err != nil {
		t.Fatalf("put with Content-MD5: %v", err)
	}
	sum[0] ^= 1
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("checksum/bad-md5"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	wantCode(t, err, "BadDigest")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("checksum/bad-md5")})
	wantStatus(t, err, 404)
}
