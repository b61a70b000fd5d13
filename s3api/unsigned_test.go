package s3api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The objects every unsigned-header case starts from: bucket "bkt" holding
// "secret", with metadata and a CRC32 checksum.
var (
	unsignedSecret    = []byte("the owner's secret bytes, not to be copied")
	unsignedBody      = []byte("what the holder of the signature uploads")
	unsignedSecretCRC = checksumB64("CRC32", unsignedSecret)
)

// unsignedEnv is a handler over memBackend on a plain-HTTP loopback
// listener, with "bkt/secret" stored.
func unsignedEnv(t *testing.T) *sdkEnv {
	t.Helper()
	e := newSDKEnv(t, sdkEnvOptions{plainHTTP: true})
	ctx := t.Context()
	if err := e.mem.CreateBucket(ctx, "bkt"); err != nil {
		t.Fatal(err)
	}
	_, err := e.mem.PutObject(ctx, PutObjectInput{
		Bucket: "bkt", Key: "secret", Size: int64(len(unsignedSecret)), Body: bytes.NewReader(unsignedSecret),
		Meta:     ObjectMeta{User: map[string]string{"owner": "alice"}},
		Checksum: func() Checksum { return Checksum{Algorithm: "CRC32", Value: unsignedSecretCRC} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// state renders everything the backend holds, to compare before and after.
func (m *memBackend) state() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(m.buckets)) {
		bk := m.buckets[name]
		fmt.Fprintf(&b, "bucket %s\n", name)
		for _, k := range slices.Sorted(maps.Keys(bk.objects)) {
			o := bk.objects[k]
			fmt.Fprintf(&b, "  object %q %+v %s\n", k, o.info, hexSHA256(o.data))
		}
		for _, id := range slices.Sorted(maps.Keys(bk.uploads)) {
			u := bk.uploads[id]
			fmt.Fprintf(&b, "  upload %s %+v\n", id, u.info)
			for _, n := range slices.Sorted(maps.Keys(u.parts)) {
				fmt.Fprintf(&b, "    part %d %+v %s\n", n, u.parts[n].info, hexSHA256(u.parts[n].data))
			}
		}
	}
	return b.String()
}

// object returns a stored object, failing the test if it is absent.
func (m *memBackend) object(t *testing.T, bucket, key string) memObject {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.buckets[bucket].objects[key]
	if !ok {
		t.Fatalf("%s/%s was not stored", bucket, key)
	}
	return *o
}

// onlyUpload returns the one multipart upload of bucket "bkt".
func (m *memBackend) onlyUpload(t *testing.T) *memUpload {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	ups := m.buckets["bkt"].uploads
	if len(ups) != 1 {
		t.Fatalf("%d uploads, want 1", len(ups))
	}
	for _, u := range ups {
		return u
	}
	return nil
}

// unsignedCase is one x-amz-* header that changes what a request does.
type unsignedCase struct {
	name   string // defaults to the header
	method string
	// target prepares the backend and returns the path and query.
	target func(t *testing.T, e *sdkEnv) string
	header string // the header under test
	value  string
	with   http.Header // further headers, always signed
	body   []byte
	// hash is the x-amz-content-sha256 of a header-signed request; ""
	// means the SHA-256 of body. Presigned requests are UNSIGNED-PAYLOAD.
	hash string
	only string // "header" or "presigned": the one auth form that applies
	// status, code and check are what the request does with the header
	// signed: what the header asks for, or the error (code) it provokes,
	// which leaves the backend as it was.
	status int
	code   string
	check  func(t *testing.T, e *sdkEnv, resp *http.Response)
}

func fixed(p string) func(*testing.T, *sdkEnv) string {
	return func(*testing.T, *sdkEnv) string { return p }
}

// partTarget starts a multipart upload of bkt/upload and addresses part 1.
func partTarget(t *testing.T, e *sdkEnv) string {
	t.Helper()
	id, err := e.mem.CreateMultipartUpload(t.Context(), CreateMultipartUploadInput{Bucket: "bkt", Key: "upload"})
	if err != nil {
		t.Fatal(err)
	}
	return "/bkt/upload?partNumber=1&uploadId=" + url.QueryEscape(id)
}

// storedAs checks bkt/upload holds data with the user metadata.
func storedAs(data []byte, user map[string]string) func(*testing.T, *sdkEnv, *http.Response) {
	return func(t *testing.T, e *sdkEnv, _ *http.Response) {
		t.Helper()
		o := e.mem.object(t, "bkt", "upload")
		if !bytes.Equal(o.data, data) || !maps.Equal(o.info.Meta.User, user) {
			t.Fatalf("bkt/upload holds %q with metadata %v, want %q with %v", o.data, o.info.Meta.User, data, user)
		}
	}
}

// storedChecksum checks bkt/upload holds the body with the checksum.
func storedChecksum(alg, value string) func(*testing.T, *sdkEnv, *http.Response) {
	return func(t *testing.T, e *sdkEnv, _ *http.Response) {
		t.Helper()
		o := e.mem.object(t, "bkt", "upload")
		if !bytes.Equal(o.data, unsignedBody) || o.info.Checksum != (Checksum{alg, value}) {
			t.Fatalf("bkt/upload holds %q with checksum %+v, want %s %s", o.data, o.info.Checksum, alg, value)
		}
	}
}

// partHolds checks part 1 of the one upload holds data.
func partHolds(data []byte) func(*testing.T, *sdkEnv, *http.Response) {
	return func(t *testing.T, e *sdkEnv, _ *http.Response) {
		t.Helper()
		u := e.mem.onlyUpload(t)
		e.mem.mu.Lock()
		defer e.mem.mu.Unlock()
		if p := u.parts[1]; p == nil || !bytes.Equal(p.data, data) {
			t.Fatalf("part 1 = %+v, want %q", p, data)
		}
	}
}

// chunkedBody frames unsignedBody as aws-chunked with an unsigned CRC32
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
func chunkedBody() []byte {
	return encodeChunked(unsignedBody, chunkEncoding{chunkSize: 16,
		trailer: "x-amz-checksum-crc32:" + checksumB64("CRC32", unsignedBody)})
}

// unsignedCases lists every x-amz-* header a handler reads, and some no
// handler reads, each with what it does when signed.
func unsignedCases() []unsignedCase {
	return slices.Concat(unsignedCopyCases(), unsignedMetaCases(), unsignedChecksumCases(), unsignedFeatureCases())
}

// hdr builds a header from name, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// put is a PUT of unsignedBody to bkt/upload with the header under test.
func put(name, value string) unsignedCase {
	return unsignedCase{method: http.MethodPut, target: fixed("/bkt/upload"), header: name, value: value, body: unsignedBody}
}

// copyTo is a CopyObject of bkt/secret to bkt/upload.
func copyTo(name, value string) unsignedCase {
	return unsignedCase{method: http.MethodPut, target: fixed("/bkt/upload"), header: name, value: value,
		with: hdr("X-Amz-Copy-Source", "bkt/secret")}
}

// set returns c changed by edit.
func (c unsignedCase) set(edit func(*unsignedCase)) unsignedCase {
	edit(&c)
	return c
}

func (c unsignedCase) wants(status int, code string) unsignedCase {
	c.status, c.code = status, code
	return c
}

func (c unsignedCase) then(check func(*testing.T, *sdkEnv, *http.Response)) unsignedCase {
	c.status, c.check = http.StatusOK, check
	return c
}

func unsignedCopyCases() []unsignedCase {
	alice := map[string]string{"owner": "alice"}
	part := func(c unsignedCase) unsignedCase {
		c.target = partTarget
		c.name = strings.ToLower(c.header) + " on UploadPartCopy"
		return c
	}
	return []unsignedCase{
		put("X-Amz-Copy-Source", "bkt/secret").then(storedAs(unsignedSecret, alice)),
		part(put("X-Amz-Copy-Source", "bkt/secret")).then(partHolds(unsignedSecret)),
		copyTo("X-Amz-Copy-Source-If-Match", `"0123"`).wants(412, "PreconditionFailed"),
		copyTo("X-Amz-Copy-Source-If-None-Match", "*").wants(412, "PreconditionFailed"),
		copyTo("X-Amz-Copy-Source-If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT").wants(412, "PreconditionFailed"),
		copyTo("X-Amz-Copy-Source-If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT").wants(412, "PreconditionFailed"),
		part(copyTo("X-Amz-Copy-Source-If-Match", `"0123"`)).wants(412, "PreconditionFailed"),
		part(copyTo("X-Amz-Copy-Source-Range", "bytes=4-9")).set(func(c *unsignedCase) { c.name = "" }).
			then(partHolds(unsignedSecret[4:10])),
		copyTo("X-Amz-Metadata-Directive", "REPLACE").set(func(c *unsignedCase) { c.with.Set("X-Amz-Meta-Color", "blue") }).
			then(storedAs(unsignedSecret, map[string]string{"color": "blue"})),
	}
}

func unsignedMetaCases() []unsignedCase {
	blue := map[string]string{"color": "blue"}
	createUpload := func(c unsignedCase) unsignedCase {
		c.method, c.target, c.body = http.MethodPost, fixed("/bkt/upload?uploads"), nil
		c.name = strings.ToLower(c.header) + " on CreateMultipartUpload"
		return c
	}
	return []unsignedCase{
		put("X-Amz-Meta-Color", "blue").then(storedAs(unsignedBody, blue)),
		createUpload(put("X-Amz-Meta-Color", "blue")).then(func(t *testing.T, e *sdkEnv, _ *http.Response) {
			if u := e.mem.onlyUpload(t); !maps.Equal(u.info.Meta.User, blue) {
				t.Fatalf("upload metadata %v", u.info.Meta.User)
			}
		}),
		put("X-Amz-Storage-Class", "STANDARD").then(storedAs(unsignedBody, nil)),
		put("X-Amz-Storage-Class", "GLACIER").set(func(c *unsignedCase) { c.name = "x-amz-storage-class GLACIER" }).
			wants(400, "InvalidStorageClass"),
		put("X-Amz-Acl", "private").then(storedAs(unsignedBody, nil)),
		// Read by no handler: the rule is on the prefix.
		put("X-Amz-Security-Token", "token").then(storedAs(unsignedBody, nil)),
		put("X-Amz-Ishtar-Unknown", "1").then(storedAs(unsignedBody, nil)),
	}
}

func unsignedChecksumCases() []unsignedCase {
	crc := checksumB64("CRC32", unsignedBody)
	chunked := func(name, value string) unsignedCase {
		c := put(name, value)
		c.with = hdr("Content-Encoding", "aws-chunked", "X-Amz-Trailer", "x-amz-checksum-crc32",
			"X-Amz-Decoded-Content-Length", strconv.Itoa(len(unsignedBody)))
		c.with.Del(name)
		c.body, c.hash, c.only = chunkedBody(), streamingUnsignedTrailer, "header"
		return c
	}
	plain := func(c unsignedCase) unsignedCase {
		c.name, c.only = strings.ToLower(c.header)+" without aws-chunked", "presigned"
		return c
	}
	cases := []unsignedCase{
		put("X-Amz-Sdk-Checksum-Algorithm", "SHA256").set(func(c *unsignedCase) { c.with = hdr("X-Amz-Checksum-Crc32", crc) }).
			wants(400, "InvalidRequest"),
		chunked("X-Amz-Trailer", "x-amz-checksum-crc32").then(storedChecksum("CRC32", crc)),
		chunked("X-Amz-Decoded-Content-Length", strconv.Itoa(len(unsignedBody))).then(storedChecksum("CRC32", crc)),
		plain(put("X-Amz-Trailer", "x-amz-checksum-crc32")).wants(400, "InvalidRequest"),
		plain(put("X-Amz-Decoded-Content-Length", strconv.Itoa(len(unsignedBody)))).then(storedAs(unsignedBody, nil)),
		{method: http.MethodPost, target: fixed("/bkt/upload?uploads"), header: "X-Amz-Checksum-Algorithm", value: "SHA256",
			status: 200, check: func(t *testing.T, e *sdkEnv, resp *http.Response) {
				got := resp.Header.Get("X-Amz-Checksum-Algorithm")
				if u := e.mem.onlyUpload(t); u.info.ChecksumAlgorithm != "SHA256" || got != "SHA256" {
					t.Fatalf("upload checksum algorithm %q, response %q", u.info.ChecksumAlgorithm, got)
				}
			}},
		{method: http.MethodGet, target: fixed("/bkt/secret"), header: "X-Amz-Checksum-Mode", value: "ENABLED",
			status: 200, check: func(t *testing.T, _ *sdkEnv, resp *http.Response) {
				if got := resp.Header.Get("X-Amz-Checksum-Crc32"); got != unsignedSecretCRC {
					t.Fatalf("x-amz-checksum-crc32 %q, want %q", got, unsignedSecretCRC)
				}
			}},
	}
	for _, a := range checksumAlgorithms {
		v := checksumB64(a.name, unsignedBody)
		cases = append(cases, put(a.header, v).then(storedChecksum(a.name, v)))
	}
	return cases
}

// unsignedFeatureCases are headers asking for what the gateway lacks.
func unsignedFeatureCases() []unsignedCase {
	const notImpl, code = http.StatusNotImplemented, "NotImplemented"
	return []unsignedCase{
		put("X-Amz-Grant-Read", "uri=http://acs.amazonaws.com/groups/global/AllUsers").wants(notImpl, code),
		put("X-Amz-Tagging", "a=b").wants(notImpl, code),
		put("X-Amz-Server-Side-Encryption", "AES256").wants(notImpl, code),
		put("X-Amz-Object-Lock-Mode", "GOVERNANCE").wants(notImpl, code),
		put("X-Amz-Website-Redirect-Location", "/elsewhere").wants(notImpl, code),
		put("X-Amz-Write-Offset-Bytes", "0").wants(notImpl, code),
		{method: http.MethodPut, target: fixed("/newbucket"), header: "X-Amz-Bucket-Object-Lock-Enabled", value: "true",
			status: notImpl, code: code},
	}
}

// sendSigned sends c's request in the auth form mode ("header" or
// "presigned") with c.with signed and c.header signed or, if !signed,
// added after signing.
func sendSigned(t *testing.T, e *sdkEnv, c unsignedCase, target, mode string, signed bool) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), c.method, e.srv.URL+target, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, c.with.Clone())
	if signed {
		req.Header.Set(c.header, c.value)
	}
	if mode == "presigned" {
		req = presignRequest(t, e, req, c.body)
	} else {
		hash := c.hash
		if hash == "" {
			hash = hexSHA256(c.body)
		}
		req.Header.Set("X-Amz-Content-Sha256", hash)
		opsSign(t, req, hash, e.region)
	}
	if !signed {
		req.Header.Set(c.header, c.value)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// presignRequest turns req into the request a presigned URL's holder
// sends: the URL from aws-sdk-go-v2's presigner (every header of req
// signed, none hoisted into the query) and the signed headers.
func presignRequest(t *testing.T, e *sdkEnv, req *http.Request, body []byte) *http.Request {
	t.Helper()
	q := req.URL.Query()
	q.Set("X-Amz-Expires", "300")
	req.URL.RawQuery = q.Encode()
	creds := aws.Credentials{AccessKeyID: opsAccessKey, SecretAccessKey: opsSecretKey}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping, o.DisableHeaderHoisting = true, true })
	u, hdr, err := signer.PresignHTTP(t.Context(), creds, req, unsignedPayload, "s3", e.region, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, err := http.NewRequestWithContext(t.Context(), req.Method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if !strings.EqualFold(k, "Host") {
			out.Header[k] = vs
		}
	}
	return out
}

