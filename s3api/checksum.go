package s3api

// Payload integrity: Content-MD5, x-amz-checksum-* (as a header or an
// aws-chunked trailer), the x-amz-content-sha256 hash and the length, all
// computed while the body streams and settled when it ends.

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strings"
)

// checksumAlgorithm is one of the x-amz-checksum-* algorithms.
type checksumAlgorithm struct {
	name    string // as in x-amz-sdk-checksum-algorithm: "CRC32"
	header  string // "x-amz-checksum-crc32"
	size    int    // digest length in bytes
	newHash func() hash.Hash
}

var (
	castagnoliTable = crc32.MakeTable(crc32.Castagnoli)
	// CRC-64/NVME: polynomial 0xad93d23594c93659, reflected (which is what
	// hash/crc64 tables are), initial value and final xor all ones.
	nvmeTable = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

var checksumAlgorithms = []*checksumAlgorithm{
	{"CRC32", "x-amz-checksum-crc32", crc32.Size, func() hash.Hash { return crc32.NewIEEE() }},
	{"CRC32C", "x-amz-checksum-crc32c", crc32.Size, func() hash.Hash { return crc32.New(castagnoliTable) }},
	{"CRC64NVME", "x-amz-checksum-crc64nvme", crc64.Size, func() hash.Hash { return crc64.New(nvmeTable) }},
	{"SHA1", "x-amz-checksum-sha1", sha1.Size, sha1.New},
	{"SHA256", "x-amz-checksum-sha256", sha256.Size, sha256.New},
}

func checksumByName(name string) *checksumAlgorithm {
	for _, a := range checksumAlgorithms {
		if strings.EqualFold(a.name, name) {
			return a
		}
	}
	return nil
}

func checksumByHeader(header string) *checksumAlgorithm {
	for _, a := range checksumAlgorithms {
		if strings.EqualFold(a.header, header) {
			return a
		}
	}
	return nil
}

// integrity is what the body must match when it ends.
type integrity struct {
	sha256 []byte // x-amz-content-sha256 as bytes, nil unless a real hash
	md5    []byte // Content-MD5, nil if absent
	algo   *checksumAlgorithm
	// want is the expected checksum from the request header; nil when it
	// arrives as a trailer (trailer != "") or there is none.
	want    []byte
	trailer string // the x-amz-trailer checksum header name, lower case
}

// parseIntegrity reads Content-MD5, x-amz-checksum-*,
// x-amz-sdk-checksum-algorithm and x-amz-trailer. Malformed values fail
// here, before any body byte is read. trailerMode says whether the body is
// aws-chunked with trailers.
func parseIntegrity(r *http.Request, trailerMode bool) (integrity, error) {
	var in integrity
	if vs, ok := r.Header["Content-Md5"]; ok {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.Join(vs, ",")))
		if err != nil || len(b) != md5.Size {
			return in, ErrInvalidDigest.WithMessage("The Content-MD5 you specified is not valid.")
		}
		in.md5 = b
	}
	if !checksumHeadersApply(r) {
		return in, nil
	}
	for _, a := range checksumAlgorithms {
		vs := r.Header.Values(a.header)
		if len(vs) == 0 {
			continue
		}
		if in.algo != nil || len(vs) > 1 {
			return in, ErrInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(vs[0]))
		if err != nil || len(b) != a.size {
			return in, ErrInvalidRequest.WithMessage("Value for " + a.header + " header is invalid.")
		}
		in.algo, in.want = a, b
	}
	if err := in.parseTrailer(r, trailerMode); err != nil {
		return in, err
	}
	if v := r.Header.Get("X-Amz-Sdk-Checksum-Algorithm"); v != "" {
		a := checksumByName(strings.TrimSpace(v))
		switch {
		case a == nil:
			return in, ErrInvalidRequest.WithMessage("Value for x-amz-sdk-checksum-algorithm header is invalid.")
		case in.algo == nil:
			return in, ErrInvalidRequest.WithMessage("x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		case in.algo != a:
			return in, ErrInvalidRequest.WithMessage("Value for x-amz-sdk-checksum-algorithm header does not match the checksum sent.")
		}
	}
	return in, nil
}

