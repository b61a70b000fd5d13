package s3api

// Behaviour at the edges, where retrying clients, SDKs of other languages
// and conformance suites probe: each case as Amazon S3 answers it.

import (
	"bytes"
	"context"
	"crypto/md5"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestEdgePartNumber: a part number beyond an object's parts is 400
// InvalidPart; on a single-PUT object part 1 is the whole object (no parts
// count) and any other number is InvalidPart.
func TestEdgePartNumber(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "parts")
	single := []byte("a single PUT")
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("one"), Body: bytes.NewReader(single)}); err != nil {
		t.Fatal(err)
	}
	part1, part2 := opsRandBytes(MinPartSize, 1), []byte("tail")
	key := "multi"
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, body := range [][]byte{part1, part2} {
		n := aws.Int32(int32(i + 1))
		p, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: &key, UploadId: up.UploadId, PartNumber: n, Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: n, ETag: p.ETag})
	}
	if _, err := e.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		key  string
		part int32
	}{{"multi", 3}, {"multi", 10000}, {"one", 2}, {"one", 10000}} {
		_, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String(c.key), PartNumber: aws.Int32(c.part)})
		wantS3Code(t, err, "InvalidPart")
		wantHTTPStatus(t, err, http.StatusBadRequest)
		_, err = e.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String(c.key), PartNumber: aws.Int32(c.part)})
		wantHTTPStatus(t, err, http.StatusBadRequest)
	}
	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("one"), PartNumber: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, get.Body); !bytes.Equal(got, single) || get.PartsCount != nil || get.ContentRange != nil {
		t.Fatalf("part 1 of a single PUT: %q, parts count %v, range %v", got, get.PartsCount, get.ContentRange)
	}
	get, err = e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: &key, PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, get.Body); !bytes.Equal(got, part2) || aws.ToInt32(get.PartsCount) != 2 {
		t.Fatalf("part 2: %q, parts count %v", got, get.PartsCount)
	}
}

// TestEdgeCreateOwnBucket: in us-east-1, creating a bucket one already owns
// succeeds and keeps its objects; elsewhere it is BucketAlreadyOwnedByYou.
func TestEdgeCreateOwnBucket(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "mine")
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("kept"), Body: strings.NewReader("still here")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &b}); err != nil {
		t.Fatalf("create own bucket again in us-east-1: %v", err)
	}
	get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	if got := opsReadAll(t, get.Body); string(got) != "still here" {
		t.Fatalf("object after re-create: %q", got)
	}

	eu := newSDKEnv(t, sdkEnvOptions{cfg: Config{Region: "eu-west-1"}})
	b = "theirs"
	in := &s3.CreateBucketInput{Bucket: &b, CreateBucketConfiguration: &types.CreateBucketConfiguration{
		LocationConstraint: types.BucketLocationConstraintEuWest1}}
	if _, err := eu.c.CreateBucket(ctx, in); err != nil {
		t.Fatal(err)
	}
	_, err = eu.c.CreateBucket(ctx, in)
	wantS3Code(t, err, "BucketAlreadyOwnedByYou")
}

// TestEdgeListEmptyToken: an empty continuation-token is no token, and a
// prefix holding control characters comes back as sent, with and without
// encoding-type=url.
func TestEdgeListEmptyToken(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	ctx := t.Context()
	b := e.bucket(t, "ctl")
	keys := []string{"a\nb/1", "a\nb/2", "a\tc", "z"}
	for _, k := range keys {
		if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"list-type=2&continuation-token=", "list-type=2&continuation-token=&start-after=a%0Ab%2F1"} {
		resp := e.raw(t, http.MethodGet, "/ctl?"+q, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d (%s)", q, resp.StatusCode, opsErrorCode(t, resp))
		}
		var res listV2Result
		readXMLBody(t, resp, &res)
		want := len(keys)
		if strings.Contains(q, "start-after") {
			want = 2 // "a\nb/2" and "z": "a\tc" sorts before "a\nb/1"
		}
		if len(res.Contents) != want || res.ContinuationToken != "" {
			t.Fatalf("%s: %d keys, token %q", q, len(res.Contents), res.ContinuationToken)
		}
	}
	for _, enc := range []types.EncodingType{"", types.EncodingTypeUrl} {
		out, err := e.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String("a\n"), Delimiter: aws.String("/"), EncodingType: enc})
		if err != nil {
			t.Fatal(err)
		}
		dec := func(s *string) string {
			if enc == "" {
				return aws.ToString(s)
			}
			return urlDecode(t, aws.ToString(s))
		}
		if got := dec(out.Prefix); got != "a\n" {
			t.Fatalf("encoding %q: prefix %q", enc, got)
		}
		if len(out.CommonPrefixes) != 1 || dec(out.CommonPrefixes[0].Prefix) != "a\nb/" || len(out.Contents) != 0 {
			t.Fatalf("encoding %q: %d prefixes, %d keys", enc, len(out.CommonPrefixes), len(out.Contents))
		}
	}
}

