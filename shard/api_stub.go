// Package shard holds the pure functions of Ishtar's data path: keys derived
// from the owner seed, chunked AEAD over segments, Reed-Solomon coding,
// Merkle shard IDs and proofs, and the signed messages of the peer protocol.
//
// THIS FILE IS THE CONTRACT other packages code against while the package is
// being written. Every exported name below must keep its signature; bodies
// are filled in (and this file split into id.go, merkle.go, keys.go, aead.go,
// rs.go, signed.go) by the shard work.
package shard

import "io"

// ---------------------------------------------------------------- keys

// Seed is the owner's 32-byte secret; everything else derives from it.
type Seed struct{ _ Incomparable }

func NewSeed(rand io.Reader) (Seed, error) { panic("todo") }
func SeedFromBytes(b []byte) (Seed, error) { panic("todo") }
func (s Seed) Bytes() []byte               { panic("todo") }
func (s Seed) Phrase() string              { panic("todo") } // printable, with checksum
func ParsePhrase(p string) (Seed, error)   { panic("todo") } // ErrBadPhrase on typos
func (s Seed) Equal(o Seed) bool           { panic("todo") } // constant time

// OwnerKeys are derived from a Seed by HKDF-SHA256 with distinct labels.
type OwnerKeys struct {
	Signing PrivateKey // the owner's identity; Signing.Public() is the owner ID
	Wrap    WrapKey    // wraps per-object data keys
	Catalog CatalogKey // seals catalog backups
}

func (s Seed) Keys() OwnerKeys { panic("todo") }

// DataKey is a random per-object 256-bit content key.
type DataKey struct{ _ Incomparable }

func NewDataKey(rand io.Reader) (DataKey, error) { panic("todo") }

// WrapKey wraps and unwraps data keys (AEAD, random nonce).
type WrapKey struct{ _ Incomparable }

func (w WrapKey) Wrap(dk DataKey, rand io.Reader) ([]byte, error) { panic("todo") }
func (w WrapKey) Unwrap(wrapped []byte) (DataKey, error)          { panic("todo") } // ErrUnauthenticated

// CatalogKey seals whole blobs (catalog backups).
type CatalogKey struct{ _ Incomparable }

func (c CatalogKey) Seal(plaintext []byte, rand io.Reader) ([]byte, error) { panic("todo") }
func (c CatalogKey) Open(sealed []byte) ([]byte, error)                    { panic("todo") } // ErrUnauthenticated

// ---------------------------------------------------------------- segment AEAD

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
// bytes + Overhead tag each; the last may be shorter); nonces bind the block
// index and a last-block flag.
type SegmentCipher struct{}

const Overhead = 16

func NewSegmentCipher(dk DataKey, ctx SegmentContext, blockSize int) *SegmentCipher { panic("todo") }
func SealedSize(plainSize int64, blockSize int) int64                               { panic("todo") }
func (c *SegmentCipher) Seal(dst, plaintext []byte) []byte                          { panic("todo") } // appends whole sealed segment to dst
// OpenBlocks opens the consecutive sealed blocks first..first+k-1 held in
// sealed, out of a segment of totalBlocks blocks, appending plaintext to dst.
func (c *SegmentCipher) OpenBlocks(dst, sealed []byte, first, totalBlocks int) ([]byte, error) {
	panic("todo")
}

// ---------------------------------------------------------------- Reed-Solomon

// Params are the coding parameters: any K of N shards rebuild a segment.
type Params struct {
	K, N      int
	BlockSize int // AEAD block and Merkle leaf size
}

func DefaultParams() Params                                                   { panic("todo") } // 3 of 5, 64 KiB
func (p Params) Validate() error                                              { panic("todo") }
func ShardSize(p Params, sealedSize int64) int64                              { panic("todo") } // bytes per shard
func Encode(p Params, sealed []byte) ([][]byte, error)                        { panic("todo") } // N shards; the first K are the data, split in order
func Reconstruct(p Params, shards [][]byte, sealedSize int64) ([]byte, error) { panic("todo") } // nil = missing; ErrTooFewShards
