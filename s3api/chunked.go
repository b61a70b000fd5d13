package s3api

// The aws-chunked body encoding used with x-amz-content-sha256
// STREAMING-*:
//
//	<hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n   (repeated)
//	0[;chunk-signature=<64 hex>]\r\n
//	[<trailer name>:<value>\r\n ... [x-amz-trailer-signature:<64 hex>\r\n]]
//	\r\n
//
// Signed chunks are read whole and verified before any of their bytes is
// released, so a reader never sees data from a chunk whose signature is
// wrong. Unsigned chunks stream straight through. Sizes come from the
// client and are never used to allocate: a signed chunk's buffer grows
// only as its bytes actually arrive, up to maxSignedChunk.

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
)

const (
	maxChunkLine     = 1024     // a chunk header or trailer line, CRLF included
	maxTrailerLines  = 8        // trailer section lines, the empty one excluded
	maxSignedChunk   = 16 << 20 // largest signed chunk we buffer
	chunkReaderSize  = 16 << 10 // bufio size; large reads bypass it
	pooledChunkBuf   = 64 << 10 // initial signed-chunk buffer
	maxPooledChunkBf = 1 << 20  // larger buffers are not kept
)

var chunkBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, pooledChunkBuf)
	return &b
}}

// chunkSigner verifies the chain of chunk signatures that starts at the
// request's seed signature. It reuses one HMAC and fixed buffers: a signed
// upload checks one signature per 64 KiB.
type chunkSigner struct {
	mac    hash.Hash
	prefix []byte                // "<amz date>\n<scope>\n"
	prev   [2 * sha256.Size]byte // hex of the previous signature
	sum    [sha256.Size]byte
	hexBuf [2 * sha256.Size]byte
}

var (
	chunkAlgorithm   = []byte("AWS4-HMAC-SHA256-PAYLOAD\n")
	trailerAlgorithm = []byte("AWS4-HMAC-SHA256-TRAILER\n")
	emptyHashHex     = []byte(emptySHA256)
	chunkNL          = []byte("\n")
)

func newChunkSigner(key []byte, amzDate string, scope credentialScope, seed []byte) *chunkSigner {
	s := &chunkSigner{mac: hmac.New(sha256.New, key), prefix: []byte(amzDate + "\n" + scope.String() + "\n")}
	hex.Encode(s.prev[:], seed)
	return s
}

// verify checks sig for the next link of the chain, whose string to sign
// is algorithm, prefix, the previous signature, then the lines of tail,
// and advances the chain if it holds.
func (s *chunkSigner) verify(algorithm []byte, sig []byte, tail ...[]byte) bool {
	s.mac.Reset()
	s.mac.Write(algorithm)
	s.mac.Write(s.prefix)
	s.mac.Write(s.prev[:])
	for _, t := range tail {
		s.mac.Write(chunkNL)
		s.mac.Write(t)
	}
	want := s.mac.Sum(s.sum[:0])
	if !hmac.Equal(want, sig) {
		return false
	}
	hex.Encode(s.prev[:], want)
	return true
}

// verifyChunk checks a data chunk's signature given the SHA-256 of its data.
func (s *chunkSigner) verifyChunk(dataHash, sig []byte) bool {
	hex.Encode(s.hexBuf[:], dataHash)
	return s.verify(chunkAlgorithm, sig, emptyHashHex, s.hexBuf[:])
}

// verifyTrailer checks x-amz-trailer-signature over the canonical trailer
// ("name:value\n" per trailer).
func (s *chunkSigner) verifyTrailer(canonical string, sig []byte) bool {
	h := sha256.Sum256([]byte(canonical))
	hex.Encode(s.hexBuf[:], h[:])
	return s.verify(trailerAlgorithm, sig, s.hexBuf[:])
}

