package shard

import (
	"bytes"
	"errors"
	"testing"
)

func fixedDataKey(b byte) DataKey { return DataKey{b: (*[DataKeySize]byte)(bytesOf(b, DataKeySize))} }

func fixedCtx(seg uint64) SegmentContext {
	return SegmentContext{Object: [16]byte{1, 2, 3}, Segment: seg, Salt: [16]byte{9, 8, 7}}
}

func TestSealOpenRoundTrip(t *testing.T) {
	for _, bs := range []int{1, 16, 1000, DefaultBlockSize} {
		c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), bs)
		for _, size := range []int{0, 1, bs - 1, bs, bs + 1, 3 * bs, 3*bs + 5, 7*bs - 2} {
			if size < 0 || (bs == 1 && size > 64) {
				continue
			}
			pt := testBytes(uint64(size), size)
			sealed := c.Seal(nil, pt)
			total := BlockCount(int64(size), bs)
			if int64(len(sealed)) != SealedSize(int64(size), bs) || len(sealed) != size+total*Overhead {
				t.Fatalf("bs %d size %d: sealed %d bytes, SealedSize %d", bs, size, len(sealed), SealedSize(int64(size), bs))
			}
			got, err := c.OpenBlocks([]byte("prefix"), sealed, 0, total)
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), pt...)) {
				t.Fatalf("bs %d size %d: OpenBlocks all: %v", bs, size, err)
			}
			// Every range of blocks opens on its own.
			for a := 0; a <= total; a++ {
				for b := a; b <= total && b <= a+3; b++ {
					lo, hi := min(len(sealed), a*(bs+Overhead)), min(len(sealed), b*(bs+Overhead))
					got, err := c.OpenBlocks(nil, sealed[lo:hi], a, total)
					if err != nil || !bytes.Equal(got, pt[min(size, a*bs):min(size, b*bs)]) {
						t.Fatalf("bs %d size %d: blocks [%d,%d): %v", bs, size, a, b, err)
					}
				}
			}
		}
	}
}

func TestSealEmptySegment(t *testing.T) {
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), 16)
	sealed := c.Seal(nil, nil)
	if len(sealed) != Overhead || SealedSize(0, 16) != Overhead || BlockCount(0, 16) != 1 {
		t.Fatalf("empty segment sealed to %d bytes", len(sealed))
	}
	if got, err := c.OpenBlocks(nil, sealed, 0, 1); err != nil || len(got) != 0 {
		t.Fatalf("open empty: %q, %v", got, err)
	}
	// A one-block segment cut to nothing is not the empty segment: the
	// empty final block is authenticated.
	if _, err := c.OpenBlocks(nil, sealed[:Overhead-1], 0, 1); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("short tag: %v", err)
	}
}

func TestOpenTamper(t *testing.T) {
	const bs = 32
	dk := fixedDataKey(1)
	c := NewSegmentCipher(dk, fixedCtx(5), bs)
	pt := testBytes(1, 3*bs+7) // blocks of 32, 32, 32, 7
	sealed := c.Seal(nil, pt)
	const total = 4
	full := bs + Overhead
	blk := func(i int) []byte { return sealed[i*full : min(len(sealed), (i+1)*full)] }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	other := func(ctx SegmentContext, key DataKey) []byte { return NewSegmentCipher(key, ctx, bs).Seal(nil, pt) }
	otherObj := fixedCtx(5)
	otherObj.Object[0] ^= 1
	otherSalt := fixedCtx(5)
	otherSalt.Salt[15] ^= 1
	cases := []struct {
		name   string
		sealed []byte
		first  int
		total  int
	}{
		{"truncated mid-block", sealed[:len(sealed)-1], 0, total},
		{"truncated in a middle block", sealed[:2*full+5], 0, total},
		{"final block dropped, claimed complete", sealed[:3*full], 0, 3},
		{"extended by a byte", append(bytes.Clone(sealed), 0), 0, total},
		{"extra block after the last", cat(sealed, blk(3)), 0, total},
		{"blocks swapped", cat(blk(1), blk(0), blk(2), blk(3)), 0, total},
		{"block at wrong index", blk(1), 2, total},
		{"last block as non-last", blk(3), 2, total},
		{"non-last block as last", blk(2), 3, total},
		{"block duplicated", cat(blk(0), blk(0)), 0, total},
		{"other segment", other(fixedCtx(6), dk), 0, total},
		{"other object", other(otherObj, dk), 0, total},
		{"other sealing (salt)", other(otherSalt, dk), 0, total},
		{"other data key", other(fixedCtx(5), fixedDataKey(2)), 0, total},
		{"block spliced from other segment", cat(blk(0), other(fixedCtx(6), dk)[full:]), 0, total},
	}
	for _, tc := range cases {
		dst := []byte("keep")
		got, err := c.OpenBlocks(dst, tc.sealed, tc.first, tc.total)
		if !errors.Is(err, ErrUnauthenticated) || string(got) != "keep" {
			t.Errorf("%s: OpenBlocks = %q..., %v; want ErrUnauthenticated and dst unchanged", tc.name, got[:min(8, len(got))], err)
		}
	}
	for i := range len(sealed) * 8 {
		b := bytes.Clone(sealed)
		b[i/8] ^= 1 << (i % 8)
		if got, err := c.OpenBlocks(nil, b, 0, total); !errors.Is(err, ErrUnauthenticated) || len(got) != 0 {
			t.Fatalf("bit %d flipped: %d bytes, %v", i, len(got), err)
		}
	}
	// Whole blocks missing at the end of a range that does not claim the
	// last block: a valid prefix, which callers detect by its length.
	got, err := c.OpenBlocks(nil, sealed[:2*full], 0, total)
	if err != nil || !bytes.Equal(got, pt[:2*bs]) {
		t.Fatalf("prefix of 2 blocks: %v", err)
	}
}

func TestOpenBlocksMisusePanics(t *testing.T) {
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), 16)
	for _, a := range [][2]int{{-1, 1}, {0, 0}, {3, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("OpenBlocks(first=%d, total=%d) did not panic", a[0], a[1])
				}
			}()
			c.OpenBlocks(nil, nil, a[0], a[1])
		}()
	}
	for _, bs := range []int{0, -1, MaxBlockSize + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("block size %d did not panic", bs)
				}
			}()
			NewSegmentCipher(fixedDataKey(1), fixedCtx(0), bs)
		}()
	}
}

func TestSealOpenAllocs(t *testing.T) {
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), 1024)
	pt := testBytes(2, 10*1024+3)
	sealed := c.Seal(nil, pt)
	buf := make([]byte, 0, len(sealed))
	if n := testing.AllocsPerRun(20, func() { c.Seal(buf, pt) }); n != 0 {
		t.Errorf("Seal allocates %v times", n)
	}
	out := make([]byte, 0, len(pt))
	if n := testing.AllocsPerRun(20, func() {
		if _, err := c.OpenBlocks(out, sealed, 0, 11); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("OpenBlocks allocates %v times", n)
	}
}

// Opening a large segment into a nil buffer must allocate once, not once
// per block (which copies the plaintext again for each block).
func TestOpenAllocatesOnce(t *testing.T) {
	c := NewSegmentCipher(fixedDataKey(7), fixedCtx(1), 4096)
	plain := make([]byte, 64*4096+100)
	sealed := c.Seal(nil, plain)
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := c.Open(nil, sealed); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Open(nil, %d-block segment) made %v allocations, want 1", 65, allocs)
	}
}
