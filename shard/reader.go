package shard

import (
	"fmt"
	"io"
)

// Open opens a whole sealed segment, as Seal made it, and appends the
// plaintext to dst. It needs no block count: the segment ends where sealed
// ends, and the last-block flag makes a segment cut at a block boundary
// fail. Errors wrap ErrUnauthenticated.
func (c *SegmentCipher) Open(dst, sealed []byte) ([]byte, error) {
	total, _, err := c.plainLayout(int64(len(sealed)))
	if err != nil {
		return dst, err
	}
	return c.OpenBlocks(dst, sealed, 0, total)
}

// plainLayout returns the block count and plaintext size of a sealed
// segment of sealedSize bytes.
func (c *SegmentCipher) plainLayout(sealedSize int64) (int, int64, error) {
	full := int64(c.blockSize + Overhead)
	if sealedSize < Overhead || (sealedSize%full != 0 && sealedSize%full < Overhead) {
		return 0, 0, fmt.Errorf("shard: sealed segment of %d bytes cannot hold whole blocks: %w", sealedSize, ErrUnauthenticated)
	}
	total := (sealedSize + full - 1) / full
	return int(total), sealedSize - total*Overhead, nil
}

// Reader reads the plaintext of a sealed segment at any offset, opening
// only the blocks each read needs (age's random-access reader). It is an
// io.ReaderAt, safe for parallel ReadAt calls when src is.
type Reader struct {
	c     *SegmentCipher
	src   io.ReaderAt
	total int
	size  int64
}

var _ io.ReaderAt = (*Reader)(nil)

// NewReader returns a Reader of the sealed segment of sealedSize bytes
// held in src (for example the data shards of a segment, in order). An
// impossible sealedSize gives an error wrapping ErrUnauthenticated.
func (c *SegmentCipher) NewReader(src io.ReaderAt, sealedSize int64) (*Reader, error) {
	total, size, err := c.plainLayout(sealedSize)
	if err != nil {
		return nil, err
	}
	return &Reader{c: c, src: src, total: total, size: size}, nil
}

// Size returns the plaintext size of the segment.
func (r *Reader) Size() int64 { return r.size }

// ReadAt reads len(p) plaintext bytes at off. Like any io.ReaderAt it
// returns io.EOF when it reads fewer bytes because the segment ends. A
// block that fails to open gives an error wrapping ErrUnauthenticated,
// and p then holds no plaintext of that block.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("shard: read at negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	bs := int64(r.c.blockSize)
	full := bs + Overhead
	first, last := off/bs, (off+want-1)/bs
	lo, hi := first*full, min((last+1)*full, r.size+int64(r.total)*Overhead)
	sealed := make([]byte, hi-lo)
	if err := readFull(r.src, sealed, lo); err != nil {
		return 0, fmt.Errorf("shard: read sealed blocks %d-%d: %w", first, last, err)
	}
	plain, err := r.c.OpenBlocks(sealed[:0:0], sealed, int(first), r.total)
	if err != nil {
		return 0, err
	}
	n := copy(p, plain[off-first*bs:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
