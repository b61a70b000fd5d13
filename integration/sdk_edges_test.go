package integration

// S3 behaviour at the edges, through the whole stack (daemon, gateway,
// shards on peers): what retrying clients, other SDKs and conformance
// suites probe, each as Amazon S3 answers it.

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"ishtar/s3api"
)

func TestSDKEdges(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node S3 suite skipped in -short mode")
	}
	const seg = 1 << 20
	Run(t, Config{Nodes: 6, SegmentSize: seg}, func(t *testing.T, n *Net) {
		c := n.S3(t)
		b := createBucket(t, c, "edges")
		for _, st := range []struct {
			name string
			fn   func(t *testing.T, n *Net, c *s3.Client, b string)
		}{
			{"CompleteRetried", edgeCompleteRetried},
			{"PartNumber", edgePartNumber},
			{"CreateOwnBucket", edgeCreateOwnBucket},
			{"ListEdges", edgeList},
			{"PresignExpired", edgePresignExpired},
			{"DateBesideAmzDate", edgeDates},
			{"KeyNotUTF8", edgeKeyNotUTF8},
			{"HeadersExact", edgeHeadersExact},
			{"ChunkedPut", func(t *testing.T, n *Net, c *s3.Client, b string) { edgeChunkedPut(t, n, c, b, seg) }},
			{"ContentMD5", edgeContentMD5},
		} {
			t.Run(st.name, func(t *testing.T) { st.fn(t, n, c, b) })
		}
	})
}

// signedRaw sends a request signed by the SDK's signer (UNSIGNED-PAYLOAD)
// with the path exactly as given (already escaped). A body of length -1
// goes with Transfer-Encoding: chunked and no Content-Length.
func signedRaw(t *testing.T, n *Net, method, path string, body io.Reader, length int64, hdr http.Header) *http.Response {
	t.Helper()
	if body == nil {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(t.Context(), method, n.Endpoint+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
	if err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(t.Context(), creds, req, "UNSIGNED-PAYLOAD", "s3", Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := n.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorCode returns the Code of an S3 error document.
func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "<Code>")
	code, _, ok := strings.Cut(rest, "</Code>")
	if !ok {
		t.Fatalf("status %d, body %q is not an error document", resp.StatusCode, b)
	}
	return code
}

func edgeCompleteRetried(t *testing.T, n *Net, c *s3.Client, b string) {
	ctx, key := t.Context(), aws.String("complete/retried")
	mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	put := func(num int32, body []byte) types.CompletedPart {
		t.Helper()
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: key, UploadId: mu.UploadId,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("part %d: %v", num, err)
		}
		return types.CompletedPart{PartNumber: aws.Int32(num), ETag: up.ETag}
	}
	put(1, randBytes(s3api.MinPartSize, 1))
	p2 := randBytes(100, 2)
	done := []types.CompletedPart{{}, put(2, p2)}
	p1 := randBytes(s3api.MinPartSize+3, 3)
	done[0] = put(1, p1) // re-uploaded after part 2: the last one wins
	in := &s3.CompleteMultipartUploadInput{Bucket: &b, Key: key, UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
	first, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		t.Fatalf("retried Complete: %v", err)
	}
	if aws.ToString(again.ETag) != aws.ToString(first.ETag) {
		t.Fatalf("retried Complete: ETag %s, first %s", aws.ToString(again.ETag), aws.ToString(first.ETag))
	}
	got, _ := getObject(t, c, b, *key, "")
	sameBytes(t, "completed object", got, append(append([]byte(nil), p1...), p2...))
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b, Key: key}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CompleteMultipartUpload(ctx, in)
	wantCode(t, err, "NoSuchUpload")
}