// wantHeadersNotSigned checks resp is S3's refusal of unsigned headers,
// naming exactly names (lower case, sorted).
func wantHeadersNotSigned(t *testing.T, resp *http.Response, names ...string) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %s, want 403: %s", resp.Status, b)
	}
	var doc errorXML
	if err := parseXML(b, &doc); err != nil {
		t.Fatalf("body %q is not an error document", b)
	}
	want := strings.Join(names, ", ")
	if doc.Code != "AccessDenied" || doc.Message != ErrHeadersNotSigned.Message || doc.HeadersNotSigned != want {
		t.Fatalf("error %s %q HeadersNotSigned %q, want AccessDenied naming %q", doc.Code, doc.Message, doc.HeadersNotSigned, want)
	}
}

// TestUnsignedHeadersRefused sends each behaviour-changing x-amz-* header
// signed, where it does what it asks, and added unsigned to a request
// signed without it, header-signed and presigned: the unsigned one is 403
// AccessDenied naming it, and the backend is left exactly as it was.
func TestUnsignedHeadersRefused(t *testing.T) {
	for _, c := range unsignedCases() {
		if c.name == "" {
			c.name = strings.ToLower(c.header)
		}
		for _, mode := range []string{"header", "presigned"} {
			if c.only != "" && c.only != mode {
				continue
			}
			t.Run(c.name+"/"+mode+"/signed", func(t *testing.T) { runUnsignedCase(t, c, mode, true) })
			t.Run(c.name+"/"+mode+"/unsigned", func(t *testing.T) { runUnsignedCase(t, c, mode, false) })
		}
	}
}

