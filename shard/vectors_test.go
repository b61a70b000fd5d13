package shard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the known-answer vectors in testdata/")

const vectorsFile = "testdata/vectors.json"

// vectorData is the deterministic input of the vectors: byte i is
// (i*131 + i/256) mod 256.
func vectorData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + i/256)
	}
	return b
}

// countingReader yields 0, 1, 2, ... as "random" bytes.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

type vector struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type vectors []vector

func (v *vectors) add(name, format string, args ...any) {
	*v = append(*v, vector{name, fmt.Sprintf(format, args...)})
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func computeVectors(t *testing.T) vectors {
	var v vectors
	seed, _ := SeedFromBytes(vectorData(SeedSize))
	v.add("seed", "%x", seed.Bytes())
	v.add("seed phrase", "%s", seed.Phrase())
	keys := seed.Keys()
	v.add("owner signing seed", "%x", keys.Signing.Seed())
	v.add("owner public key", "%s", keys.Signing.Public())
	dk := fixedDataKey(0x42)
	wrapped, err := keys.Wrap.Wrap(dk, &countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	v.add("data key", "%x", dk.bytes()[:])
	v.add("wrapped data key (nonce 00..17)", "%x", wrapped)
	blob, err := keys.Catalog.Seal([]byte("ishtar catalog"), &countingReader{})
	if err != nil {
		t.Fatal(err)
	}
	v.add("catalog blob of \"ishtar catalog\" (nonce 00..17)", "%x", blob)

	for _, c := range []struct{ size, leaf int }{{0, 16}, {1, 16}, {16, 16}, {17, 16}, {100, 16}, {1000, 16}, {3<<16 + 1, DefaultBlockSize}} {
		v.add(fmt.Sprintf("merkle root size %d leaf %d", c.size, c.leaf), "%s", ComputeID(vectorData(c.size), c.leaf))
	}
	p, leaf, err := BuildProof(bytes.NewReader(vectorData(100)), 100, 16, 5)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := p.MarshalBinary()
	v.add("proof of leaf 5, size 100 leaf 16", "%x", pb)
	v.add("proof leaf data", "%x", leaf)

	c := NewSegmentCipher(dk, fixedCtx(3), 16)
	v.add("segment context", "object %x segment %d salt %x block size 16", fixedCtx(3).Object, 3, fixedCtx(3).Salt)
	v.add("sealed empty segment", "%x", c.Seal(nil, nil))
	v.add("sealed 40-byte segment", "%x", c.Seal(nil, vectorData(40)))
	big := NewSegmentCipher(dk, fixedCtx(3), DefaultBlockSize).Seal(nil, vectorData(1<<20+5))
	v.add("sha256 of sealed 1 MiB+5 segment, 64 KiB blocks", "%s", sum(big))

	shards, err := Encode(DefaultParams(), big)
	if err != nil {
		t.Fatal(err)
	}
	for i, sh := range shards {
		v.add(fmt.Sprintf("rs 3/5 shard %d id", i), "%s", ComputeID(sh, DefaultBlockSize))
	}

	nk, _ := PrivateKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	for _, m := range testMessages() {
		signer := keys.Signing
		switch m.msg.(type) {
		case *NodeRecord, *Receipt:
			signer = nk
		}
		if r, ok := m.msg.(*NodeRecord); ok {
			r.Owner, r.OwnerSig = keys.Signing.Public(), SignOwnerLink(keys.Signing, nk.Public())
		}
		m.msg.Sign(signer)
		name := fmt.Sprintf("%T", m.msg)[len("*shard."):]
		v.add(name+" canonical", "%x", m.msg.(interface{ signedBytes() []byte }).signedBytes())
		j, _ := json.Marshal(m.msg)
		v.add(name+" json", "%s", j)
	}
	return v
}

func TestVectors(t *testing.T) {
	got := computeVectors(t)
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", vectorsFile)
	}
	b, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestVectors -update)", err)
	}
	var want vectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("%d vectors in %s, computed %d", len(want), vectorsFile, len(got))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("vector %q:\n got %s\nwant %s", want[i].Name, got[i].Value, want[i].Value)
		}
	}
	checkStoredVectors(t, want)
}

// checkStoredVectors decodes the stored values, so that the decoders (not
// only the encoders) are pinned to the format.
func checkStoredVectors(t *testing.T, vs vectors) {
	m := map[string]string{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	seed, err := ParsePhrase(m["seed phrase"])
	if err != nil || hex.EncodeToString(seed.Bytes()) != m["seed"] {
		t.Fatalf("stored phrase does not parse to the stored seed: %v", err)
	}
	keys := seed.Keys()
	wrapped, _ := hex.DecodeString(m["wrapped data key (nonce 00..17)"])
	dk, err := keys.Wrap.Unwrap(wrapped)
	if err != nil || hex.EncodeToString(dk.bytes()[:]) != m["data key"] {
		t.Fatalf("stored wrapped key: %v", err)
	}
	blob, _ := hex.DecodeString(m["catalog blob of \"ishtar catalog\" (nonce 00..17)"])
	if pt, err := keys.Catalog.Open(blob); err != nil || string(pt) != "ishtar catalog" {
		t.Fatalf("stored catalog blob: %v", err)
	}
	sealed, _ := hex.DecodeString(m["sealed 40-byte segment"])
	if pt, err := NewSegmentCipher(dk, fixedCtx(3), 16).OpenBlocks(nil, sealed, 0, 3); err != nil || !bytes.Equal(pt, vectorData(40)) {
		t.Fatalf("stored sealed segment: %v", err)
	}
	pb, _ := hex.DecodeString(m["proof of leaf 5, size 100 leaf 16"])
	leaf, _ := hex.DecodeString(m["proof leaf data"])
	root, _ := ParseID(m["merkle root size 100 leaf 16"])
	var p Proof
	if err := p.UnmarshalBinary(pb); err != nil {
		t.Fatal(err)
	}
	if err := VerifyProof(root, 100, 16, leaf, p); err != nil {
		t.Fatalf("stored proof: %v", err)
	}
	for _, msg := range []signedMsg{&NodeRecord{}, &Grant{}, &Receipt{}, &RootRecord{}} {
		name := fmt.Sprintf("%T", msg)[len("*shard."):]
		if err := json.Unmarshal([]byte(m[name+" json"]), msg); err != nil {
			t.Fatalf("stored %s: %v", name, err)
		}
		if err := msg.Verify(); err != nil {
			t.Fatalf("stored %s does not verify: %v", name, err)
		}
	}
}