func edgePartNumber(t *testing.T, n *Net, c *s3.Client, b string) {
	ctx := t.Context()
	single := randBytes(3000, 4)
	putObject(t, c, b, "parts/single", single)
	key := aws.String("parts/multi")
	mu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{randBytes(s3api.MinPartSize, 5), randBytes(10, 6)}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b, Key: key, UploadId: mu.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b, Key: key, UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"parts/single", "parts/multi"} {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String(k), PartNumber: aws.Int32(3)})
		wantCode(t, err, "InvalidPart")
		wantStatus(t, err, http.StatusBadRequest)
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String(k), PartNumber: aws.Int32(3)})
		wantStatus(t, err, http.StatusBadRequest)
	}
	one, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: aws.String("parts/single"), PartNumber: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "part 1 of a single PUT", readAll(t, one.Body), single)
	if one.PartsCount != nil {
		t.Fatalf("parts count %d on a single PUT", aws.ToInt32(one.PartsCount))
	}
	two, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &b, Key: key, PartNumber: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "part 2", readAll(t, two.Body), parts[1])
	if aws.ToInt32(two.PartsCount) != 2 {
		t.Fatalf("parts count %d, want 2", aws.ToInt32(two.PartsCount))
	}
}

func edgeCreateOwnBucket(t *testing.T, n *Net, c *s3.Client, b string) {
	data := randBytes(500, 7)
	putObject(t, c, b, "kept", data)
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &b}); err != nil {
		t.Fatalf("create own bucket again: %v", err)
	}
	got, _ := getObject(t, c, b, "kept", "")
	sameBytes(t, "object after re-create", got, data)
}

func edgeList(t *testing.T, n *Net, c *s3.Client, b string) {
	ctx := t.Context()
	for _, k := range []string{"ctl/a\nb/1", "ctl/a\nb/2", "ctl/z"} {
		putObject(t, c, b, k, []byte(k))
	}
	resp := signedRaw(t, n, http.MethodGet, "/"+b+"?list-type=2&prefix=ctl%2F&continuation-token=", nil, 0, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), "<Key>") != 3 || strings.Contains(string(body), "<ContinuationToken>") {
		t.Fatalf("empty continuation-token: %d %s", resp.StatusCode, body)
	}
	for _, enc := range []types.EncodingType{"", types.EncodingTypeUrl} {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String("ctl/a\n"), Delimiter: aws.String("/"), EncodingType: enc})
		if err != nil {
			t.Fatal(err)
		}
		dec := func(s *string) string {
			if enc == "" {
				return aws.ToString(s)
			}
			d, err := url.QueryUnescape(aws.ToString(s))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if dec(out.Prefix) != "ctl/a\n" || len(out.CommonPrefixes) != 1 || dec(out.CommonPrefixes[0].Prefix) != "ctl/a\nb/" {
			t.Fatalf("encoding %q: prefix %q, %d common prefixes", enc, dec(out.Prefix), len(out.CommonPrefixes))
		}
	}
}

