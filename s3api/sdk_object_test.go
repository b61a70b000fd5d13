package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func crc32Base64(b []byte) string {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(b))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestSDKPutGet stores and reads objects of several sizes over TLS (the
// SDK sends aws-chunked bodies with a CRC32 trailer) and over plain HTTP
// (a CRC32 header and a signed payload hash).
func TestSDKPutGet(t *testing.T) {
	for _, mode := range []struct {
		name  string
		plain bool
	}{{"https-trailer", false}, {"http-header", true}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newSDKEnv(t, sdkEnvOptions{plainHTTP: mode.plain})
			ctx := t.Context()
			b := e.bucket(t, "data")
			for i, size := range []int{0, 1, 1000, 3<<20 + 17} {
				data := opsRandBytes(size, uint64(i))
				key := "obj-" + string(rune('a'+i))
				put, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key, Body: bytes.NewReader(data)})
				if err != nil {
					t.Fatalf("put %d bytes: %v", size, err)
				}
				if aws.ToString(put.ETag) != opsQuotedMD5(data) {
					t.Fatalf("put ETag %s, want %s", aws.ToString(put.ETag), opsQuotedMD5(data))
				}
				if got := aws.ToString(put.ChecksumCRC32); got != crc32Base64(data) {
					t.Fatalf("put CRC32 %q, want %q", got, crc32Base64(data))
				}
				get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key})
				if err != nil {
					t.Fatal(err)
				}
				got := opsReadAll(t, get.Body)
				if !bytes.Equal(got, data) {
					t.Fatalf("get %d bytes back, want %d equal bytes", len(got), size)
				}
				if aws.ToString(get.ETag) != opsQuotedMD5(data) || aws.ToInt64(get.ContentLength) != int64(size) {
					t.Fatalf("get ETag %s length %d", aws.ToString(get.ETag), aws.ToInt64(get.ContentLength))
				}
				// The SDK asked for checksum mode and validated the body.
				if aws.ToString(get.ChecksumCRC32) != crc32Base64(data) {
					t.Fatalf("get CRC32 %q, want %q", aws.ToString(get.ChecksumCRC32), crc32Base64(data))
				}
				if aws.ToString(get.ContentType) != "application/octet-stream" { // what the SDK sent
					t.Errorf("content type %q", aws.ToString(get.ContentType))
				}
				if get.ContentEncoding != nil {
					t.Errorf("content encoding %q stored from the aws-chunked framing", *get.ContentEncoding)
				}
			}
		})
	}
}

func TestSDKSpecialKeys(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "keys")
	keys := []string{
		"a b", "a+b", "a%2Bb", "100%", "é/日本語/ファイル", "../../etc/passwd", "a//b", "dir/", "/leading",
		"q?x=1&y=2#frag", "semi;colon,comma", "tilde~star*", "quote\"apos'", "<xml>&amp;", "emoji 😀",
		"tab\there", "new\nline", strings.Repeat("k", MaxKeyLength), strings.Repeat("é", MaxKeyLength/2),
	}
	for i, k := range keys {
		data := []byte("value of " + k)
		if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		if !e.mem.has(b, k) {
			t.Fatalf("key %q (#%d) not stored under its exact name", k, i)
		}
		get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String(k)})
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		if got := opsReadAll(t, get.Body); !bytes.Equal(got, data) {
			t.Fatalf("get %q = %q", k, got)
		}
		if _, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String(k)}); err != nil {
			t.Fatalf("head %q: %v", k, err)
		}
	}
	// Every key comes back from a listing exactly, encoded or not.
	for _, enc := range []types.EncodingType{"", types.EncodingTypeUrl} {
		var listed []string
		p := s3.NewListObjectsV2Paginator(e.c, &s3.ListObjectsV2Input{Bucket: &b, EncodingType: enc, MaxKeys: aws.Int32(7)})
		for pages := 0; p.HasMorePages(); pages++ {
			if pages > len(keys) {
				t.Fatal("paginator does not end")
			}
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				k := aws.ToString(o.Key)
				if enc == types.EncodingTypeUrl {
					k = urlDecode(t, k)
				}
				listed = append(listed, k)
			}
		}
		if len(listed) != len(keys) {
			t.Fatalf("encoding %q: listed %d keys, want %d", enc, len(listed), len(keys))
		}
		for _, k := range listed {
			if !e.mem.has(b, k) {
				t.Errorf("encoding %q: listed key %q does not exist", enc, k)
			}
		}
	}
	for _, k := range keys {
		if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String(k)}); err != nil {
			t.Fatalf("delete %q: %v", k, err)
		}
		if e.mem.has(b, k) {
			t.Fatalf("key %q survived its delete", k)
		}
	}
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(strings.Repeat("k", MaxKeyLength+1)), Body: strings.NewReader("x")})
	wantS3Code(t, err, "KeyTooLongError")
}

