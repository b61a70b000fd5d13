package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// chunkEncoding describes an aws-chunked body to build in tests. The
// signatures come from the same HMAC primitives as the decoder's, which
// the documented chunk examples (TestSigV4DocExamples) pin down.
type chunkEncoding struct {
	key       []byte // signing key; nil for unsigned chunks
	amzDate   string
	scope     credentialScope
	seed      string // request signature, hex
	chunkSize int
	trailer   string // "x-amz-checksum-crc32:VALUE", or ""
	signTrail bool
}

func (e chunkEncoding) sign(prev, algorithm, tail string) string {
	return hex.EncodeToString(hmacSHA256(e.key, algorithm+"\n"+e.amzDate+"\n"+e.scope.String()+"\n"+prev+"\n"+tail))
}

// encodeChunked frames data as aws-chunked.
func encodeChunked(data []byte, e chunkEncoding) []byte {
	var b bytes.Buffer
	prev := e.seed
	for off := 0; ; off = min(off+e.chunkSize, len(data)) {
		end := min(off+e.chunkSize, len(data))
		chunk := data[off:end]
		fmt.Fprintf(&b, "%x", len(chunk))
		if e.key != nil {
			prev = e.sign(prev, "AWS4-HMAC-SHA256-PAYLOAD", emptySHA256+"\n"+hexSHA256(chunk))
			b.WriteString(";chunk-signature=" + prev)
		}
		b.WriteString("\r\n")
		if len(chunk) == 0 {
			break
		}
		b.Write(chunk)
		b.WriteString("\r\n")
	}
	canonical := ""
	if e.trailer != "" {
		b.WriteString(e.trailer + "\r\n")
		canonical = e.trailer + "\n"
	}
	if e.signTrail {
		b.WriteString("x-amz-trailer-signature:" + e.sign(prev, "AWS4-HMAC-SHA256-TRAILER", hexSHA256([]byte(canonical))) + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// streamingOptions describe a streaming PUT for streamingRequest.
type streamingOptions struct {
	mode      string // x-amz-content-sha256
	chunkSize int
	algo      string // trailer checksum algorithm ("CRC32"...), or ""
	// trailerValue overrides the computed trailer checksum (base64).
	trailerValue string
	headers      map[string]string
	// edit changes the encoded body before it is sent.
	edit func([]byte) []byte
}

// streamingRequest builds the server side of an aws-chunked PUT whose
// seed signature comes from the SDK signer.
func streamingRequest(t testing.TB, data []byte, o streamingOptions) *http.Request {
	t.Helper()
	e := chunkEncoding{amzDate: authTime.Format(amzDateFormat), chunkSize: o.chunkSize,
		scope: credentialScope{authKeyID, authTime.Format(scopeDateFormat), authRegion, "s3"}}
	if o.mode != streamingUnsignedTrailer {
		e.key = deriveSigningKey(authSecret, e.scope.date, e.scope.region, e.scope.service)
	}
	hdr := map[string]string{
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data)),
	}
	if o.algo != "" {
		a := checksumByName(o.algo)
		v := o.trailerValue
		if v == "" {
			h := a.newHash()
			h.Write(data)
			v = base64.StdEncoding.EncodeToString(h.Sum(nil))
		}
		e.trailer = a.header + ":" + v
		hdr["X-Amz-Trailer"] = a.header
		hdr["X-Amz-Sdk-Checksum-Algorithm"] = a.name
	}
	for k, v := range o.headers {
		hdr[k] = v
	}
	e.signTrail = o.mode == streamingSignedTrailer
	e.seed = strings.Repeat("0", 64)
	dummy := encodeChunked(data, e)
	if o.edit != nil {
		dummy = o.edit(dummy)
	}
	size := len(dummy)
	r, err := http.NewRequest(http.MethodPut, "http://"+authHost+"/bucket/key", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
	r.ContentLength = int64(size)
	authSDKSign(t, r, o.mode, authTime)
	_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
	e.seed = sig
	body := encodeChunked(data, e)
	if o.edit != nil {
		body = o.edit(body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return asServerRequest(t, r)
}

// chunkSpans parses the framing of an aws-chunked body: for each chunk,
// the offsets of its header line, its data, and its end (after the CRLF).
func chunkSpans(b []byte) [][3]int {
	var spans [][3]int
	for off := 0; off < len(b); {
		eol := bytes.Index(b[off:], []byte("\r\n"))
		if eol < 0 {
			break
		}
		sizeHex, _, _ := strings.Cut(string(b[off:off+eol]), ";")
		size, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || size == 0 {
			break
		}
		data := off + eol + 2
		spans = append(spans, [3]int{off, data, data + int(size) + 2})
		off = data + int(size) + 2
	}
	return spans
}

func authPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestChunkedModes(t *testing.T) {
	for _, mode := range []string{streamingSigned, streamingSignedTrailer, streamingUnsignedTrailer} {
		for _, size := range []int{0, 1, 8191, 65536, 200_000} {
			for _, algo := range []string{"", "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"} {
				if algo != "" && mode == streamingSigned {
					continue
				}
				name := fmt.Sprintf("%s/%d/%s", mode, size, algo)
				data := authPattern(size)
				r := streamingRequest(t, data, streamingOptions{mode: mode, chunkSize: 65536, algo: algo})
				p, err := authVerifier(authTime).verify(r)
				if err != nil {
					t.Fatalf("%s: verify: %v", name, err)
				}
				if p.Size != int64(size) {
					t.Fatalf("%s: size %d", name, p.Size)
				}
				got, err := drainPayload(p)
				if err != nil {
					t.Fatalf("%s: body: %v", name, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("%s: body differs", name)
				}
				if a, v := p.checksum(); a != algo || (algo != "" && v == "") {
					t.Fatalf("%s: checksum() = %q %q", name, a, v)
				}
			}
		}
	}
}

// TestChunkedSmallReads reads one byte at a time, so every state of the
// decoder is crossed mid-read.
func TestChunkedSmallReads(t *testing.T) {
	data := authPattern(70_000)
	for _, mode := range []string{streamingSigned, streamingUnsignedTrailer} {
		algo := "CRC32"
		if mode == streamingSigned {
			algo = ""
		}
		r := streamingRequest(t, data, streamingOptions{mode: mode, chunkSize: 8192, algo: algo})
		p, err := authVerifier(authTime).verify(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(p.Body))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes, %v", mode, len(got), err)
		}
	}
}

// TestChunkedRejects tampers with signed chunked bodies. No byte of a
// chunk whose signature fails may come out, and the body never ends in
// io.EOF.
func TestChunkedRejects(t *testing.T) {
	data := authPattern(3*8192 + 100)
	cases := []struct {
		name     string
		o        streamingOptions
		code     string
		maxBytes int // decoded bytes that may come out before the error
		// unsigned chunks stream unverified data; the failure comes at the end
		unsigned bool
	}{
		{"data byte in chunk 2", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte {
			b[chunkSpans(b)[1][1]+5] ^= 1
			return b
		}}, "SignatureDoesNotMatch", 8192, false},
		{"chunk signature", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + 20
			b[i] = authFlipHex(b[i])
			return b
		}}, "SignatureDoesNotMatch", 0, false},
		{"final chunk signature", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte {
			i := bytes.LastIndex(b, []byte("chunk-signature=")) + 20
			b[i] = authFlipHex(b[i])
			return b
		}}, "SignatureDoesNotMatch", len(data), false},
		{"chunks reordered", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte {
			sp := chunkSpans(b)
			c1, c2 := b[sp[0][0]:sp[0][2]], b[sp[1][0]:sp[1][2]]
			return append(append(append([]byte(nil), c2...), c1...), b[sp[1][2]:]...)
		}}, "SignatureDoesNotMatch", 0, false},
		{"final chunk dropped", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte {
			return b[:bytes.LastIndex(b, []byte("\r\n0;chunk-signature="))+2]
		}}, "IncompleteBody", len(data), false},
		{"trailer signature", streamingOptions{mode: streamingSignedTrailer, algo: "CRC32", edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + 30
			b[i] = authFlipHex(b[i])
			return b
		}}, "SignatureDoesNotMatch", len(data), false},
		{"trailer value (signed)", streamingOptions{mode: streamingSignedTrailer, algo: "CRC32", trailerValue: "AAAAAA=="}, "BadDigest", len(data), false},
		{"trailer value (unsigned)", streamingOptions{mode: streamingUnsignedTrailer, algo: "CRC32C", trailerValue: "AAAAAA=="}, "BadDigest", len(data), false},
		{"trailer missing", streamingOptions{mode: streamingUnsignedTrailer, algo: "SHA256", edit: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-checksum-sha256:"))
			return append(b[:i], "\r\n"...)
		}}, "InvalidRequest", len(data), false},
		{"undeclared trailer", streamingOptions{mode: streamingUnsignedTrailer, algo: "SHA1", edit: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-sha1:"), []byte("x-amz-checksum-crc32:"), 1)
		}}, "InvalidRequest", len(data), false},
		{"unsigned data byte", streamingOptions{mode: streamingUnsignedTrailer, algo: "CRC32", edit: func(b []byte) []byte {
			b[chunkSpans(b)[0][1]+10] ^= 1
			return b
		}}, "BadDigest", len(data), true},
		{"decoded length larger", streamingOptions{mode: streamingSigned, headers: map[string]string{"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data) + 1)}}, "IncompleteBody", len(data), false},
		{"decoded length smaller", streamingOptions{mode: streamingSigned, headers: map[string]string{"X-Amz-Decoded-Content-Length": strconv.Itoa(len(data) - 1)}}, "IncompleteBody", 3 * 8192, false},
		{"truncated", streamingOptions{mode: streamingUnsignedTrailer, edit: func(b []byte) []byte { return b[:len(b)/2] }}, "IncompleteBody", len(data), false},
		{"bytes after end", streamingOptions{mode: streamingSigned, edit: func(b []byte) []byte { return append(b, 'x') }}, "InvalidRequest", len(data), false},
		{"LF without CR", streamingOptions{mode: streamingUnsignedTrailer, edit: func(b []byte) []byte {
			return append([]byte(strings.Replace(string(b[:8]), "\r\n", "\n", 1)), b[8:]...)
		}}, "InvalidRequest", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.chunkSize = 8192
			r := streamingRequest(t, data, o)
			p, err := authVerifier(authTime).verify(r)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			got, err := drainPayload(p)
			wantAuthCode(t, err, c.code)
			if len(got) > c.maxBytes {
				t.Fatalf("%d bytes came out, at most %d allowed", len(got), c.maxBytes)
			}
			if !c.unsigned && !bytes.Equal(got, data[:len(got)]) {
				t.Fatal("released bytes differ from the data")
			}
			// The error is sticky.
			if n, err2 := p.Body.Read(make([]byte, 10)); n != 0 || !errors.Is(err2, err) {
				t.Fatalf("second read: %d %v", n, err2)
			}
		})
	}
}