// chunkedReader decodes an aws-chunked body. It returns io.EOF only after
// the final chunk, every signature, the trailer and the decoded length
// have checked out; anything else ends in a *Error (or the transport's
// error).
type chunkedReader struct {
	br        *bufio.Reader
	signer    *chunkSigner // nil for unsigned chunks
	trailers  bool         // a trailer section follows the final chunk
	sigTrail  bool         // ... and carries x-amz-trailer-signature
	want      string       // the one trailer name allowed, "" for none
	remaining int64        // decoded bytes still to come

	left     int64   // unsigned: bytes left in the current chunk
	buf      []byte  // signed: the verified chunk being handed out
	off      int     // read position in buf
	pooled   *[]byte // buf's pool entry
	needCRLF bool    // a chunk's data was consumed; its CRLF is next

	trailerVal  string
	haveTrailer bool
	err         error
}

// newChunkedReader decodes src. signer is nil for unsigned chunks.
func newChunkedReader(src io.Reader, signer *chunkSigner, trailers, signedTrailer bool, wantTrailer string, decodedLength int64) *chunkedReader {
	c := &chunkedReader{
		br:        bufio.NewReaderSize(src, chunkReaderSize),
		signer:    signer,
		trailers:  trailers,
		sigTrail:  signedTrailer,
		want:      wantTrailer,
		remaining: decodedLength,
	}
	if signer != nil {
		c.pooled = chunkBufPool.Get().(*[]byte)
		c.buf = (*c.pooled)[:0]
	}
	return c
}

// trailerValue returns the trailer named in x-amz-trailer, once the body
// has been read to its end.
func (c *chunkedReader) trailerValue() (string, bool) {
	return c.trailerVal, c.haveTrailer
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if c.off < len(c.buf) {
			n := copy(p, c.buf[c.off:])
			c.off += n
			return n, nil
		}
		if c.left > 0 {
			return c.readUnsigned(p)
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := c.next(); err != nil {
			c.fail(err)
		}
	}
}

// readUnsigned passes data of an unsigned chunk straight to p.
func (c *chunkedReader) readUnsigned(p []byte) (int, error) {
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err != nil {
		c.fail(transportErr(err))
		if n == 0 {
			return 0, c.err
		}
	}
	return n, nil
}

// fail records the terminal result and gives the buffer back.
func (c *chunkedReader) fail(err error) {
	c.err = err
	c.buf, c.off = nil, 0
	if c.pooled != nil {
		chunkBufPool.Put(c.pooled)
		c.pooled = nil
	}
}

// transportErr maps a read error from the connection: running out of
// bytes is IncompleteBody; anything else (a reset, a size limit) passes.
func transportErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrIncompleteBody
	}
	return err
}

func malformedChunk(msg string) error {
	return ErrInvalidRequest.WithMessage("Malformed aws-chunked encoding: " + msg + ".")
}

// next reads the next chunk header (and, for signed chunks, its data).
func (c *chunkedReader) next() error {
	if c.needCRLF {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return malformedChunk("chunk data longer than its size")
		}
		c.needCRLF = false
	}
	line, err := c.readLine()
	if err != nil {
		return err
	}
	size, sig, err := c.parseHeader(line)
	if err != nil {
		return err
	}
	if size > c.remaining {
		return ErrIncompleteBody.WithMessage("The chunks hold more data than x-amz-decoded-content-length.")
	}
	if size == 0 {
		return c.finish(sig)
	}
	c.remaining -= size
	c.needCRLF = true
	if c.signer == nil {
		c.left = size
		return nil
	}
	if err := c.readSigned(size); err != nil {
		return err
	}
	h := sha256.Sum256(c.buf)
	if !c.signer.verifyChunk(h[:], sig) {
		return ErrSignatureDoesNotMatch.WithMessage("The chunk signature we calculated does not match the signature you provided.")
	}
	return nil
}

// readSigned reads a whole signed chunk into c.buf, growing it only as
// bytes arrive.
func (c *chunkedReader) readSigned(size int64) error {
	if size > maxSignedChunk {
		return malformedChunk("chunk larger than " + strconv.Itoa(maxSignedChunk) + " bytes")
	}
	buf := c.buf[:0]
	for int64(len(buf)) < size {
		if len(buf) == cap(buf) {
			nc := int(min(size, int64(max(2*cap(buf), pooledChunkBuf))))
			nb := make([]byte, len(buf), nc)
			copy(nb, buf)
			buf = nb
		}
		end := int(min(int64(cap(buf)), size))
		n, err := io.ReadFull(c.br, buf[len(buf):end])
		buf = buf[:len(buf)+n]
		if err != nil {
			c.buf = buf[:0]
			return transportErr(err)
		}
	}
	if c.pooled != nil && cap(buf) != cap(*c.pooled) {
		if cap(buf) <= maxPooledChunkBf {
			*c.pooled = buf[:0]
		}
	}
	c.buf, c.off = buf, 0
	return nil
}