func TestSDKMetadata(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "meta")
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b, Key: aws.String("doc.txt.gz"), Body: strings.NewReader("compressed"),
		ContentType: aws.String("text/plain; charset=utf-8"), CacheControl: aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="doc.txt"`), ContentEncoding: aws.String("gzip"),
		ContentLanguage: aws.String("fr-CA"), Expires: &expires, StorageClass: types.StorageClassStandard,
		Metadata: map[string]string{"Mtime": "1700000000.5", "md5chksum": "abc=", "Mixed-Case": "Value Kept"},
	})
	if err != nil {
		t.Fatal(err)
	}
	head, err := e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("doc.txt.gz")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"mtime": "1700000000.5", "md5chksum": "abc=", "mixed-case": "Value Kept"}
	if len(head.Metadata) != len(want) {
		t.Fatalf("metadata %v, want %v", head.Metadata, want)
	}
	for k, v := range want {
		if head.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, head.Metadata[k], v)
		}
	}
	if aws.ToString(head.ContentType) != "text/plain; charset=utf-8" || aws.ToString(head.CacheControl) != "max-age=60" ||
		aws.ToString(head.ContentDisposition) != `attachment; filename="doc.txt"` || aws.ToString(head.ContentEncoding) != "gzip" ||
		aws.ToString(head.ContentLanguage) != "fr-CA" || aws.ToString(head.ExpiresString) != expires.Format(http.TimeFormat) {
		t.Errorf("standard headers: %+v", head)
	}
	if aws.ToInt64(head.ContentLength) != int64(len("compressed")) || aws.ToString(head.ETag) != opsQuotedMD5([]byte("compressed")) {
		t.Errorf("head length %d ETag %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag))
	}
	lm := aws.ToTime(head.LastModified)
	if lm.IsZero() || time.Since(lm) > time.Minute {
		t.Errorf("last modified %v", lm)
	}
	// LastModified is the same in HEAD and in listings (seconds there).
	list, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b})
	if err != nil || len(list.Contents) != 1 || !aws.ToTime(list.Contents[0].LastModified).Truncate(time.Second).Equal(lm) {
		t.Fatalf("listing %+v %v, head last modified %v", list, err, lm)
	}

	// response-* overrides on GET.
	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &b, Key: aws.String("doc.txt.gz"),
		ResponseContentType: aws.String("application/x-override"), ResponseContentLanguage: aws.String("de"),
		ResponseCacheControl: aws.String("no-store"), ResponseContentDisposition: aws.String("inline"),
		ResponseContentEncoding: aws.String("identity"), ResponseExpires: aws.Time(expires.Add(time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	opsReadAll(t, get.Body)
	if aws.ToString(get.ContentType) != "application/x-override" || aws.ToString(get.ContentLanguage) != "de" ||
		aws.ToString(get.CacheControl) != "no-store" || aws.ToString(get.ContentDisposition) != "inline" ||
		aws.ToString(get.ContentEncoding) != "identity" || aws.ToString(get.ExpiresString) != expires.Add(time.Hour).Format(http.TimeFormat) {
		t.Errorf("overrides not applied: %+v", get)
	}

	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &b, Key: aws.String("big-meta"), Body: strings.NewReader("x"),
		Metadata: map[string]string{"a": strings.Repeat("v", MaxUserMetadataSize)},
	})
	wantS3Code(t, err, "MetadataTooLarge")
	if e.mem.has(b, "big-meta") {
		t.Fatal("object stored despite MetadataTooLarge")
	}
	// Unsupported features are refused, not dropped.
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("tagged"), Body: strings.NewReader("x"), Tagging: aws.String("a=b")})
	wantS3Code(t, err, "NotImplemented")
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("sse"), Body: strings.NewReader("x"), ServerSideEncryption: types.ServerSideEncryptionAwsKms})
	wantS3Code(t, err, "NotImplemented")
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("public"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
	wantS3Code(t, err, "NotImplemented")
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("cond"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	wantS3Code(t, err, "NotImplemented")
	for _, k := range []string{"tagged", "sse", "public", "cond"} {
		if e.mem.has(b, k) {
			t.Fatalf("%s stored despite NotImplemented", k)
		}
	}
}

func TestSDKRanges(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "ranges")
	data := opsRandBytes(1000, 7)
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("r"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rng          string
		from, to     int // inclusive; -1 from: whole object with 200
		contentRange string
	}{
		{"bytes=0-0", 0, 0, "bytes 0-0/1000"},
		{"bytes=10-19", 10, 19, "bytes 10-19/1000"},
		{"bytes=990-", 990, 999, "bytes 990-999/1000"},
		{"bytes=-1", 999, 999, "bytes 999-999/1000"},
		{"bytes=-5000", 0, 999, "bytes 0-999/1000"},
		{"bytes=500-99999", 500, 999, "bytes 500-999/1000"},
		{"bytes=0-1,5-6", -1, 0, ""}, // several ranges: S3 sends the whole object
		{"bytes=9-3", -1, 0, ""},     // invalid: ignored
	}
	for _, tt := range tests {
		out, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String(tt.rng)})
		if err != nil {
			t.Fatalf("%s: %v", tt.rng, err)
		}
		got := opsReadAll(t, out.Body)
		want := data
		if tt.from >= 0 {
			want = data[tt.from : tt.to+1]
		}
		if !bytes.Equal(got, want) || aws.ToString(out.ContentRange) != tt.contentRange {
			t.Fatalf("%s: %d bytes, Content-Range %q; want %d bytes, %q", tt.rng, len(got),
				aws.ToString(out.ContentRange), len(want), tt.contentRange)
		}
		if tt.from >= 0 && out.ChecksumCRC32 != nil {
			t.Fatalf("%s: whole-object checksum sent with a partial body", tt.rng)
		}
	}
	for _, rng := range []string{"bytes=1000-", "bytes=1000-2000", "bytes=-0"} {
		_, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String(rng)})
		wantS3Code(t, err, "InvalidRange")
		re := wantHTTPStatus(t, err, http.StatusRequestedRangeNotSatisfiable)
		if cr := re.Response.Header.Get("Content-Range"); cr != "bytes */1000" {
			t.Fatalf("%s: Content-Range %q", rng, cr)
		}
	}
	// A range on an empty object is unsatisfiable; no range is fine.
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("empty"), Body: bytes.NewReader(nil)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("empty"), Range: aws.String("bytes=0-")})
	wantS3Code(t, err, "InvalidRange")
	// If-Match together with Range, as newer SDK downloaders send.
	out, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String("bytes=100-199"), IfMatch: aws.String(opsQuotedMD5(data))})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, out.Body); !bytes.Equal(got, data[100:200]) {
		t.Fatal("If-Match + Range returned wrong bytes")
	}
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("r"), Range: aws.String("bytes=100-199"), IfMatch: aws.String(`"0000"`)})
	wantS3Code(t, err, "PreconditionFailed")
}

func TestSDKConditionals(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "cond")
	data := []byte("conditional body")
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("c"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	etag := opsQuotedMD5(data)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tests := []struct {
		name string
		in   s3.GetObjectInput
		want int
	}{
		{"if-match", s3.GetObjectInput{IfMatch: &etag}, 200},
		{"if-match miss", s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, 412},
		{"if-none-match hit", s3.GetObjectInput{IfNoneMatch: &etag}, 304},
		{"if-none-match miss", s3.GetObjectInput{IfNoneMatch: aws.String(`"nope"`)}, 200},
		{"if-modified-since past", s3.GetObjectInput{IfModifiedSince: &past}, 200},
		{"if-modified-since future", s3.GetObjectInput{IfModifiedSince: &future}, 304},
		{"if-unmodified-since future", s3.GetObjectInput{IfUnmodifiedSince: &future}, 200},
		{"if-unmodified-since past", s3.GetObjectInput{IfUnmodifiedSince: &past}, 412},
		{"if-match beats unmodified-since", s3.GetObjectInput{IfMatch: &etag, IfUnmodifiedSince: &past}, 200},
		{"if-none-match beats modified-since", s3.GetObjectInput{IfNoneMatch: &etag, IfModifiedSince: &past}, 304},
		{"412 before 304", s3.GetObjectInput{IfMatch: aws.String(`"nope"`), IfNoneMatch: &etag}, 412},
	}
	for _, tt := range tests {
		in := tt.in
		in.Bucket, in.Key = &b, aws.String("c")
		out, err := e.c.GetObject(ctx, &in)
		hin := s3.HeadObjectInput{Bucket: &b, Key: aws.String("c"), IfMatch: in.IfMatch, IfNoneMatch: in.IfNoneMatch,
			IfModifiedSince: in.IfModifiedSince, IfUnmodifiedSince: in.IfUnmodifiedSince}
		_, herr := e.c.HeadObject(ctx, &hin)
		switch tt.want {
		case 200:
			if err != nil || herr != nil {
				t.Fatalf("%s: %v / head %v", tt.name, err, herr)
			}
			if got := opsReadAll(t, out.Body); !bytes.Equal(got, data) {
				t.Fatalf("%s: body %q", tt.name, got)
			}
		case 304:
			re := wantHTTPStatus(t, err, http.StatusNotModified)
			if re.Response.Header.Get("ETag") != etag || re.Response.Header.Get("Last-Modified") == "" {
				t.Fatalf("%s: 304 without ETag/Last-Modified: %v", tt.name, re.Response.Header)
			}
			wantHTTPStatus(t, herr, http.StatusNotModified)
		case 412:
			wantS3Code(t, err, "PreconditionFailed")
			wantHTTPStatus(t, herr, http.StatusPreconditionFailed)
		}
	}
}

func TestSDKDeleteObjects(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "del")
	for i := 0; i < 10; i++ {
		e.mem.put(b, "k"+string(rune('0'+i)), []byte{byte(i)})
	}
	// Deleting an absent key is a success, for DeleteObject too.
	if _, err := e.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: aws.String("absent")}); err != nil {
		t.Fatal(err)
	}
	ids := func(keys ...string) []types.ObjectIdentifier {
		var out []types.ObjectIdentifier
		for _, k := range keys {
			out = append(out, types.ObjectIdentifier{Key: aws.String(k)})
		}
		return out
	}
	out, err := e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: ids("k0", "k1", "absent")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 3 || len(out.Errors) != 0 || aws.ToString(out.Deleted[2].Key) != "absent" {
		t.Fatalf("deleted %+v errors %+v", out.Deleted, out.Errors)
	}
	// Quiet: only errors are reported; here one key fails in the backend.
	e.mem.setFail(func(op, _, key string) error {
		if op == "DeleteObjects.key" && key == "k3" {
			return ErrAccessDenied
		}
		return nil
	})
	out, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: ids("k2", "k3", strings.Repeat("x", MaxKeyLength+1)), Quiet: aws.Bool(true)}})
	e.mem.setFail(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 0 || len(out.Errors) != 2 || aws.ToString(out.Errors[0].Key) != "k3" ||
		aws.ToString(out.Errors[0].Code) != "AccessDenied" || aws.ToString(out.Errors[1].Code) != "KeyTooLongError" {
		t.Fatalf("quiet: deleted %+v errors %+v", out.Deleted, out.Errors)
	}
	for k, want := range map[string]bool{"k0": false, "k1": false, "k2": false, "k3": true, "k4": true} {
		if e.mem.has(b, k) != want {
			t.Fatalf("%s exists: %v, want %v", k, !want, want)
		}
	}
	var many []string
	for i := 0; i <= maxDeleteKeys; i++ {
		many = append(many, "m"+strings.Repeat("x", i%7))
	}
	_, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b, Delete: &types.Delete{Objects: ids(many...)}})
	wantS3Code(t, err, "MalformedXML")
	_, err = e.c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("nobucket"), Delete: &types.Delete{Objects: ids("a")}})
	wantS3Code(t, err, "NoSuchBucket")
	// Without Content-MD5 or a checksum, as some clients send it.
	resp := e.raw(t, http.MethodPost, "/del?delete", []byte("<Delete><Object><Key>k4</Key></Object></Delete>"), nil)
	if resp.StatusCode != http.StatusOK || e.mem.has(b, "k4") {
		t.Fatalf("raw delete: %d", resp.StatusCode)
	}
}

func TestSDKObjectErrors(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "errs")
	_, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("missing")})
	wantS3Code(t, err, "NoSuchKey")
	_, err = e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("missing")})
	wantHTTPStatus(t, err, http.StatusNotFound)
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	wantS3Code(t, err, "NoSuchBucket")
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantS3Code(t, err, "NoSuchBucket")
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("Bad_Name"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantS3Code(t, err, "InvalidBucketName")

	// Anything that is not an *Error is InternalError with a request ID.
	e.mem.setFail(func(op, _, _ string) error {
		if op == "GetObject" {
			return errInjected
		}
		return nil
	})
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	e.mem.setFail(nil)
	wantS3Code(t, err, "InternalError")
	re := wantHTTPStatus(t, err, http.StatusInternalServerError)
	if re.ServiceRequestID() == "" || re.ServiceRequestID() != re.Response.Header.Get("X-Amz-Request-Id") {
		t.Fatalf("request ID %q, header %q", re.ServiceRequestID(), re.Response.Header.Get("X-Amz-Request-Id"))
	}
	// Backend errors of this package pass through: a full node.
	e.mem.setFail(func(op, _, _ string) error {
		if op == "PutObject" {
			return ErrQuotaExceeded
		}
		return nil
	})
	_, err = e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("x")})
	e.mem.setFail(nil)
	wantS3Code(t, err, "QuotaExceeded")
	// Data that cannot be fetched fails the GET before any header is sent.
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: strings.NewReader("xyz")}); err != nil {
		t.Fatal(err)
	}
	e.mem.setFail(func(op, _, _ string) error {
		if op == "Open" {
			return ErrServiceUnavailable
		}
		return nil
	})
	_, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
	e.mem.setFail(nil)
	wantS3Code(t, err, "ServiceUnavailable")
}