// TestChunkHeaderParsing feeds malformed framing straight to the decoder.
func TestChunkHeaderParsing(t *testing.T) {
	sig := strings.Repeat("a", 64)
	cases := []struct {
		name, body string
		signed     bool
		code       string
		decoded    int64 // x-amz-decoded-content-length, 5 if 0
	}{
		{"empty", "", false, "IncompleteBody", 0},
		{"size not hex", "zz\r\n", false, "InvalidRequest", 0},
		{"size with sign", "+5\r\nhello\r\n0\r\n\r\n", false, "InvalidRequest", 0},
		{"size 0x", "0x5\r\nhello\r\n0\r\n\r\n", false, "InvalidRequest", 0},
		{"size beyond decoded length", "fffffffffff\r\n", false, "IncompleteBody", 0},
		{"size 16 digits", "7fffffffffffffff\r\n", false, "InvalidRequest", 0},
		{"size too many digits", "0000000000000000005\r\nhello\r\n", false, "InvalidRequest", 0},
		{"extension on unsigned", "5;foo=bar\r\nhello\r\n0\r\n\r\n", false, "InvalidRequest", 0},
		{"no CRLF", "5\nhello\r\n0\r\n\r\n", false, "InvalidRequest", 0},
		{"long line", strings.Repeat("0", 5000) + "\r\n", false, "InvalidRequest", 0},
		{"data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", false, "InvalidRequest", 0},
		{"missing final CRLF", "5\r\nhello\r\n0\r\n", false, "IncompleteBody", 0},
		{"trailer garbage", "5\r\nhello\r\n0\r\nno colon here\r\n\r\n", false, "InvalidRequest", 0},
		{"signed without signature", "5\r\nhello\r\n", true, "InvalidRequest", 0},
		{"signed short signature", "5;chunk-signature=abc\r\nhello\r\n", true, "InvalidRequest", 0},
		{"signed other extension", "5;chunk-sig=" + sig + "\r\nhello\r\n", true, "InvalidRequest", 0},
		{"signed too large", "1000001;chunk-signature=" + sig + "\r\n", true, "InvalidRequest", 1 << 40},
		{"signed bad signature", "5;chunk-signature=" + sig + "\r\nhello\r\n", true, "SignatureDoesNotMatch", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var signer *chunkSigner
			if c.signed {
				signer = newChunkSigner([]byte("k"), "20250314T150926Z", credentialScope{"a", "20250314", "r", "s3"}, make([]byte, 32))
			}
			if c.decoded == 0 {
				c.decoded = 5
			}
			cr := newChunkedReader(strings.NewReader(c.body), signer, !c.signed, false, "", c.decoded)
			got, err := io.ReadAll(cr)
			wantAuthCode(t, err, c.code)
			if c.signed && len(got) > 0 {
				t.Fatalf("released %q from an unverified chunk", got)
			}
		})
	}
}

