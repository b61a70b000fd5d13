package shard

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

func TestOpenWholeSegment(t *testing.T) {
	const bs = 16
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), bs)
	full := bs + Overhead
	for _, size := range []int{0, 1, bs, bs + 1, 4 * bs, 4*bs + 3} {
		pt := testBytes(uint64(size), size)
		sealed := c.Seal(nil, pt)
		got, err := c.Open([]byte("x"), sealed)
		if err != nil || !bytes.Equal(got, append([]byte("x"), pt...)) {
			t.Fatalf("size %d: Open: %v", size, err)
		}
		// Every cut fails, including at block boundaries.
		for n := 0; n < len(sealed); n++ {
			if got, err := c.Open(nil, sealed[:n]); !errors.Is(err, ErrUnauthenticated) || len(got) != 0 {
				t.Fatalf("size %d cut to %d: %d bytes, %v", size, n, len(got), err)
			}
		}
		if _, err := c.Open(nil, append(bytes.Clone(sealed), sealed[:min(full, len(sealed))]...)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("size %d with a block appended: %v", size, err)
		}
	}
}

func TestReader(t *testing.T) {
	const bs = 64
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(2), bs)
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, bs, 5*bs + 17} {
		pt := testBytes(uint64(size), size)
		sealed := c.Seal(nil, pt)
		rd, err := c.NewReader(bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil || rd.Size() != int64(size) {
			t.Fatalf("size %d: NewReader: %v, Size %d", size, err, rd.Size())
		}
		all, err := io.ReadAll(io.NewSectionReader(rd, 0, rd.Size()))
		if err != nil || !bytes.Equal(all, pt) {
			t.Fatalf("size %d: ReadAll: %v", size, err)
		}
		for range 200 {
			off := r.IntN(size + 2)
			p := make([]byte, r.IntN(3*bs))
			n, err := rd.ReadAt(p, int64(off))
			want := pt[min(off, size):min(size, off+len(p))]
			if n != len(want) || !bytes.Equal(p[:n], want) {
				t.Fatalf("size %d: ReadAt(%d bytes at %d) = %d, %v", size, len(p), off, n, err)
			}
			if wantEOF := n < len(p) || off >= size; wantEOF != errors.Is(err, io.EOF) || (!wantEOF && err != nil) {
				t.Fatalf("size %d: ReadAt(%d bytes at %d): err %v", size, len(p), off, err)
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	const bs = 64
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(2), bs)
	pt := testBytes(4, 3*bs)
	sealed := c.Seal(nil, pt)
	bad := bytes.Clone(sealed)
	bad[bs+Overhead+5] ^= 1 // in block 1
	rd, _ := c.NewReader(bytes.NewReader(bad), int64(len(bad)))
	p := make([]byte, 10)
	if _, err := rd.ReadAt(p, 5); err != nil {
		t.Fatalf("block 0 is intact: %v", err)
	}
	if n, err := rd.ReadAt(p, bs+1); !errors.Is(err, ErrUnauthenticated) || n != 0 {
		t.Fatalf("tampered block 1: %d, %v", n, err)
	}
	short, _ := c.NewReader(bytes.NewReader(sealed[:100]), int64(len(sealed)))
	if _, err := short.ReadAt(p, 2*bs); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short source: %v", err)
	}
	for _, n := range []int64{0, 15, bs + Overhead + 15} {
		if _, err := c.NewReader(bytes.NewReader(sealed), n); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("sealed size %d: %v", n, err)
		}
	}
	if _, err := rd.ReadAt(p, -1); err == nil {
		t.Error("negative offset accepted")
	}
}
