package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
)

// Domain-separation prefixes of the Merkle tree (RFC 6962 §2.1).
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// leafPrefixBytes is written to hash.Hash without allocating per leaf.
var leafPrefixBytes = []byte{leafPrefix}

// Hasher computes a shard ID incrementally: it is an io.Writer that hashes
// each leaf as its bytes arrive and keeps only the roots of the complete
// subtrees (at most 64), so memory is constant whatever the shard size.
// A Hasher is not safe for concurrent use.
type Hasher struct {
	leafSize int
	leaf     hash.Hash // digest of the current, unfinished leaf
	inLeaf   int       // bytes in the current leaf
	leaves   uint64    // finished leaves
	size     int64
	stack    [64]ID // roots of complete subtrees, largest first
	depth    int
	sum      [sha256.Size]byte // scratch for leaf.Sum
}

// NewHasher returns a Hasher for leaves of leafSize bytes. It panics if
// leafSize is not positive.
func NewHasher(leafSize int) *Hasher {
	if leafSize <= 0 {
		panic(fmt.Sprintf("shard: invalid leaf size %d", leafSize))
	}
	return &Hasher{leafSize: leafSize, leaf: sha256.New()}
}

// Reset makes h hash a new shard with the same leaf size.
func (h *Hasher) Reset() {
	h.inLeaf, h.leaves, h.size, h.depth = 0, 0, 0, 0
}

// Write hashes p; it never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if h.inLeaf == 0 {
			h.leaf.Reset()
			h.leaf.Write(leafPrefixBytes)
		}
		take := min(h.leafSize-h.inLeaf, len(p))
		h.leaf.Write(p[:take])
		h.inLeaf += take
		p = p[take:]
		if h.inLeaf == h.leafSize {
			h.push(ID(h.leaf.Sum(h.sum[:0])))
			h.inLeaf = 0
		}
	}
	h.size += int64(n)
	return n, nil
}

// push adds a finished leaf and merges complete subtrees like a binary
// counter, so the stack holds one root per set bit of the leaf count.
func (h *Hasher) push(leaf ID) {
	h.stack[h.depth] = leaf
	h.depth++
	h.leaves++
	for c := h.leaves; c&1 == 0; c >>= 1 {
		h.depth--
		h.stack[h.depth-1] = nodeHash(h.stack[h.depth-1], h.stack[h.depth])
	}
}

// Size returns the number of bytes written so far.
func (h *Hasher) Size() int64 { return h.size }

// Sum returns the root of what was written so far, without changing the
// state of h. The empty shard is one empty leaf: its root is SHA-256(0x00).
func (h *Hasher) Sum() ID {
	var root ID
	i := h.depth
	switch {
	case h.inLeaf > 0:
		root = ID(h.leaf.Sum(h.sum[:0]))
	case h.depth == 0:
		return emptyRoot()
	default:
		i--
		root = h.stack[i]
	}
	// The RFC 6962 tree of n leaves is the fold, from the right, of the
	// perfect subtrees given by the binary digits of n.
	for i > 0 {
		i--
		root = nodeHash(h.stack[i], root)
	}
	return root
}

func emptyRoot() ID { return sha256.Sum256([]byte{leafPrefix}) }

func leafHash(b []byte) ID {
	d := sha256.New()
	d.Write(leafPrefixBytes)
	d.Write(b)
	var id ID
	d.Sum(id[:0])
	return id
}

func nodeHash(l, r ID) ID {
	var b [1 + 2*sha256.Size]byte
	b[0] = nodePrefix
	copy(b[1:], l[:])
	copy(b[1+sha256.Size:], r[:])
	return sha256.Sum256(b[:])
}

// ComputeID returns the Merkle root of data cut into leaves of leafSize
// bytes (the last may be shorter). It panics if leafSize is not positive.
func ComputeID(data []byte, leafSize int) ID {
	h := NewHasher(leafSize)
	h.Write(data)
	return h.Sum()
}