func edgePresignExpired(t *testing.T, n *Net, c *s3.Client, b string) {
	putObject(t, c, b, "presigned", []byte("x"))
	req, err := s3.NewPresignClient(c).PresignGetObject(t.Context(), &s3.GetObjectInput{Bucket: &b, Key: aws.String("presigned")})
	if err != nil {
		t.Fatal(err)
	}
	for _, exp := range []string{"0", "-5"} {
		u, err := url.Parse(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("X-Amz-Expires", exp)
		u.RawQuery = q.Encode()
		hr, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := n.HTTPClient().Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if code := errorCode(t, resp); resp.StatusCode != http.StatusForbidden || code != "AccessDenied" {
			t.Fatalf("X-Amz-Expires=%s: %d %s", exp, resp.StatusCode, code)
		}
	}
}

func edgeDates(t *testing.T, n *Net, c *s3.Client, b string) {
	for _, date := range []string{"", "yesterday", "Mon, 02 Jan 2006 15:04:05 GMT"} {
		resp := signedRaw(t, n, http.MethodPut, "/"+b+"/dated", strings.NewReader("d"), 1, http.Header{"Date": {date}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Date %q beside X-Amz-Date: %d %s", date, resp.StatusCode, errorCode(t, resp))
		}
	}
}

func edgeKeyNotUTF8(t *testing.T, n *Net, c *s3.Client, b string) {
	for _, m := range []string{http.MethodPut, http.MethodGet, http.MethodDelete} {
		resp := signedRaw(t, n, m, "/"+b+"/bad%FFkey", nil, 0, nil)
		if code := errorCode(t, resp); resp.StatusCode != http.StatusBadRequest || code != "InvalidURI" {
			t.Fatalf("%s of a key that is not UTF-8: %d %s", m, resp.StatusCode, code)
		}
	}
}

func edgeHeadersExact(t *testing.T, n *Net, c *s3.Client, b string) {
	ctx := t.Context()
	meta := map[string]string{"greeting": "Hello World\u00e9", "emoji": "\U0001F642 ok", "plain": "a  b"}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("hdr"), Body: strings.NewReader("h"),
		Metadata: meta, ContentEncoding: aws.String("deflate, gzip"), CacheControl: aws.String("no-cache, max-age=0")}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("hdr")})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range meta {
		if head.Metadata[k] != v {
			t.Errorf("x-amz-meta-%s = %q, want %q", k, head.Metadata[k], v)
		}
	}
	if aws.ToString(head.ContentEncoding) != "deflate, gzip" || aws.ToString(head.CacheControl) != "no-cache, max-age=0" {
		t.Fatalf("Content-Encoding %q, Cache-Control %q", aws.ToString(head.ContentEncoding), aws.ToString(head.CacheControl))
	}
	// aws-chunked, the framing of the body, is the one token removed.
	resp := signedRaw(t, n, http.MethodPut, "/"+b+"/hdr2", strings.NewReader("h"), 1,
		http.Header{"Content-Encoding": {"gzip, aws-chunked"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("hdr2")})
	if err != nil || aws.ToString(head.ContentEncoding) != "gzip" {
		t.Fatalf("Content-Encoding %q, %v", aws.ToString(head.ContentEncoding), err)
	}
}

func edgeChunkedPut(t *testing.T, n *Net, c *s3.Client, b string, seg int) {
	for _, size := range []int{0, 100, 3*seg + seg/3} {
		data := randBytes(size, uint64(size)+8)
		key := "chunked/" + string(rune('a'+size%26))
		// A MultiReader hides the length: net/http sends chunks.
		resp := signedRaw(t, n, http.MethodPut, "/"+b+"/"+key, io.MultiReader(bytes.NewReader(data)), -1, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != quoted(md5hex(data)) {
			t.Fatalf("%d bytes chunked: %d, ETag %s", size, resp.StatusCode, resp.Header.Get("ETag"))
		}
		got, out := getObject(t, c, b, key, "")
		sameBytes(t, "chunked PUT", got, data)
		if aws.ToInt64(out.ContentLength) != int64(size) {
			t.Fatalf("%d bytes chunked: Content-Length %d", size, aws.ToInt64(out.ContentLength))
		}
	}
}

func edgeContentMD5(t *testing.T, n *Net, c *s3.Client, b string) {
	ctx := t.Context()
	data := randBytes(2<<20+11, 9)
	digest := func(b []byte) *string {
		s := md5.Sum(b)
		return aws.String(base64.StdEncoding.EncodeToString(s[:]))
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("md5"), Body: bytes.NewReader(data), ContentMD5: digest(data[1:])})
	wantCode(t, err, "BadDigest")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: aws.String("md5")}); err == nil {
		t.Fatal("object stored despite BadDigest")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String("md5"), Body: bytes.NewReader(data), ContentMD5: digest(data)}); err != nil {
		t.Fatal(err)
	}
	got, _ := getObject(t, c, b, "md5", "")
	sameBytes(t, "Content-MD5 PUT", got, data)
}