// TestEdgePresignExpired: a presigned URL whose time is up, whether by the
// clock or because it was signed to live zero or fewer seconds, is 403
// AccessDenied "Request has expired".
func TestEdgePresignExpired(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	b := e.bucket(t, "pre")
	e.mem.put(b, "k", []byte("v"))
	ps := s3.NewPresignClient(e.c)
	denied := func(what, u string) {
		t.Helper()
		hr, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if code := opsErrorCode(t, resp); resp.StatusCode != http.StatusForbidden || code != "AccessDenied" {
			t.Fatalf("%s: %d %s", what, resp.StatusCode, code)
		}
	}
	for _, expires := range []string{"0", "-1", "-3600"} {
		req, err := ps.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("X-Amz-Expires", expires)
		u.RawQuery = q.Encode()
		denied("X-Amz-Expires="+expires, u.String())
	}
	e.skew.Store(int64(16 * 60 * 1e9))
	req, err := ps.PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("k")},
		s3.WithPresignExpires(15*60*1e9))
	if err != nil {
		t.Fatal(err)
	}
	denied("expired by the clock", req.URL)
}

// TestEdgeDateBesideAmzDate: with a valid X-Amz-Date, a Date header beside
// it (empty, in another format, another time) is ignored.
func TestEdgeDateBesideAmzDate(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	e.bucket(t, "dates")
	for _, date := range []string{"", "not a date", "Mon, 02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05Z"} {
		resp := e.raw(t, http.MethodHead, "/dates", nil, http.Header{"Date": {date}})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Date %q beside X-Amz-Date: status %d", date, resp.StatusCode)
		}
	}
}

// TestEdgeKeyNotUTF8: a key that is not valid UTF-8 is refused with 400.
func TestEdgeKeyNotUTF8(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	e.bucket(t, "utf")
	for _, m := range []string{http.MethodPut, http.MethodGet, http.MethodHead, http.MethodDelete} {
		for _, p := range []string{"/utf/%FF", "/utf/a%C3", "/utf/%ED%A0%80"} {
			resp := e.raw(t, m, p, nil, nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s %s: status %d", m, p, resp.StatusCode)
			}
			if m != http.MethodHead {
				if code := opsErrorCode(t, resp); code != "InvalidURI" {
					t.Fatalf("%s %s: code %s", m, p, code)
				}
			}
		}
	}
	if e.mem.has("utf", "\xff") {
		t.Fatal("key stored")
	}
}