// Verify checks that data has the given ID; it returns an error wrapping
// ErrCorrupt if not.
func Verify(id ID, data []byte, leafSize int) error {
	if got := ComputeID(data, leafSize); got != id {
		return fmt.Errorf("shard: verify %s: got %s: %w", id, got, ErrCorrupt)
	}
	return nil
}

// LeafCount returns the number of Merkle leaves of a shard of size bytes:
// ceil(size/leafSize), and 1 for the empty shard.
func LeafCount(size int64, leafSize int) uint64 {
	if leafSize <= 0 || size < 0 {
		panic(fmt.Sprintf("shard: invalid size %d or leaf size %d", size, leafSize))
	}
	n := uint64(size) / uint64(leafSize)
	if size == 0 || uint64(size)%uint64(leafSize) != 0 {
		n++
	}
	return n
}

// leafLen returns the length of leaf i (i < LeafCount).
func leafLen(size int64, leafSize int, i uint64) int64 {
	off := int64(i) * int64(leafSize)
	return min(int64(leafSize), size-off)
}

// split returns the size of the left subtree of a tree of n >= 2 leaves:
// the largest power of two smaller than n.
func split(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// pathLen returns the number of siblings on the path of leaf in a tree of
// n leaves.
func pathLen(leaf, n uint64) int {
	d := 0
	for n > 1 {
		k := split(n)
		if leaf < k {
			n = k
		} else {
			leaf, n = leaf-k, n-k
		}
		d++
	}
	return d
}

// Proof shows that one leaf (block) belongs to a shard ID.
type Proof struct {
	Leaf   uint64 `json:"leaf"`   // index of the proven leaf
	Leaves uint64 `json:"leaves"` // number of leaves in the shard
	Path   []ID   `json:"path"`   // sibling hashes, leaf to root
}

const proofVersion = 1

// MarshalBinary encodes p as: version byte 1, Leaf and Leaves as uint64
// big-endian, the path length as one byte, then the path hashes.
func (p Proof) MarshalBinary() ([]byte, error) {
	if len(p.Path) > 64 {
		return nil, fmt.Errorf("shard: marshal proof: path of %d hashes: %w", len(p.Path), ErrMalformed)
	}
	b := make([]byte, 0, 18+32*len(p.Path))
	b = append(b, proofVersion)
	b = binary.BigEndian.AppendUint64(b, p.Leaf)
	b = binary.BigEndian.AppendUint64(b, p.Leaves)
	b = append(b, byte(len(p.Path)))
	for _, h := range p.Path {
		b = append(b, h[:]...)
	}
	return b, nil
}

// UnmarshalBinary decodes the form written by MarshalBinary. It rejects
// (ErrMalformed) any input whose path length does not fit Leaf and Leaves.
func (p *Proof) UnmarshalBinary(b []byte) error {
	if len(b) < 18 || b[0] != proofVersion {
		return fmt.Errorf("shard: unmarshal proof: bad header: %w", ErrMalformed)
	}
	leaf := binary.BigEndian.Uint64(b[1:])
	leaves := binary.BigEndian.Uint64(b[9:])
	n := int(b[17])
	if leaves == 0 || leaf >= leaves || n != pathLen(leaf, leaves) || len(b) != 18+32*n {
		return fmt.Errorf("shard: unmarshal proof: inconsistent leaf %d of %d, path %d, length %d: %w",
			leaf, leaves, n, len(b), ErrMalformed)
	}
	path := make([]ID, n)
	for i := range path {
		copy(path[i][:], b[18+32*i:])
	}
	*p = Proof{Leaf: leaf, Leaves: leaves, Path: path}
	return nil
}

// BuildProof reads the shard (size bytes) from r and proves leaf; it returns
// the proof and the leaf's bytes. It reads the whole shard once with a
// buffer of one leaf. A leaf out of range gives an error wrapping
// ErrMalformed; a short read gives io.ErrUnexpectedEOF.
func BuildProof(r io.ReaderAt, size int64, leafSize int, leaf uint64) (Proof, []byte, error) {
	n := LeafCount(size, leafSize)
	if leaf >= n {
		return Proof{}, nil, fmt.Errorf("shard: build proof: leaf %d of %d: %w", leaf, n, ErrMalformed)
	}
	pr := prover{r: r, size: size, leafSize: leafSize, h: NewHasher(leafSize), buf: make([]byte, leafSize)}
	p := Proof{Leaf: leaf, Leaves: n, Path: make([]ID, 0, pathLen(leaf, n))}
	var err error
	if p.Path, err = pr.path(0, n, leaf, p.Path); err != nil {
		return Proof{}, nil, fmt.Errorf("shard: build proof: %w", err)
	}
	data := make([]byte, leafLen(size, leafSize, leaf))
	if err := readFull(r, data, int64(leaf)*int64(leafSize)); err != nil {
		return Proof{}, nil, fmt.Errorf("shard: build proof: leaf %d: %w", leaf, err)
	}
	return p, data, nil
}

type prover struct {
	r        io.ReaderAt
	size     int64
	leafSize int
	h        *Hasher
	buf      []byte
}

// path appends the siblings of leaf within the subtree of leaves
// [lo, lo+n), deepest first.
func (pr *prover) path(lo, n, leaf uint64, dst []ID) ([]ID, error) {
	if n == 1 {
		return dst, nil
	}
	k := split(n)
	var err error
	var sib ID
	if leaf < k {
		if dst, err = pr.path(lo, k, leaf, dst); err == nil {
			sib, err = pr.subtree(lo+k, n-k)
		}
	} else {
		if dst, err = pr.path(lo+k, n-k, leaf-k, dst); err == nil {
			sib, err = pr.subtree(lo, k)
		}
	}
	return append(dst, sib), err
}

// subtree hashes the n leaves starting at leaf lo.
func (pr *prover) subtree(lo, n uint64) (ID, error) {
	pr.h.Reset()
	off := int64(lo) * int64(pr.leafSize)
	end := min(pr.size, int64(lo+n)*int64(pr.leafSize))
	for off < end {
		b := pr.buf[:min(int64(len(pr.buf)), end-off)]
		if err := readFull(pr.r, b, off); err != nil {
			return ID{}, err
		}
		pr.h.Write(b)
		off += int64(len(b))
	}
	return pr.h.Sum(), nil
}

// readFull reads len(b) bytes at off; a short read is io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	m, err := r.ReadAt(b, off)
	if m == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at %d: %w", len(b), off, err)
}

