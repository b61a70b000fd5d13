// Package shard holds the pure functions of Ishtar's data path: keys derived
// from the owner seed, chunked AEAD over segments, Reed-Solomon coding,
// Merkle shard IDs and proofs, and the signed messages of the peer protocol.
//
// THIS FILE IS THE CONTRACT other packages code against while the package is
// being written. Every exported name below must keep its signature; bodies
// are filled in (and this file split into id.go, merkle.go, keys.go, aead.go,
// rs.go, signed.go) by the shard work.
package shard

import (
	"errors"
	"io"
)

// Sentinel errors for bad data. Misuse (bad Params, nil keys) panics.
var (
	ErrCorrupt         = errors.New("shard: data does not match its ID")
	ErrUnauthenticated = errors.New("shard: message authentication failed")
	ErrTooFewShards    = errors.New("shard: too few shards to reconstruct")
	ErrBadSignature    = errors.New("shard: bad signature")
	ErrMalformed       = errors.New("shard: malformed encoding")
	ErrBadPhrase       = errors.New("shard: recovery phrase is mistyped or incomplete")
)

// DefaultBlockSize is both the AEAD plaintext block and the Merkle leaf size.
const DefaultBlockSize = 64 << 10

// ---------------------------------------------------------------- IDs

// ID is a shard's Merkle root: 64 lowercase hex digits in text form.
type ID [32]byte

func (id ID) String() string                { panic("todo") }
func ParseID(s string) (ID, error)          { panic("todo") } // exactly 64 lowercase hex; else wraps ErrMalformed
func (id ID) MarshalText() ([]byte, error)  { panic("todo") }
func (id *ID) UnmarshalText(b []byte) error { panic("todo") }
func (id ID) IsZero() bool                  { panic("todo") }

// ---------------------------------------------------------------- Merkle

// Hasher computes a shard ID incrementally (io.Writer), leaf by leaf.
type Hasher struct{}

func NewHasher(leafSize int) *Hasher                { panic("todo") }
func (h *Hasher) Write(p []byte) (int, error)       { panic("todo") }
func (h *Hasher) Size() int64                       { panic("todo") } // bytes written so far
func (h *Hasher) Sum() ID                           { panic("todo") } // root of what was written; empty input has a fixed root
func ComputeID(data []byte, leafSize int) ID        { panic("todo") }
func Verify(id ID, data []byte, leafSize int) error { panic("todo") } // ErrCorrupt

// Proof shows that one leaf (block) belongs to a shard ID.
type Proof struct {
	Leaf   uint64 // index of the proven leaf
	Leaves uint64 // number of leaves in the shard
	Path   []ID   // sibling hashes, leaf to root
}

func (p Proof) MarshalBinary() ([]byte, error)  { panic("todo") }
func (p *Proof) UnmarshalBinary(b []byte) error { panic("todo") } // ErrMalformed

// BuildProof reads the shard (size bytes) from r and proves leaf; it returns
// the proof and the leaf's bytes.
func BuildProof(r io.ReaderAt, size int64, leafSize int, leaf uint64) (Proof, []byte, error) {
	panic("todo")
}

// VerifyProof checks leafData against root; ErrCorrupt on mismatch.
func VerifyProof(root ID, size int64, leafSize int, leafData []byte, p Proof) error { panic("todo") }

// ---------------------------------------------------------------- keys

// Incomparable, embedded in secret types, makes == a compile error.
type Incomparable [0]func()

// PublicKey is an ed25519 public key: node IDs and owner IDs are public
// keys. Text form: 64 lowercase hex digits.
type PublicKey [32]byte

func (k PublicKey) String() string                { panic("todo") }
func ParsePublicKey(s string) (PublicKey, error)  { panic("todo") }
func (k PublicKey) MarshalText() ([]byte, error)  { panic("todo") }
func (k *PublicKey) UnmarshalText(b []byte) error { panic("todo") }
func (k PublicKey) IsZero() bool                  { panic("todo") }
func (k PublicKey) Verify(msg, sig []byte) bool   { panic("todo") }

// PrivateKey is an ed25519 signing key.
type PrivateKey struct{ _ Incomparable }

func GeneratePrivateKey(rand io.Reader) (PrivateKey, error) { panic("todo") }
func PrivateKeyFromSeed(seed []byte) (PrivateKey, error)    { panic("todo") } // 32-byte ed25519 seed
func (k PrivateKey) Seed() []byte                           { panic("todo") } // for key files
func (k PrivateKey) Public() PublicKey                      { panic("todo") }
func (k PrivateKey) Sign(msg []byte) []byte                 { panic("todo") }

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

// ---------------------------------------------------------------- signed messages
// Each is JSON on the wire; the signature covers a canonical, domain-
// separated binary encoding of every field but Sig. Verify checks the
// signature against the signer named in the message (ErrBadSignature).

type NodeRecord struct {
	Node     PublicKey `json:"id"`
	Address  string    `json:"address"`
	Capacity int64     `json:"capacity"`
	Free     int64     `json:"free"`
	Version  string    `json:"version"`
	Seq      uint64    `json:"seq"`
	Time     int64     `json:"time"` // unix seconds
	Sig      []byte    `json:"sig"`
}

func (r *NodeRecord) Sign(k PrivateKey) { panic("todo") } // sets Node and Sig
func (r NodeRecord) Verify() error      { panic("todo") }

type GrantOp uint8

const (
	OpStore GrantOp = iota + 1
	OpRenew
	OpDelete
)

// Grant is the owner's permission to store, renew or delete a shard.
type Grant struct {
	Op          GrantOp   `json:"op"`
	Shard       ID        `json:"shard"`
	Size        int64     `json:"size"`
	Owner       PublicKey `json:"owner"`
	LeaseExpiry int64     `json:"lease_expiry"` // unix seconds
	Time        int64     `json:"time"`         // unix nanoseconds
	Sig         []byte    `json:"sig"`
}

func (g *Grant) Sign(k PrivateKey) { panic("todo") } // sets Owner and Sig
func (g Grant) Verify() error      { panic("todo") }

// Receipt is a node's signed promise that it holds a shard (directly, or
// through Holder when it delegated).
type Receipt struct {
	Shard       ID        `json:"shard"`
	Size        int64     `json:"size"`
	Owner       PublicKey `json:"owner"`
	Node        PublicKey `json:"node"`
	Holder      PublicKey `json:"holder"`
	LeaseExpiry int64     `json:"lease_expiry"`
	Time        int64     `json:"time"`
	Sig         []byte    `json:"sig"`
}

func (r *Receipt) Sign(k PrivateKey) { panic("todo") } // sets Node and Sig
func (r Receipt) Verify() error      { panic("todo") }

// RootRecord points at the owner's latest encrypted catalog backup. Pointer
// is opaque (sealed with the catalog key); peers only keep the highest Seq.
type RootRecord struct {
	Owner   PublicKey `json:"owner"`
	Seq     uint64    `json:"seq"`
	Pointer []byte    `json:"pointer"`
	Time    int64     `json:"time"`
	Sig     []byte    `json:"sig"`
}

func (r *RootRecord) Sign(k PrivateKey) { panic("todo") } // sets Owner and Sig
func (r RootRecord) Verify() error      { panic("todo") }