// TestChunkedHugeSizeAllocatesNothing sends a signed chunk header that
// claims 16 MiB and then stops: the decoder must fail without having
// allocated for the claim.
func TestChunkedHugeSizeAllocatesNothing(t *testing.T) {
	body := fmt.Sprintf("%x;chunk-signature=%s\r\nshort", maxSignedChunk, strings.Repeat("a", 64))
	signer := newChunkSigner([]byte("k"), "20250314T150926Z", credentialScope{"a", "20250314", "r", "s3"}, make([]byte, 32))
	cr := newChunkedReader(strings.NewReader(body), signer, false, false, "", 1<<40)
	if _, err := cr.readLine(); err != nil {
		t.Fatal(err)
	}
	err := cr.readSigned(maxSignedChunk)
	wantAuthCode(t, err, "IncompleteBody")
	if cap(cr.buf) > pooledChunkBuf {
		t.Fatalf("buffer grew to %d for 5 bytes", cap(cr.buf))
	}
	// Bytes that do arrive grow it, in steps.
	cr = newChunkedReader(bytes.NewReader(make([]byte, 300_000)), signer, false, false, "", 1<<40)
	err = cr.readSigned(maxSignedChunk)
	wantAuthCode(t, err, "IncompleteBody")
	if c := cap(cr.buf); c < 300_000 || c > 2*300_000 {
		t.Fatalf("buffer capacity %d after 300000 bytes", c)
	}
}