// VerifyProof checks that leafData is leaf p.Leaf of the shard with ID root
// and size bytes. Any mismatch (wrong size, leaf length, path length or
// hash) gives an error wrapping ErrCorrupt.
func VerifyProof(root ID, size int64, leafSize int, leafData []byte, p Proof) error {
	if size < 0 {
		return fmt.Errorf("shard: verify proof: negative size: %w", ErrCorrupt)
	}
	n := LeafCount(size, leafSize)
	if p.Leaves != n || p.Leaf >= n || len(p.Path) != pathLen(p.Leaf, n) ||
		int64(len(leafData)) != leafLen(size, leafSize, p.Leaf) {
		return fmt.Errorf("shard: verify proof: leaf %d of %d (%d bytes, path %d) does not fit a shard of %d leaves: %w",
			p.Leaf, p.Leaves, len(leafData), len(p.Path), n, ErrCorrupt)
	}
	if got := rootFromPath(p.Leaf, n, leafHash(leafData), p.Path); got != root {
		return fmt.Errorf("shard: verify proof of leaf %d: root %s, want %s: %w", p.Leaf, got, root, ErrCorrupt)
	}
	return nil
}

// rootFromPath recomputes the root from a leaf hash and its siblings;
// len(path) must equal pathLen(leaf, n).
func rootFromPath(leaf, n uint64, h ID, path []ID) ID {
	if n == 1 {
		return h
	}
	k := split(n)
	sib, rest := path[len(path)-1], path[:len(path)-1]
	if leaf < k {
		return nodeHash(rootFromPath(leaf, k, h, rest), sib)
	}
	return nodeHash(sib, rootFromPath(leaf-k, n-k, h, rest))
}
