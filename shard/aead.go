package shard

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
)

// Overhead is the number of bytes the AEAD adds to each block (the tag).
const Overhead = 16

// MaxBlockSize bounds the AEAD block (and Merkle leaf) size.
const MaxBlockSize = 16 << 20

// labelSegment is the HKDF info prefix of segment subkeys.
const labelSegment = "ishtar segment v1\x00"

// SegmentContext names one sealing of one segment. The subkey is derived
// from the data key and all three fields, so blocks never verify under
// another object, segment or sealing; Salt is fresh randomness per sealing
// so re-sealing the same segment number never reuses a nonce.
type SegmentContext struct {
	Object  [16]byte // random per object or multipart upload
	Segment uint64   // segment number (multipart: part<<32 | index)
	Salt    [16]byte // random per sealing
}

// SegmentCipher seals a segment as fixed-size blocks (BlockSize plaintext
// bytes + Overhead tag each; the last may be shorter) with AES-256-GCM
// under a subkey of the segment. Nonces bind the block index and a
// last-block flag (the STREAM construction), so truncation, reordering and
// splicing fail to open. A SegmentCipher is safe for concurrent use.
type SegmentCipher struct {
	aead      cipher.AEAD
	blockSize int
	nonces    sync.Pool // *[12]byte, so an interface call needs no allocation
}

// NewSegmentCipher derives the subkey HKDF-SHA256(dk, salt=ctx.Salt,
// info="ishtar segment v1\x00"||Object||Segment as uint64 big-endian) and
// returns a cipher for blocks of blockSize plaintext bytes. It panics on a
// zero key or a block size outside [1, MaxBlockSize].
func NewSegmentCipher(dk DataKey, ctx SegmentContext, blockSize int) *SegmentCipher {
	checkBlockSize(blockSize)
	info := make([]byte, 0, len(labelSegment)+16+8)
	info = append(info, labelSegment...)
	info = append(info, ctx.Object[:]...)
	info = binary.BigEndian.AppendUint64(info, ctx.Segment)
	key := derive(dk.bytes()[:], ctx.Salt[:], string(info))
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("shard: aes: %v", err))
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("shard: gcm: %v", err))
	}
	c := &SegmentCipher{aead: a, blockSize: blockSize}
	c.nonces.New = func() any { return new([12]byte) }
	return c
}

func checkBlockSize(blockSize int) {
	if blockSize <= 0 || blockSize > MaxBlockSize {
		panic(fmt.Sprintf("shard: invalid block size %d", blockSize))
	}
}

// BlockCount returns the number of AEAD blocks of a segment of plainSize
// bytes: ceil(plainSize/blockSize), and 1 for the empty segment, which
// seals to one empty final block.
func BlockCount(plainSize int64, blockSize int) int {
	checkBlockSize(blockSize)
	if plainSize < 0 {
		panic(fmt.Sprintf("shard: negative segment size %d", plainSize))
	}
	return int(max(1, (plainSize+int64(blockSize)-1)/int64(blockSize)))
}

// SealedSize returns the size of a sealed segment of plainSize bytes:
// plainSize + Overhead per block (so 16 for the empty segment).
func SealedSize(plainSize int64, blockSize int) int64 {
	return plainSize + int64(BlockCount(plainSize, blockSize))*Overhead
}

// setNonce writes the 12-byte nonce of block i: the index as an 11-byte
// big-endian counter, then 1 for the last block of the segment, else 0.
func setNonce(n *[12]byte, i int, last bool) {
	n[0], n[1], n[2] = 0, 0, 0
	binary.BigEndian.PutUint64(n[3:11], uint64(i))
	n[11] = 0
	if last {
		n[11] = 1
	}
}

// Seal appends the whole sealed segment to dst and returns it; it
// allocates nothing when dst has room for SealedSize bytes more. dst and
// plaintext must not overlap.
func (c *SegmentCipher) Seal(dst, plaintext []byte) []byte {
	total := BlockCount(int64(len(plaintext)), c.blockSize)
	dst = slices.Grow(dst, len(plaintext)+total*Overhead)
	nonce := c.nonces.Get().(*[12]byte)
	defer c.nonces.Put(nonce)
	for i := range total {
		n := min(c.blockSize, len(plaintext))
		setNonce(nonce, i, i == total-1)
		dst = c.aead.Seal(dst, nonce[:], plaintext[:n], nil)
		plaintext = plaintext[n:]
	}
	return dst
}

// OpenBlocks opens the consecutive sealed blocks first, first+1, ... held
// in sealed, out of a segment of totalBlocks blocks, and appends their
// plaintext to dst. Every block but the segment's last must be whole
// (BlockSize+Overhead bytes); the number of blocks opened is implied by
// len(sealed), so callers check the length of what they asked for. Any
// altered, truncated, extended, reordered or foreign block gives an error
// wrapping ErrUnauthenticated, and dst is returned without any plaintext
// of this call. It allocates nothing when dst has room for the plaintext;
// dst and sealed must not overlap. To open a whole segment without
// knowing its block count, use Open. It panics if first or totalBlocks are out of range.
func (c *SegmentCipher) OpenBlocks(dst, sealed []byte, first, totalBlocks int) ([]byte, error) {
	if first < 0 || totalBlocks < 1 || first > totalBlocks {
		panic(fmt.Sprintf("shard: open blocks from %d of %d", first, totalBlocks))
	}
	orig := len(dst)
	full := c.blockSize + Overhead
	// Size dst once for all blocks: growing it block by block would copy
	// the plaintext again for every block.
	blocks := (len(sealed) + full - 1) / full
	dst = slices.Grow(dst, max(0, len(sealed)-blocks*Overhead))
	nonce := c.nonces.Get().(*[12]byte)
	defer c.nonces.Put(nonce)
	for i := first; len(sealed) > 0; i++ {
		last := i == totalBlocks-1
		n := full
		switch {
		case i >= totalBlocks:
			return dst[:orig], fmt.Errorf("shard: open blocks: data after block %d, the last: %w", totalBlocks-1, ErrUnauthenticated)
		case last && len(sealed) <= full:
			n = len(sealed)
		case len(sealed) < full:
			return dst[:orig], fmt.Errorf("shard: open blocks: block %d truncated to %d bytes: %w", i, len(sealed), ErrUnauthenticated)
		}
		setNonce(nonce, i, last)
		out, err := c.aead.Open(dst, nonce[:], sealed[:n], nil)
		if err != nil {
			return dst[:orig], fmt.Errorf("shard: open block %d of %d: %w", i, totalBlocks, ErrUnauthenticated)
		}
		dst = out
		sealed = sealed[n:]
	}
	return dst, nil
}
