package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

func FuzzParseID(f *testing.F) {
	f.Add("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
	f.Add("6E340B9CFFB37A989CA544E6BB780A2C78901D3FB33738768511A30617AFA01D")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		k, kerr := ParsePublicKey(s)
		if (err == nil) != (kerr == nil) {
			t.Fatalf("ParseID and ParsePublicKey disagree: %v, %v", err, kerr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if id.String() != s || k.String() != s {
			t.Fatalf("%q parsed but prints as %q", s, id.String())
		}
	})
}

func FuzzParsePhrase(f *testing.F) {
	f.Add("021GD-28CHW-99A64-V3TGJ-99SAN-MRB6D-NS7JZ-M5HA8-SD7D2-N6QBB-EPQ2E-RBWYG")
	f.Add("021gd 28chw 99a64 v3tgj 99san mrb6d ns7jz m5ha8 sd7d2 n6qbb epq2e rbwyg")
	f.Add("021GD-28CHW-99A64-V3TGJ-99SAN-MRB6D-NS7JZ-M5HA8-SD7D2-N6QBB-EPQ2E-RBWYH")
	f.Fuzz(func(t *testing.T, p string) {
		s, err := ParsePhrase(p)
		if err != nil {
			if !errors.Is(err, ErrBadPhrase) {
				t.Fatalf("error %v does not wrap ErrBadPhrase", err)
			}
			return
		}
		back, err := ParsePhrase(s.Phrase())
		if err != nil || !back.Equal(s) {
			t.Fatalf("phrase of a parsed seed does not round-trip: %v", err)
		}
	})
}

func FuzzProofUnmarshal(f *testing.F) {
	for _, p := range []Proof{{0, 1, nil}, {5, 7, make([]ID, 3)}, {1 << 40, 1<<40 + 1, make([]ID, 41)}} {
		b, _ := p.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Proof
		if err := p.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("proof does not round-trip: %v", err)
		}
	})
}

func FuzzVerifyProof(f *testing.F) {
	data := vectorData(100)
	p, leaf, _ := BuildProof(bytes.NewReader(data), 100, 16, 5)
	pb, _ := p.MarshalBinary()
	root := ComputeID(data, 16)
	f.Add(root[:], int64(100), uint16(16), leaf, pb)
	f.Add(root[:], int64(-1), uint16(0), leaf, pb)
	f.Add(root[:], int64(1<<62), uint16(1), leaf, pb)
	f.Fuzz(func(t *testing.T, rootb []byte, size int64, leafSize uint16, leafData, proof []byte) {
		var p Proof
		if p.UnmarshalBinary(proof) != nil {
			p = Proof{Leaf: uint64(size), Leaves: uint64(leafSize)} // still exercise the checks
		}
		var r ID
		copy(r[:], rootb)
		err := VerifyProof(r, size, int(leafSize)+1, leafData, p)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}

func FuzzOpenBlocks(f *testing.F) {
	const bs = 16
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), bs)
	plain := vectorData(5*bs + 3)
	sealed := c.Seal(nil, plain)
	full := bs + Overhead
	f.Add(sealed, uint8(0), uint8(6))
	f.Add(sealed[full:3*full], uint8(1), uint8(6))
	f.Add(sealed[5*full:], uint8(5), uint8(6))
	f.Add([]byte{}, uint8(3), uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, first, total uint8) {
		tot := int(total)%8 + 1
		fst := int(first) % (tot + 1)
		out, err := c.OpenBlocks([]byte("x"), in, fst, tot)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) || string(out) != "x" {
				t.Fatalf("failed open returned %q, %v", out, err)
			}
			return
		}
		// Only genuine blocks of this segment open, at their own index,
		// and only when the claimed block count is the true one or the
		// range stops short of the last block.
		got := out[1:]
		lo := min(len(plain), fst*bs)
		if !bytes.Equal(got, plain[lo:min(len(plain), lo+len(got))]) {
			t.Fatalf("opened %d bytes that are not the plaintext at block %d", len(got), fst)
		}
	})
}

func FuzzUnwrap(f *testing.F) {
	k := testSeed(f, 1).Keys()
	w, _ := k.Wrap.Wrap(fixedDataKey(3), &countingReader{})
	blob, _ := k.Catalog.Seal([]byte("catalog"), &countingReader{n: 100})
	f.Add(w)
	f.Add(blob)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		dk, err := k.Wrap.Unwrap(b)
		if err == nil && !bytes.Equal(b, w) {
			t.Fatalf("forged wrapped key accepted: %x", dk.bytes()[:])
		}
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
		}
		pt, err := k.Catalog.Open(b)
		if err == nil && (!bytes.Equal(b, blob) || string(pt) != "catalog") {
			t.Fatalf("forged catalog blob accepted")
		}
		if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
		}
	})
}

// FuzzSignedJSON decodes arbitrary JSON as each signed message and
// verifies it: no panic, only the documented errors, and whatever verifies
// still verifies after a JSON round trip.
func FuzzSignedJSON(f *testing.F) {
	if b, err := os.ReadFile(vectorsFile); err == nil {
		var vs vectors
		if json.Unmarshal(b, &vs) == nil {
			for _, v := range vs {
				if bytes.HasSuffix([]byte(v.Name), []byte(" json")) {
					for kind := range uint8(5) {
						f.Add(kind, []byte(v.Value))
					}
				}
			}
		}
	}
	f.Add(uint8(0), []byte(`{"id":"00","sig":null}`))
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		newMsg := func() signedMsg {
			return []func() signedMsg{
				func() signedMsg { return &NodeRecord{} },
				func() signedMsg { return &Grant{} },
				func() signedMsg { return &Receipt{} },
				func() signedMsg { return &RootRecord{} },
				func() signedMsg { return &RenewBatch{} },
			}[kind%5]()
		}
		m := newMsg()
		if json.Unmarshal(b, m) != nil {
			return
		}
		err := m.Verify()
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify error %v is neither ErrMalformed nor ErrBadSignature", err)
			}
			return
		}
		out, _ := json.Marshal(m)
		m2 := newMsg()
		if err := json.Unmarshal(out, m2); err != nil {
			t.Fatal(err)
		}
		if err := m2.Verify(); err != nil {
			t.Fatalf("verified message fails after a JSON round trip: %v", err)
		}
	})
}