// TestEdgeHeadersExact: user metadata holding UTF-8 bytes and standard
// headers come back exactly as sent; only the aws-chunked token is removed
// from Content-Encoding.
func TestEdgeHeadersExact(t *testing.T) {
	e := newSDKEnv(t, sdkEnvOptions{})
	e.bucket(t, "hdr")
	cases := []struct {
		name string
		put  http.Header
		want http.Header
	}{
		{"utf-8 metadata", http.Header{"X-Amz-Meta-Greeting": {"Hello World\xc3\xa9"}, "X-Amz-Meta-Emoji": {"\xf0\x9f\x99\x82 ok"}},
			http.Header{"X-Amz-Meta-Greeting": {"Hello World\xc3\xa9"}, "X-Amz-Meta-Emoji": {"\xf0\x9f\x99\x82 ok"}}},
		{"latin-1 metadata", http.Header{"X-Amz-Meta-Cafe": {"caf\xe9"}}, http.Header{"X-Amz-Meta-Cafe": {"caf\xe9"}}},
		{"encodings", http.Header{"Content-Encoding": {"deflate, gzip"}, "Cache-Control": {"no-cache,  max-age=0"}, "Content-Disposition": {`attachment; filename="x y"`}},
			http.Header{"Content-Encoding": {"deflate, gzip"}, "Cache-Control": {"no-cache,  max-age=0"}, "Content-Disposition": {`attachment; filename="x y"`}}},
		{"aws-chunked first", http.Header{"Content-Encoding": {"aws-chunked, gzip"}}, http.Header{"Content-Encoding": {"gzip"}}},
		{"aws-chunked last", http.Header{"Content-Encoding": {"deflate, gzip,aws-chunked"}}, http.Header{"Content-Encoding": {"deflate, gzip"}}},
		{"aws-chunked only", http.Header{"Content-Encoding": {"aws-chunked"}}, http.Header{"Content-Encoding": nil}},
	}
	for i, c := range cases {
		path := "/hdr/k" + string(rune('a'+i))
		resp := e.raw(t, http.MethodPut, path, []byte("body"), c.put)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: PUT %d %s", c.name, resp.StatusCode, opsErrorCode(t, resp))
		}
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			// Accept-Encoding keeps net/http from decoding "gzip" itself.
			resp := e.raw(t, m, path, nil, http.Header{"Accept-Encoding": {"identity"}})
			for k, v := range c.want {
				if got := resp.Header.Values(k); !slices.Equal(got, v) {
					t.Errorf("%s %s: %s = %q, want %q", c.name, m, k, got, v)
				}
			}
		}
	}
}

func readXMLBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := parseXML(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// chunkedPut sends body with Transfer-Encoding: chunked and no
// Content-Length (as some SDKs and proxies do), UNSIGNED-PAYLOAD, in
// pieces, the way such clients stream.
func chunkedPut(t *testing.T, e *sdkEnv, path string, body []byte, hdr http.Header) *http.Response {
	t.Helper()
	pieces := make([]io.Reader, 0, len(body)/1000+1)
	for off := 0; off < len(body); off += 1000 {
		pieces = append(pieces, bytes.NewReader(body[off:min(off+1000, len(body))]))
	}
	// A MultiReader hides the length, so net/http sends chunks.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, e.srv.URL+path, io.MultiReader(pieces...))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // unknown: net/http sends chunks
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	opsSign(t, req, "UNSIGNED-PAYLOAD", e.region)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// sizeBackend records the Size and ContentMD5 each upload reached the
// Backend with.
type sizeBackend struct {
	*memBackend
	sizes []int64
	md5s  [][]byte
}

func (s *sizeBackend) PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error) {
	s.sizes, s.md5s = append(s.sizes, in.Size), append(s.md5s, in.ContentMD5)
	return s.memBackend.PutObject(ctx, in)
}

func (s *sizeBackend) UploadPart(ctx context.Context, in UploadPartInput) (PartInfo, error) {
	s.sizes, s.md5s = append(s.sizes, in.Size), append(s.md5s, in.ContentMD5)
	return s.memBackend.UploadPart(ctx, in)
}

// TestEdgeChunkedPut: a PUT with Transfer-Encoding: chunked and no
// Content-Length is accepted and streamed to the Backend with Size -1;
// its integrity headers are still checked.
func TestEdgeChunkedPut(t *testing.T) {
	sb := &sizeBackend{memBackend: newMemBackend()}
	e := newSDKEnv(t, sdkEnvOptions{backend: sb})
	e.mem = sb.memBackend
	ctx := t.Context()
	b := e.bucket(t, "tenc")
	data := opsRandBytes(100_000, 7)
	crc := checksumB64("CRC32", data)
	for _, c := range []struct {
		name, key string
		hdr       http.Header
		code      string
	}{
		{"plain", "plain", nil, ""},
		{"content-md5", "md5", http.Header{"Content-Md5": {contentMD5(data)}}, ""},
		{"wrong content-md5", "bad-md5", http.Header{"Content-Md5": {contentMD5(data[1:])}}, "BadDigest"},
		{"crc32", "crc", http.Header{"X-Amz-Checksum-Crc32": {crc}}, ""},
		{"wrong crc32", "bad-crc", http.Header{"X-Amz-Checksum-Crc32": {checksumB64("CRC32", data[1:])}}, "BadDigest"},
	} {
		resp := chunkedPut(t, e, "/tenc/"+c.key, data, c.hdr)
		if c.code != "" {
			if code := opsErrorCode(t, resp); code != c.code || e.mem.has(b, c.key) {
				t.Fatalf("%s: %d %s", c.name, resp.StatusCode, code)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != opsQuotedMD5(data) {
			t.Fatalf("%s: %d, ETag %s", c.name, resp.StatusCode, resp.Header.Get("ETag"))
		}
		get, err := e.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String(c.key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		if got := opsReadAll(t, get.Body); !bytes.Equal(got, data) {
			t.Fatalf("%s: read back %d bytes, not the same", c.name, len(got))
		}
		if c.key == "crc" && aws.ToString(get.ChecksumCRC32) != crc {
			t.Fatalf("crc32 stored %q, want %q", aws.ToString(get.ChecksumCRC32), crc)
		}
	}
	for i, s := range sb.sizes {
		if s != -1 {
			t.Fatalf("upload %d reached the Backend with Size %d, want -1", i, s)
		}
	}
	// A part may come the same way.
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	resp := chunkedPut(t, e, "/tenc/mp?partNumber=1&uploadId="+url.QueryEscape(aws.ToString(up.UploadId)), data, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != opsQuotedMD5(data) {
		t.Fatalf("chunked part: %d", resp.StatusCode)
	}
}

// TestContentMD5HashedOnce: with Content-MD5, an upload's body is not
// hashed with MD5 by the handler: the digest goes to the Backend, which
// hashes for the ETag anyway and checks it before the commit. A request
// document (DeleteObjects) is still checked by the handler.
func TestContentMD5HashedOnce(t *testing.T) {
	var made int
	orig := newMD5
	newMD5 = func() hash.Hash { made++; return orig() }
	t.Cleanup(func() { newMD5 = orig })

	sb := &sizeBackend{memBackend: newMemBackend()}
	e := newSDKEnv(t, sdkEnvOptions{backend: sb, plainHTTP: true})
	e.mem = sb.memBackend
	ctx := t.Context()
	b := e.bucket(t, "md5")
	data := opsRandBytes(50_000, 8)
	sum := md5.Sum(data)
	if _, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("k"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(contentMD5(data))}); err != nil {
		t.Fatal(err)
	}
	_, err := e.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("bad"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(contentMD5(data[1:]))})
	wantS3Code(t, err, "BadDigest")
	up, err := e.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(data), ContentMD5: aws.String(contentMD5(data))}); err != nil {
		t.Fatal(err)
	}
	if made != 0 {
		t.Fatalf("the handler made %d MD5 hashes of upload bodies, want 0 (the Backend hashes)", made)
	}
	if len(sb.md5s) != 3 || !bytes.Equal(sb.md5s[0], sum[:]) || !bytes.Equal(sb.md5s[2], sum[:]) {
		t.Fatalf("Content-MD5 did not reach the Backend: %x", sb.md5s)
	}
	if e.mem.has(b, "bad") || !e.mem.has(b, "k") {
		t.Fatal("wrong objects stored")
	}
	// A request document with Content-MD5 is checked by the handler.
	doc := []byte(`<Delete><Object><Key>k</Key></Object></Delete>`)
	for _, c := range []struct {
		md5    string
		status int
	}{{contentMD5(doc[1:]), http.StatusBadRequest}, {contentMD5(doc), http.StatusOK}} {
		resp := e.raw(t, http.MethodPost, "/md5?delete", doc, http.Header{"Content-Md5": {c.md5}})
		if resp.StatusCode != c.status {
			t.Fatalf("DeleteObjects with Content-MD5: %d, want %d", resp.StatusCode, c.status)
		}
	}
	if made != 2 || e.mem.has(b, "k") {
		t.Fatalf("DeleteObjects: %d MD5 hashes, want 2", made)
	}
}