// runUnsignedCase sends c with its header signed or not, on a fresh
// backend, and checks the outcome.
func runUnsignedCase(t *testing.T, c unsignedCase, mode string, signed bool) {
	e := unsignedEnv(t)
	target := c.target(t, e)
	before := e.mem.state()
	resp := sendSigned(t, e, c, target, mode, signed)
	unchanged := func() {
		t.Helper()
		if after := e.mem.state(); after != before {
			t.Fatalf("the backend changed:\nbefore\n%s\nafter\n%s", before, after)
		}
	}
	switch {
	case !signed:
		wantHeadersNotSigned(t, resp, strings.ToLower(c.header))
		unchanged()
	case c.code != "":
		if resp.StatusCode != c.status || opsErrorCode(t, resp) != c.code {
			t.Fatalf("status %s, want %d %s", resp.Status, c.status, c.code)
		}
		unchanged()
	default:
		if resp.StatusCode != c.status {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %s, want %d: %s", resp.Status, c.status, b)
		}
		c.check(t, e, resp)
	}
}

// TestUnsignedHeadersListed: every unsigned x-amz-* header is named, in
// order; a HEAD gets the status alone.
func TestUnsignedHeadersListed(t *testing.T) {
	e := unsignedEnv(t)
	c := unsignedCase{method: http.MethodPut, header: "X-Amz-Copy-Source", value: "bkt/secret", body: unsignedBody,
		with: http.Header{"X-Amz-Meta-Signed": {"yes"}}}
	req, _ := http.NewRequestWithContext(t.Context(), c.method, e.srv.URL+"/bkt/upload", bytes.NewReader(c.body))
	maps.Copy(req.Header, c.with)
	req = presignRequest(t, e, req, c.body)
	req.Header.Set("X-Amz-Copy-Source", "bkt/secret")
	req.Header.Set("x-amz-meta-color", "red")
	req.Header.Add("X-Amz-Meta-Color", "blue")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantHeadersNotSigned(t, resp, "x-amz-copy-source", "x-amz-meta-color")

	req, _ = http.NewRequestWithContext(t.Context(), http.MethodHead, e.srv.URL+"/bkt/secret", nil)
	req = presignRequest(t, e, req, nil)
	req.Header.Set("X-Amz-Checksum-Mode", "ENABLED")
	resp, err = e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amz-Checksum-Crc32") != "" {
		t.Fatalf("HEAD with an unsigned x-amz-checksum-mode: %s %v", resp.Status, resp.Header)
	}
}

