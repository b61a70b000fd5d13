package shard

import (
	"bytes"
	"testing"
)

const benchSegment = 16 << 20

type benchSetup struct {
	p      Params
	c      *SegmentCipher
	plain  []byte
	sealed []byte
	shards [][]byte
	ids    []ID
	total  int
}

func newBenchSetup(b *testing.B) *benchSetup {
	b.Helper()
	s := &benchSetup{p: DefaultParams(), plain: testBytes(42, benchSegment)}
	s.c = NewSegmentCipher(fixedDataKey(7), fixedCtx(1), s.p.BlockSize)
	s.sealed = s.c.Seal(nil, s.plain)
	s.total = BlockCount(benchSegment, s.p.BlockSize)
	var err error
	if s.shards, err = Encode(s.p, s.sealed); err != nil {
		b.Fatal(err)
	}
	for _, sh := range s.shards {
		s.ids = append(s.ids, ComputeID(sh, s.p.BlockSize))
	}
	return s
}

func BenchmarkSeal(b *testing.B) {
	s := newBenchSetup(b)
	dst := make([]byte, 0, len(s.sealed))
	b.SetBytes(benchSegment)
	for b.Loop() {
		s.c.Seal(dst, s.plain)
	}
}

func BenchmarkOpen(b *testing.B) {
	s := newBenchSetup(b)
	dst := make([]byte, 0, benchSegment)
	b.SetBytes(benchSegment)
	for b.Loop() {
		if _, err := s.c.OpenBlocks(dst, s.sealed, 0, s.total); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	s := newBenchSetup(b)
	buf := make([]byte, len(s.sealed), EncodedSize(s.p, int64(len(s.sealed))))
	copy(buf, s.sealed)
	b.SetBytes(int64(len(s.sealed)))
	for b.Loop() {
		if _, err := EncodeInPlace(s.p, buf, int64(len(s.sealed))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReconstruct rebuilds two missing data shards from parity.
func BenchmarkReconstruct(b *testing.B) {
	s := newBenchSetup(b)
	in := [][]byte{nil, nil, s.shards[2], s.shards[3], s.shards[4]}
	buf := make([]byte, 0, s.p.K*len(s.shards[0]))
	b.SetBytes(int64(len(s.sealed)))
	for b.Loop() {
		if _, err := ReconstructInto(s.p, buf, in, int64(len(s.sealed))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerkleHash(b *testing.B) {
	data := testBytes(1, benchSegment)
	h := NewHasher(DefaultBlockSize)
	b.SetBytes(benchSegment)
	for b.Loop() {
		h.Reset()
		h.Write(data)
		h.Sum()
	}
}

func BenchmarkVerify(b *testing.B) {
	s := newBenchSetup(b)
	b.SetBytes(int64(len(s.shards[0])))
	for b.Loop() {
		if err := Verify(s.ids[0], s.shards[0], s.p.BlockSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildProof(b *testing.B) {
	s := newBenchSetup(b)
	r := bytes.NewReader(s.shards[0])
	b.SetBytes(int64(len(s.shards[0])))
	for b.Loop() {
		if _, _, err := BuildProof(r, int64(len(s.shards[0])), s.p.BlockSize, 17); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyProof(b *testing.B) {
	s := newBenchSetup(b)
	size := int64(len(s.shards[0]))
	p, leaf, err := BuildProof(bytes.NewReader(s.shards[0]), size, s.p.BlockSize, 17)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(leaf)))
	for b.Loop() {
		if err := VerifyProof(s.ids[0], size, s.p.BlockSize, leaf, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipelineSeal is the upload path of one 16 MiB segment: seal,
// Reed-Solomon 3 of 5, and the Merkle IDs of all 5 shards. MB/s counts
// object (plaintext) bytes.
func BenchmarkPipelineSeal(b *testing.B) {
	s := newBenchSetup(b)
	buf := make([]byte, 0, EncodedSize(s.p, int64(len(s.sealed))))
	h := NewHasher(s.p.BlockSize)
	b.SetBytes(benchSegment)
	for b.Loop() {
		sealed := s.c.Seal(buf, s.plain)
		shards, err := EncodeInPlace(s.p, sealed, int64(len(sealed)))
		if err != nil {
			b.Fatal(err)
		}
		for i, sh := range shards {
			h.Reset()
			h.Write(sh)
			if h.Sum() != s.ids[i] {
				b.Fatal("wrong id")
			}
		}
	}
}

// BenchmarkPipelineOpen is the download path of one 16 MiB segment in the
// realistic worst case of two missing data shards: verify the two parity
// shards used against their IDs (the AEAD authenticates the bytes of the
// data shard), reconstruct, open every block. MB/s counts object bytes.
func BenchmarkPipelineOpen(b *testing.B) {
	s := newBenchSetup(b)
	in := [][]byte{nil, nil, s.shards[2], s.shards[3], s.shards[4]}
	buf := make([]byte, 0, s.p.K*len(s.shards[0]))
	out := make([]byte, 0, benchSegment)
	b.SetBytes(benchSegment)
	for b.Loop() {
		for i := s.p.K; i < s.p.N; i++ {
			if err := Verify(s.ids[i], in[i], s.p.BlockSize); err != nil {
				b.Fatal(err)
			}
		}
		sealed, err := ReconstructInto(s.p, buf, in, int64(len(s.sealed)))
		if err != nil {
			b.Fatal(err)
		}
		plain, err := s.c.OpenBlocks(out, sealed, 0, s.total)
		if err != nil || len(plain) != benchSegment {
			b.Fatal(err)
		}
	}
}
