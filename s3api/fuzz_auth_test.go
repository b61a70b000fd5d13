package s3api

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseAuthorization: never panics, and whatever parses renders back
// to a header that parses to the same thing.
func FuzzParseAuthorization(f *testing.F) {
	sig := strings.Repeat("0123456789abcdef", 4)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250314/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/20250314/r/s3/aws4_request,SignedHeaders=content-md5;host,Signature=" + sig)
	f.Add("AWS4-HMAC-SHA256  Signature=" + sig + " , Credential=A/20250101/x/s3/aws4_request , SignedHeaders=host")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=")
	for _, r := range seedRequests(f) {
		if v := r.Header.Get("Authorization"); v != "" {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, v string) {
		a, err := parseAuthorization(v)
		if err != nil {
			return
		}
		if len(a.signature) != 32 || len(a.signedHeaders) == 0 || a.scope.accessKey == "" {
			t.Fatalf("accepted %q as %+v", v, a)
		}
		again := sigV4Algorithm + " Credential=" + a.scope.accessKey + "/" + a.scope.String() +
			", SignedHeaders=" + strings.Join(a.signedHeaders, ";") + ", Signature=" + hex.EncodeToString(a.signature)
		b, err := parseAuthorization(again)
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", again, err)
		}
		if b.scope != a.scope || strings.Join(b.signedHeaders, ";") != strings.Join(a.signedHeaders, ";") || !bytes.Equal(a.signature, b.signature) {
			t.Fatalf("round trip %+v != %+v", a, b)
		}
	})
}

// FuzzParsePresign: never panics; what parses is within S3's limits.
func FuzzParsePresign(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0")
	f.Add("a=b&&c=%zz&X-Amz-Signature=;")
	for _, r := range seedRequests(f) {
		if strings.Contains(r.URL.RawQuery, "X-Amz-Signature") {
			f.Add(r.URL.RawQuery)
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err != nil {
			return
		}
		_ = canonicalQueryString(q, "X-Amz-Signature")
		pp, err := parsePresign(q)
		if err != nil {
			return
		}
		if pp.expires < time.Second || pp.expires > maxPresignExpiry || len(pp.signature) != 32 ||
			pp.scope.date != pp.date.Format(scopeDateFormat) || !hasHost(pp.signedHeaders) {
			t.Fatalf("accepted %q as %+v", raw, pp)
		}
	})
}

func hasHost(names []string) bool {
	for _, n := range names {
		if n == "host" {
			return true
		}
	}
	return false
}

// seedRequests are the captured and documented requests, as seeds.
func seedRequests(f *testing.F) []*http.Request {
	var out []*http.Request
	files, _ := filepath.Glob(filepath.Join("testdata", "captured", "*", "*.http"))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		r, err := http.ReadRequest(bufioReader(raw))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, r)
	}
	docs, _ := filepath.Glob(filepath.Join("testdata", "sigv4", "s3", "*.req"))
	for _, p := range docs {
		out = append(out, readReqFile(f, p))
	}
	return out
}

// fuzzScope and friends are the fixed signing context of
// FuzzChunkedReader's signed modes.
var (
	fuzzScope   = credentialScope{"AKIDFUZZ", "20250314", "us-east-1", "s3"}
	fuzzDate    = "20250314T150926Z"
	fuzzKey     = deriveSigningKey("fuzz-secret", fuzzScope.date, fuzzScope.region, fuzzScope.service)
	fuzzSeedSig = strings.Repeat("5eed", 16)
)

const fuzzTrailer = "x-amz-checksum-crc32"

// fuzzEncode is a valid aws-chunked body for FuzzChunkedReader's seeds.
func fuzzEncode(data []byte, mode uint8, chunk int) []byte {
	e := chunkEncoding{amzDate: fuzzDate, scope: fuzzScope, seed: fuzzSeedSig, chunkSize: chunk}
	if mode != 2 {
		e.key = fuzzKey
	}
	if mode != 0 {
		e.trailer = fuzzTrailer + ":" + checksumB64("CRC32", data)
		e.signTrail = mode == 1
	}
	return encodeChunked(data, e)
}

