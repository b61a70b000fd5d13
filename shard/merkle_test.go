package shard

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// refRoot is RFC 6962's MTH written directly from the definition.
func refRoot(leaves [][]byte) ID {
	switch len(leaves) {
	case 0:
		panic("no leaves")
	case 1:
		return sha256.Sum256(append([]byte{0}, leaves[0]...))
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// refPath is RFC 6962's PATH(m, D[n]).
func refPath(m int, leaves [][]byte) []ID {
	if len(leaves) == 1 {
		return nil
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

func splitLeaves(data []byte, leafSize int) [][]byte {
	if len(data) == 0 {
		return [][]byte{{}}
	}
	var out [][]byte
	for len(data) > 0 {
		n := min(leafSize, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

func testBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestMerkleMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, leafSize := range []int{1, 3, 16, 64} {
		for size := 0; size <= 40*leafSize+1; size += 1 + size/7 {
			data := testBytes(uint64(size), size)
			want := refRoot(splitLeaves(data, leafSize))
			if got := ComputeID(data, leafSize); got != want {
				t.Fatalf("leaf %d size %d: ComputeID %s, want %s", leafSize, size, got, want)
			}
			// Streaming in random pieces gives the same root, and Sum
			// does not disturb the state.
			h := NewHasher(leafSize)
			for rest := data; len(rest) > 0; {
				n := min(len(rest), r.IntN(3*leafSize)+1)
				h.Write(rest[:n])
				_ = h.Sum()
				rest = rest[n:]
			}
			if got := h.Sum(); got != want || h.Size() != int64(size) {
				t.Fatalf("leaf %d size %d: Hasher %s (size %d), want %s", leafSize, size, got, h.Size(), want)
			}
			if err := Verify(want, data, leafSize); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
	}
}

func TestMerkleEmptyRoot(t *testing.T) {
	want := sha256.Sum256([]byte{0})
	if got := ComputeID(nil, DefaultBlockSize); got != want {
		t.Fatalf("empty root %s, want SHA-256(0x00) %x", got, want)
	}
	if n := LeafCount(0, DefaultBlockSize); n != 1 {
		t.Fatalf("LeafCount(0) = %d, want 1", n)
	}
}

func TestVerifyDetectsChanges(t *testing.T) {
	const leafSize = 16
	data := testBytes(1, 100)
	id := ComputeID(data, leafSize)
	cases := map[string][]byte{
		"bit flip":    func() []byte { b := bytes.Clone(data); b[50] ^= 4; return b }(),
		"truncated":   data[:99],
		"leaf gone":   data[:84],
		"extended":    append(bytes.Clone(data), 0),
		"leaves swap": append(append(bytes.Clone(data[16:32]), data[:16]...), data[32:]...),
		"empty":       nil,
	}
	for name, b := range cases {
		if err := Verify(id, b, leafSize); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Verify = %v, want ErrCorrupt", name, err)
		}
	}
	if err := Verify(id, data, leafSize*2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("other leaf size: Verify = %v, want ErrCorrupt", err)
	}
}

func TestProofRoundTrip(t *testing.T) {
	for _, leafSize := range []int{1, 5, 64} {
		for _, size := range []int{0, 1, leafSize, leafSize + 1, 3 * leafSize, 7*leafSize - 1, 13 * leafSize, 33*leafSize + 2} {
			data := testBytes(uint64(size), size)
			leaves := splitLeaves(data, leafSize)
			root := ComputeID(data, leafSize)
			for i := range leaves {
				p, leaf, err := BuildProof(bytes.NewReader(data), int64(size), leafSize, uint64(i))
				if err != nil {
					t.Fatalf("size %d leaf %d: %v", size, i, err)
				}
				if !bytes.Equal(leaf, leaves[i]) || p.Leaf != uint64(i) || p.Leaves != uint64(len(leaves)) {
					t.Fatalf("size %d leaf %d: wrong leaf data or header %+v", size, i, p)
				}
				if fmt.Sprint(p.Path) != fmt.Sprint(refPath(i, leaves)) {
					t.Fatalf("size %d leaf %d: path differs from RFC 6962 PATH", size, i)
				}
				if err := VerifyProof(root, int64(size), leafSize, leaf, p); err != nil {
					t.Fatalf("size %d leaf %d: VerifyProof: %v", size, i, err)
				}
				b, err := p.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				var q Proof
				if err := q.UnmarshalBinary(b); err != nil {
					t.Fatalf("UnmarshalBinary(MarshalBinary): %v", err)
				}
				if fmt.Sprint(p) != fmt.Sprint(q) {
					t.Fatalf("proof round trip: %+v != %+v", q, p)
				}
			}
			if _, _, err := BuildProof(bytes.NewReader(data), int64(size), leafSize, uint64(len(leaves))); !errors.Is(err, ErrMalformed) {
				t.Fatalf("leaf out of range: %v, want ErrMalformed", err)
			}
		}
	}
}

func TestBuildProofShortReader(t *testing.T) {
	data := testBytes(3, 100)
	for _, leaf := range []uint64{0, 6} {
		_, _, err := BuildProof(bytes.NewReader(data[:90]), 100, 16, leaf)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("leaf %d of a short shard: %v, want io.ErrUnexpectedEOF", leaf, err)
		}
	}
}

func TestVerifyProofTamper(t *testing.T) {
	const leafSize, size = 16, 16*11 + 5
	data := testBytes(9, size)
	root := ComputeID(data, leafSize)
	p, leaf, err := BuildProof(bytes.NewReader(data), size, leafSize, 5)
	if err != nil {
		t.Fatal(err)
	}
	other, otherLeaf, _ := BuildProof(bytes.NewReader(data), size, leafSize, 6)
	clonePath := func(p Proof) Proof { p.Path = append([]ID(nil), p.Path...); return p }
	cases := []struct {
		name string
		root ID
		size int64
		leaf []byte
		p    Proof
	}{
		{"leaf bit flip", root, size, func() []byte { b := bytes.Clone(leaf); b[3] ^= 1; return b }(), p},
		{"path bit flip", root, size, leaf, func() Proof { q := clonePath(p); q.Path[1][0] ^= 1; return q }()},
		{"path truncated", root, size, leaf, func() Proof { q := clonePath(p); q.Path = q.Path[:len(q.Path)-1]; return q }()},
		{"path reordered", root, size, leaf, func() Proof { q := clonePath(p); q.Path[0], q.Path[1] = q.Path[1], q.Path[0]; return q }()},
		{"other index", root, size, leaf, func() Proof { q := clonePath(p); q.Leaf = 4; return q }()},
		{"leaf of another proof", root, size, otherLeaf, p},
		{"proof of another leaf", root, size, leaf, other},
		{"wrong leaf count", root, size, leaf, func() Proof { q := clonePath(p); q.Leaves++; return q }()},
		{"wrong size", root, size + 16, leaf, p},
		{"negative size", root, -1, leaf, p},
		{"short leaf", root, size, leaf[:15], p},
		{"wrong root", ComputeID(data[1:], leafSize), size, leaf, p},
	}
	for _, c := range cases {
		if err := VerifyProof(c.root, c.size, leafSize, c.leaf, c.p); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: VerifyProof = %v, want ErrCorrupt", c.name, err)
		}
	}
}

func TestProofUnmarshalRejects(t *testing.T) {
	good, _ := Proof{Leaf: 2, Leaves: 5, Path: make([]ID, pathLen(2, 5))}.MarshalBinary()
	cases := map[string][]byte{
		"empty":          nil,
		"bad version":    append([]byte{2}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(bytes.Clone(good), 0),
		"leaf >= leaves": func() []byte { b := bytes.Clone(good); b[8] = 5; return b }(),
		"zero leaves":    (func() []byte { b, _ := Proof{Leaf: 0, Leaves: 1}.MarshalBinary(); b[16] = 0; return b })(),
		"path too long":  func() []byte { b, _ := Proof{Leaf: 0, Leaves: 1, Path: make([]ID, 1)}.MarshalBinary(); return b }(),
	}
	for name, b := range cases {
		var p Proof
		if err := p.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: UnmarshalBinary = %v, want ErrMalformed", name, err)
		}
	}
}