// parseTrailer reads x-amz-trailer, which names the checksum that follows
// an aws-chunked body.
func (in *integrity) parseTrailer(r *http.Request, trailerMode bool) error {
	v := strings.TrimSpace(strings.Join(r.Header.Values("X-Amz-Trailer"), ","))
	if v == "" {
		return nil
	}
	if !trailerMode {
		return ErrInvalidRequest.WithMessage("x-amz-trailer requires a STREAMING-*-TRAILER x-amz-content-sha256.")
	}
	if strings.Contains(v, ",") {
		return ErrInvalidRequest.WithMessage("Expecting a single x-amz-trailer. Multiple checksum Types are not allowed.")
	}
	a := checksumByHeader(v)
	if a == nil {
		return ErrInvalidRequest.WithMessage("The value specified in the x-amz-trailer header is not supported.")
	}
	if in.algo != nil {
		return ErrInvalidRequest.WithMessage("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	in.algo, in.trailer = a, a.header
	return nil
}

// checksumHeadersApply reports whether x-amz-checksum-* headers describe
// this request's body. On CompleteMultipartUpload they describe the whole
// object (often a composite "...-N" value), not the XML body.
func checksumHeadersApply(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return true
	}
	ps, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return true
	}
	for _, p := range ps {
		if p.key == "uploadId" {
			return false
		}
	}
	return true
}

// verifiedBody streams the decoded payload and settles every integrity
// check at the end: Read returns a *Error instead of io.EOF on failure.
type verifiedBody struct {
	src     io.Reader
	chunked *chunkedReader // nil unless aws-chunked
	p       *payload
	in      integrity
	want    int64 // expected length, -1 if unknown
	n       int64
	sha     hash.Hash
	md5     hash.Hash
	ck      hash.Hash
	err     error // sticky: io.EOF or the failure
}

func newVerifiedBody(src io.Reader, chunked *chunkedReader, p *payload, in integrity, want int64) *verifiedBody {
	b := &verifiedBody{src: src, chunked: chunked, p: p, in: in, want: want}
	if in.sha256 != nil {
		b.sha = sha256.New()
	}
	if in.algo != nil {
		b.ck = in.algo.newHash()
	}
	return b
}

// newMD5 makes the Content-MD5 hash; tests count the calls.
var newMD5 = md5.New

// takeContentMD5 hands the Content-MD5 check over to the caller and returns
// the digest the client sent (nil if none): the body no longer hashes with
// MD5. An upload's Backend hashes with MD5 anyway (the ETag), so the data is
// hashed once. It must be called before the first Read.
func (b *verifiedBody) takeContentMD5() []byte {
	if b.n > 0 || b.err != nil {
		panic("s3api: takeContentMD5 after the body was read")
	}
	d := b.in.md5
	b.in.md5 = nil
	return d
}

func (b *verifiedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.in.md5 != nil && b.md5 == nil {
		b.md5 = newMD5()
	}
	n, err := b.src.Read(p)
	if n > 0 {
		if b.want >= 0 && b.n+int64(n) > b.want {
			b.err = ErrIncompleteBody.WithMessage("The request body is longer than its declared length.")
			return 0, b.err
		}
		b.n += int64(n)
		data := p[:n]
		if b.sha != nil {
			b.sha.Write(data)
		}
		if b.md5 != nil {
			b.md5.Write(data)
		}
		if b.ck != nil {
			b.ck.Write(data)
		}
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		b.err = b.finish()
	case errors.Is(err, io.ErrUnexpectedEOF):
		b.err = ErrIncompleteBody
	default:
		b.err = err
	}
	return n, b.err
}

// finish runs when the source is exhausted.
func (b *verifiedBody) finish() error {
	if b.want >= 0 && b.n != b.want {
		return ErrIncompleteBody
	}
	if b.sha != nil && !bytes.Equal(b.sha.Sum(nil), b.in.sha256) {
		return ErrXAmzContentSHA256Mismatch
	}
	if b.md5 != nil && !bytes.Equal(b.md5.Sum(nil), b.in.md5) {
		return ErrBadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
	}
	if b.ck == nil {
		return io.EOF
	}
	want := b.in.want
	if b.in.trailer != "" {
		v, ok := b.chunked.trailerValue()
		if !ok {
			return ErrInvalidRequest.WithMessage("The trailer " + b.in.trailer + " named in x-amz-trailer was not sent.")
		}
		dec, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(dec) != b.in.algo.size {
			return ErrInvalidRequest.WithMessage("Value for " + b.in.trailer + " trailing header is invalid.")
		}
		want = dec
	}
	got := b.ck.Sum(nil)
	if !bytes.Equal(got, want) {
		return ErrBadDigest.WithMessage("The " + b.in.algo.name + " you specified did not match the calculated checksum.")
	}
	b.p.ckAlgo = b.in.algo.name
	b.p.ckValue = base64.StdEncoding.EncodeToString(got)
	return io.EOF
}