// FuzzChunkedReader decodes arbitrary bodies in the three streaming modes
// (0 signed, 1 signed with a signed CRC32 trailer, 2 unsigned with a CRC32
// trailer). It must never panic; in signed modes what comes out is always
// whole chunks whose signature chain holds; and the body ends in io.EOF
// only if every check passed: length, signatures, and the trailing CRC32.
func FuzzChunkedReader(f *testing.F) {
	for mode := range uint8(3) {
		for _, n := range []int{0, 1, 100, 5000} {
			data := authPattern(n)
			f.Add(fuzzEncode(data, mode, 1024), mode, uint32(n))
		}
	}
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"), uint8(2), uint32(5))
	f.Add([]byte("ffffffff;chunk-signature=00\r\n"), uint8(0), uint32(1<<31))
	f.Fuzz(func(t *testing.T, body []byte, mode uint8, decoded uint32) {
		mode %= 3
		var signer *chunkSigner
		if mode != 2 {
			seed, _ := hex.DecodeString(fuzzSeedSig)
			signer = newChunkSigner(fuzzKey, fuzzDate, fuzzScope, seed)
		}
		cr := newChunkedReader(bytes.NewReader(body), signer, mode != 0, mode == 1, fuzzTrailer, int64(decoded))
		in := integrity{}
		if mode != 0 {
			in.algo, in.trailer = checksumByName("CRC32"), fuzzTrailer
		}
		p := &payload{}
		vb := newVerifiedBody(cr, cr, p, in, int64(decoded))
		var out bytes.Buffer
		buf := make([]byte, 777)
		var err error
		for i := 0; ; i++ {
			if i > len(body)+10 {
				t.Fatal("reader makes no progress")
			}
			var n int
			n, err = vb.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if mode != 2 {
			checkReleasedChunks(t, body, out.Bytes(), errors.Is(err, io.EOF))
		}
		if !errors.Is(err, io.EOF) {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		if int64(out.Len()) != int64(decoded) {
			t.Fatalf("EOF after %d bytes, declared %d", out.Len(), decoded)
		}
		if mode != 0 {
			v, ok := cr.trailerValue()
			if !ok || v != checksumB64("CRC32", out.Bytes()) {
				t.Fatalf("EOF with trailer %q for CRC32 %08x", v, crc32.ChecksumIEEE(out.Bytes()))
			}
			if a, got := p.checksum(); a != "CRC32" || got != v {
				t.Fatalf("checksum() = %s %s", a, got)
			}
		}
	})
}

// checkReleasedChunks parses body leniently and checks that out is the
// data of a prefix of its chunks, each with a valid signature in the
// chain from the seed. With complete, all chunks through the final one
// must be valid.
func checkReleasedChunks(t *testing.T, body, out []byte, complete bool) {
	t.Helper()
	prev := fuzzSeedSig
	var valid []byte
	sawFinal := false
	for off := 0; off < len(body); {
		eol := bytes.Index(body[off:], []byte("\r\n"))
		if eol < 0 {
			break
		}
		sizeHex, sig, ok := strings.Cut(string(body[off:off+eol]), ";chunk-signature=")
		size, err := strconv.ParseUint(sizeHex, 16, 31)
		data := off + eol + 2
		if !ok || err != nil || uint64(len(body)-data) < size {
			break
		}
		chunk := body[data : data+int(size)]
		want := hex.EncodeToString(hmacSHA256(fuzzKey, "AWS4-HMAC-SHA256-PAYLOAD\n"+fuzzDate+"\n"+fuzzScope.String()+"\n"+prev+"\n"+emptySHA256+"\n"+hexSHA256(chunk)))
		if !hmac.Equal([]byte(want), []byte(strings.ToLower(sig))) {
			break
		}
		prev = want
		if size == 0 {
			sawFinal = true
			break
		}
		valid = append(valid, chunk...)
		off = data + int(size) + 2
	}
	if !bytes.HasPrefix(valid, out) {
		t.Fatalf("released %d bytes that are not verified chunk data (%d verified)", len(out), len(valid))
	}
	if complete && (!sawFinal || !bytes.Equal(out, valid)) {
		t.Fatalf("EOF without a valid chain to the final chunk")
	}
}
