package shard

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// subsets calls f with every set of up to max indices out of n.
func subsets(n, max int, f func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		f(cur)
		if len(cur) == max {
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func TestEncodeReconstruct(t *testing.T) {
	for _, p := range []Params{{1, 2, 16}, {2, 3, 16}, {3, 5, 16}, {4, 7, 16}, {10, 14, 16}} {
		for _, size := range []int{0, 1, p.K - 1, p.K, p.K + 1, 1000, 4099} {
			t.Run(fmt.Sprintf("%d-of-%d/%d", p.K, p.N, size), func(t *testing.T) {
				sealed := testBytes(uint64(size), size)
				shards, err := Encode(p, sealed)
				if err != nil {
					t.Fatal(err)
				}
				s := ShardSize(p, int64(size))
				if len(shards) != p.N {
					t.Fatalf("%d shards", len(shards))
				}
				// Systematic layout: data shard i is sealed[i*S:(i+1)*S], padded.
				padded := append(bytes.Clone(sealed), make([]byte, int(s)*p.K-size)...)
				for i, sh := range shards {
					if int64(len(sh)) != s {
						t.Fatalf("shard %d: %d bytes, want %d", i, len(sh), s)
					}
					if i < p.K && !bytes.Equal(sh, padded[int64(i)*s:int64(i+1)*s]) {
						t.Fatalf("data shard %d is not the slice of the segment", i)
					}
				}
				subsets(p.N, p.N-p.K, func(missing []int) {
					in := append([][]byte(nil), shards...)
					for _, i := range missing {
						in[i] = nil
					}
					got, err := Reconstruct(p, in, int64(size))
					if err != nil || !bytes.Equal(got, sealed) {
						t.Fatalf("missing %v: %v", missing, err)
					}
					for _, i := range missing {
						if in[i] != nil {
							t.Fatalf("Reconstruct modified the input slice at %d", i)
						}
					}
					if err := Rebuild(p, in, int64(size)); err != nil {
						t.Fatalf("Rebuild missing %v: %v", missing, err)
					}
					for i := range in {
						if !bytes.Equal(in[i], shards[i]) {
							t.Fatalf("Rebuild missing %v: shard %d differs", missing, i)
						}
					}
				})
			})
		}
	}
}

func TestReconstructErrors(t *testing.T) {
	p := DefaultParams()
	sealed := testBytes(1, 3000)
	shards, _ := Encode(p, sealed)
	tooFew := append([][]byte(nil), shards...)
	tooFew[0], tooFew[3], tooFew[4] = nil, nil, []byte{}
	if _, err := Reconstruct(p, tooFew, 3000); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("2 of 5: %v, want ErrTooFewShards", err)
	}
	if err := Rebuild(p, tooFew, 3000); !errors.Is(err, ErrTooFewShards) {
		t.Errorf("Rebuild 2 of 5: %v, want ErrTooFewShards", err)
	}
	short := append([][]byte(nil), shards...)
	short[1] = short[1][:len(short[1])-1]
	if _, err := Reconstruct(p, short, 3000); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short shard: %v, want ErrCorrupt", err)
	}
	if _, err := Reconstruct(p, shards, 3001); !errors.Is(err, ErrCorrupt) {
		t.Errorf("size of another segment: %v, want ErrCorrupt", err)
	}
}

func TestEncodeInPlaceAndReconstructInto(t *testing.T) {
	p := DefaultParams()
	sealed := testBytes(3, 10007)
	want, _ := Encode(p, sealed)
	buf := make([]byte, len(sealed), EncodedSize(p, int64(len(sealed))))
	copy(buf, sealed)
	buf = append(buf, 0xff, 0xff) // stale bytes in the padding are cleared
	got, err := EncodeInPlace(p, buf[:len(sealed)], int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("EncodeInPlace shard %d differs", i)
		}
	}
	if &got[0][0] != &buf[0] {
		t.Fatal("EncodeInPlace copied")
	}
	in := [][]byte{nil, got[1], nil, got[3], got[4]}
	out := make([]byte, 0, p.K*int(ShardSize(p, int64(len(sealed)))))
	res, err := ReconstructInto(p, out, in, int64(len(sealed)))
	if err != nil || !bytes.Equal(res, sealed) || &res[0] != &out[:1][0] {
		t.Fatalf("ReconstructInto: %v (aliases buf: %v)", err, len(res) > 0 && &res[0] == &out[:1][0])
	}
}

func TestParamsValidate(t *testing.T) {
	cases := []struct {
		p  Params
		ok bool
	}{
		{DefaultParams(), true},
		{Params{1, 2, 1}, true},
		{Params{10, 30, 1 << 20}, true},
		{Params{128, 256, MaxBlockSize}, true},
		{Params{0, 2, 16}, false},
		{Params{3, 3, 16}, false},
		{Params{3, 2, 16}, false},
		{Params{100, 257, 16}, false},
		{Params{3, 5, 0}, false},
		{Params{3, 5, MaxBlockSize + 1}, false},
	}
	for _, c := range cases {
		if err := c.p.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate = %v", c.p, err)
		}
		if !c.ok {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%+v: Encode did not panic", c.p)
					}
				}()
				Encode(c.p, []byte("x"))
			}()
		}
	}
}

// TestConcurrentUse shares one SegmentCipher and the encoder cache between
// goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	c := NewSegmentCipher(fixedDataKey(1), fixedCtx(0), 256)
	params := []Params{{2, 4, 256}, {3, 5, 256}, {5, 8, 256}}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			p := params[g%len(params)]
			pt := testBytes(uint64(g), 3000+g)
			for range 20 {
				sealed := c.Seal(nil, pt)
				shards, err := Encode(p, sealed)
				if err != nil {
					errs <- err
					return
				}
				shards[0] = nil
				rebuilt, err := Reconstruct(p, shards, int64(len(sealed)))
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Open(nil, rebuilt)
				if err != nil || !bytes.Equal(got, pt) {
					errs <- fmt.Errorf("goroutine %d: round trip failed: %v", g, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