func TestStreamingRequiresDecodedLength(t *testing.T) {
	r := streamingRequest(t, authPattern(10), streamingOptions{mode: streamingSigned, chunkSize: 8192,
		headers: map[string]string{"X-Amz-Decoded-Content-Length": ""}})
	_, err := authVerifier(authTime).verify(r)
	wantAuthCode(t, err, "MissingContentLength")
	r = streamingRequest(t, authPattern(10), streamingOptions{mode: streamingSigned, chunkSize: 8192,
		headers: map[string]string{"X-Amz-Decoded-Content-Length": "-3"}})
	_, err = authVerifier(authTime).verify(r)
	wantAuthCode(t, err, "InvalidArgument")
}

// BenchmarkChunkedDecode measures verify plus reading a 16 MiB aws-chunked
// body in each mode, with the chunk size minio-go (restic) and the AWS
// SDKs use.
func BenchmarkChunkedDecode(b *testing.B) {
	data := authPattern(16 << 20)
	for _, c := range []struct {
		mode, algo string
		chunk      int
	}{
		{streamingSigned, "", 64 << 10},
		{streamingSignedTrailer, "CRC32", 64 << 10},
		{streamingUnsignedTrailer, "CRC32", 64 << 10},
		{streamingUnsignedTrailer, "CRC32C", 1 << 20},
		{streamingUnsignedTrailer, "CRC64NVME", 1 << 20},
		{streamingUnsignedTrailer, "SHA256", 1 << 20},
	} {
		b.Run(fmt.Sprintf("%s/%s/%dK", c.mode, c.algo, c.chunk>>10), func(b *testing.B) {
			r := streamingRequest(b, data, streamingOptions{mode: c.mode, chunkSize: c.chunk, algo: c.algo})
			raw, err := io.ReadAll(r.Body)
			if err != nil {
				b.Fatal(err)
			}
			v := authVerifier(authTime)
			buf := make([]byte, 1<<20)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r.Body = io.NopCloser(bytes.NewReader(raw))
				p, err := v.verify(r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{p.Body}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