// TestUnsignedHeadersBound covers the x-amz-* headers that may stay out of
// SignedHeaders because the signature binds their value some other way,
// and the headers outside x-amz-* that clients leave unsigned.
func TestUnsignedHeadersBound(t *testing.T) {
	v := authVerifier(authTime)
	// Header auth: x-amz-date and x-amz-content-sha256 are in the string to
	// sign and the canonical request, whatever SignedHeaders says.
	r, _ := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(unsignedBody))
	sr := authHandSigned(t, r, hexSHA256(unsignedBody), []string{"host"})
	if sr.Header.Get("X-Amz-Date") == "" || sr.Header.Get("X-Amz-Content-Sha256") == "" {
		t.Fatalf("headers %v", sr.Header)
	}
	if _, err := v.verify(sr); err != nil {
		t.Fatalf("x-amz-date and x-amz-content-sha256 outside SignedHeaders: %v", err)
	}
	// Headers that are not x-amz-*, sent unsigned by real clients.
	r, _ = http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(unsignedBody))
	authSDKSign(t, r, hexSHA256(unsignedBody), authTime)
	for k, val := range map[string]string{"User-Agent": "aws-cli/2", "X-Amzn-Trace-Id": "Root=1", "Amz-Sdk-Invocation-Id": "x",
		"Amz-Sdk-Request": "attempt=1", "Content-Type": "text/plain", "Accept-Encoding": "identity"} {
		r.Header.Set(k, val)
	}
	if _, err := v.verify(asServerRequest(t, r)); err != nil {
		t.Fatalf("unsigned headers outside x-amz-*: %v", err)
	}

	presigned := func(query url.Values, ph string, hdr map[string]string) error {
		t.Helper()
		r, _ := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", bytes.NewReader(unsignedBody))
		r.URL.RawQuery = query.Encode()
		u := authSDKPresign(t, r, time.Hour, authTime, ph)
		pr, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(unsignedBody))
		for k, val := range hdr {
			pr.Header.Set(k, val)
		}
		_, err := v.verify(asServerRequest(t, pr))
		return err
	}
	amzDate := authTime.Format(amzDateFormat)
	h1, h2 := hexSHA256(unsignedBody), hexSHA256([]byte("other"))
	for _, c := range []struct {
		name     string
		query    url.Values
		ph       string
		hdr      map[string]string
		unsigned string // the header named in the refusal, "" if accepted
	}{
		{"x-amz-content-sha256 equal to the signed UNSIGNED-PAYLOAD", nil, "", map[string]string{"X-Amz-Content-Sha256": unsignedPayload}, ""},
		{"x-amz-content-sha256 equal to the signed query hash", url.Values{"X-Amz-Content-Sha256": {h1}}, h1, map[string]string{"X-Amz-Content-Sha256": h1}, ""},
		{"x-amz-content-sha256 other than the signed query hash", url.Values{"X-Amz-Content-Sha256": {h1}}, h1, map[string]string{"X-Amz-Content-Sha256": h2}, "x-amz-content-sha256"},
		{"x-amz-date equal to X-Amz-Date", nil, "", map[string]string{"X-Amz-Date": amzDate}, ""},
		{"x-amz-date other than X-Amz-Date", nil, "", map[string]string{"X-Amz-Date": "20250314T150927Z"}, "x-amz-date"},
		{"x-amz-meta-* equal to a signed query parameter", url.Values{"x-amz-meta-color": {"blue"}}, "", map[string]string{"X-Amz-Meta-Color": "blue"}, ""},
		{"x-amz-meta-* other than a signed query parameter", url.Values{"x-amz-meta-color": {"blue"}}, "", map[string]string{"X-Amz-Meta-Color": "red"}, "x-amz-meta-color"},
		{"x-amz-signature is never signed", nil, "", map[string]string{"X-Amz-Signature": "0"}, "x-amz-signature"},
		{"x-amz-security-token", nil, "", map[string]string{"X-Amz-Security-Token": "token"}, "x-amz-security-token"},
	} {
		err := presigned(c.query, c.ph, c.hdr)
		if c.unsigned == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != "AccessDenied" || e.HeadersNotSigned != c.unsigned {
			t.Errorf("%s: %v, want AccessDenied naming %s", c.name, err, c.unsigned)
		}
	}
}

// TestSDKPresignedUnsignedCopySource: a URL from aws-sdk-go-v2's presign
// client, used as the SDK says (its SignedHeader sent), stores what was
// signed; the same URL with x-amz-copy-source added is refused.
func TestSDKPresignedUnsignedCopySource(t *testing.T) {
	e := unsignedEnv(t)
	pc := s3.NewPresignClient(e.c)
	put, err := pc.PresignPutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("upload"),
		Metadata: map[string]string{"color": "blue"}}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	send := func(extra http.Header) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), put.Method, put.URL, bytes.NewReader(unsignedBody))
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range put.SignedHeader {
			if !strings.EqualFold(k, "Host") {
				req.Header[k] = vs
			}
		}
		maps.Copy(req.Header, extra)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	before := e.mem.state()
	wantHeadersNotSigned(t, send(http.Header{"X-Amz-Copy-Source": {"bkt/secret"}}), "x-amz-copy-source")
	if e.mem.state() != before {
		t.Fatal("the refused copy changed the backend")
	}
	if resp := send(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("the presigned PUT as signed: %s", resp.Status)
	}
	storedAs(unsignedBody, map[string]string{"color": "blue"})(t, e, nil)
}