// readLine returns the next CRLF-terminated line without its CRLF. The
// slice is only valid until the next read.
func (c *chunkedReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxChunkLine {
		return nil, malformedChunk("line too long")
	}
	if err != nil {
		return nil, transportErr(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, malformedChunk("line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

// parseHeader parses "<hex size>" or "<hex size>;chunk-signature=<sig>".
func (c *chunkedReader) parseHeader(line []byte) (int64, []byte, error) {
	sizeHex, ext, hasExt := strings.Cut(string(line), ";")
	if sizeHex == "" || len(sizeHex) > 15 || strings.IndexFunc(sizeHex, notHexDigit) >= 0 {
		return 0, nil, malformedChunk("bad chunk size")
	}
	size, err := strconv.ParseInt(sizeHex, 16, 64)
	if err != nil {
		return 0, nil, malformedChunk("bad chunk size")
	}
	if c.signer == nil {
		if hasExt {
			return 0, nil, malformedChunk("unexpected chunk extension")
		}
		return size, nil, nil
	}
	v, ok := strings.CutPrefix(ext, "chunk-signature=")
	if !hasExt || !ok {
		return 0, nil, malformedChunk("missing chunk-signature")
	}
	sig, err := parseSignature(v)
	if err != nil {
		return 0, nil, malformedChunk("bad chunk-signature")
	}
	return size, sig, nil
}

func notHexDigit(r rune) bool {
	return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
}

// finish handles the final zero-size chunk and what follows it.
func (c *chunkedReader) finish(sig []byte) error {
	if c.signer != nil {
		if !c.signer.verifyChunk(emptySHA256Bytes[:], sig) {
			return ErrSignatureDoesNotMatch.WithMessage("The final chunk signature we calculated does not match the signature you provided.")
		}
	}
	if c.remaining != 0 {
		return ErrIncompleteBody.WithMessage("The chunks hold less data than x-amz-decoded-content-length.")
	}
	if c.trailers {
		if err := c.readTrailers(); err != nil {
			return err
		}
	} else {
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return malformedChunk("data after the final chunk")
		}
	}
	if _, err := c.br.ReadByte(); err == nil {
		return malformedChunk("data after the final chunk")
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	return io.EOF
}

var emptySHA256Bytes = sha256.Sum256(nil)

// readTrailers reads the trailer section up to its empty line and checks
// x-amz-trailer-signature when the mode is signed.
func (c *chunkedReader) readTrailers() error {
	var canonical strings.Builder
	var sig []byte
	for i := 0; ; i++ {
		if i > maxTrailerLines {
			return malformedChunk("too many trailer lines")
		}
		line, err := c.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := strings.Cut(string(line), ":")
		if !ok {
			return malformedChunk("trailer line without ':'")
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if name == "x-amz-trailer-signature" {
			if !c.sigTrail || sig != nil {
				return malformedChunk("unexpected x-amz-trailer-signature")
			}
			if sig, err = parseSignature(value); err != nil {
				return malformedChunk("bad x-amz-trailer-signature")
			}
			continue
		}
		if name != c.want || c.haveTrailer {
			return ErrInvalidRequest.WithMessage("The trailer " + strconv.Quote(name) + " was not declared in x-amz-trailer.")
		}
		c.trailerVal, c.haveTrailer = value, true
		canonical.WriteString(name + ":" + value + "\n")
	}
	if !c.sigTrail {
		return nil
	}
	if sig == nil {
		return ErrSignatureDoesNotMatch.WithMessage("The x-amz-trailer-signature is missing.")
	}
	if !c.signer.verifyTrailer(canonical.String(), sig) {
		return ErrSignatureDoesNotMatch.WithMessage("The trailer signature we calculated does not match the signature you provided.")
	}
	return nil
}
