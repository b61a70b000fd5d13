package gateway

import (
	"bytes"
	"crypto/rand"
	"testing"

	"ishtar/meta"
	"ishtar/shard"
)

// Left unset, the code is 10 of 30 once 30 places can take a segment's
// shards and 3 of 5 below that; the quota counts what each code stores,
// and both read back byte for byte.
func TestCodeByNetworkSize(t *testing.T) {
	auto := func(c *Config) { c.Params, c.Fallback = shard.Params{}, shard.Params{} }
	data := make([]byte, 600<<10) // 3 segments of 256 KiB
	rand.Read(data)
	for _, tc := range []struct {
		peers int
		want  shard.Params
	}{
		{5, shard.DefaultParams()},
		{29, shard.DefaultParams()},
		{30, shard.WideParams()},
		{40, shard.WideParams()},
	} {
		tn := newNet(t, tc.peers, auto)
		if got := tn.g.Code(int64(len(data))); got != tc.want {
			t.Fatalf("%d peers: code %+v, want %+v", tc.peers, got, tc.want)
		}
		tn.bucket("b")
		tn.put("b", "k", data)
		segs := tn.segments("b", "k")
		if len(segs) != 3 {
			t.Fatalf("%d peers: %d segments", tc.peers, len(segs))
		}
		for _, s := range segs {
			if s.K != tc.want.K || s.N != tc.want.N || len(s.Shards) != tc.want.N {
				t.Fatalf("%d peers: segment coded %d of %d with %d shards, want %d of %d", tc.peers, s.K, s.N, len(s.Shards), tc.want.K, tc.want.N)
			}
		}
		if got := tn.get("b", "k"); !bytes.Equal(got, data) {
			t.Fatalf("%d peers: read back %d bytes, not the %d written", tc.peers, len(got), len(data))
		}
		if got, want := tn.counter(meta.CounterStoredBytes), tn.g.expansion(tc.want, int64(len(data))); got != want {
			t.Fatalf("%d peers: stored bytes %d, want %d", tc.peers, got, want)
		}
		if held := len(tn.held()); held != 3*tc.want.N {
			t.Fatalf("%d peers: peers hold %d shards, want %d", tc.peers, held, 3*tc.want.N)
		}
	}
}

// With address diversity, the places are address blocks: 40 peers in 4
// /24s get 3 of 5.
func TestCodeCountsBlocks(t *testing.T) {
	tn := newNet(t, 40, func(c *Config) {
		c.Params, c.Fallback, c.AddressDiversity = shard.Params{}, shard.Params{}, true
	})
	if got := tn.g.Code(1 << 20); got != shard.DefaultParams() {
		t.Fatalf("40 peers in 4 blocks: code %+v", got)
	}
	if f, _ := tn.g.cfg.fallback(); f.MinAcks != 5 { // as many beyond k as MinAcks 30 of 10 of 30
		t.Fatalf("fallback min acks %d", f.MinAcks)
	}
}

// A code set explicitly has no fallback: a small network refuses it.
func TestCodeExplicit(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Params = shard.WideParams() })
	if got := tn.g.Code(1 << 20); got != shard.WideParams() {
		t.Fatalf("explicit 10 of 30: code %+v", got)
	}
	if _, ok := tn.g.cfg.fallback(); ok {
		t.Fatal("explicit code got a fallback")
	}
}

// Whatever their code, Concurrency whole segments fill the memory
// semaphore: a 3 of 5 segment weighs as a 10 of 30 one (more of them at
// once only crowd the cores), and a segment of a code that expands more
// than any configured weighs what it holds.
func TestCodeWeight(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Params, c.Fallback = shard.Params{}, shard.Params{} })
	seg := tn.g.cfg.SegmentSize
	small, wide := tn.g.weight(shard.DefaultParams(), seg), tn.g.weight(shard.WideParams(), seg)
	if small != wide || wide != segmentWeight(shard.WideParams(), seg) {
		t.Fatalf("weights: 3 of 5 %d, 10 of 30 %d, want %d", small, wide, segmentWeight(shard.WideParams(), seg))
	}
	if n := tn.g.sem.size / small; n != int64(tn.g.cfg.Concurrency) {
		t.Fatalf("%d segments fit the semaphore, want %d", n, tn.g.cfg.Concurrency)
	}
	heavy := shard.Params{K: 1, N: 10, BlockSize: shard.DefaultBlockSize}
	if w := tn.g.weight(heavy, seg); w != segmentWeight(heavy, seg) || w <= wide {
		t.Fatalf("1 of 10 weighs %d, want %d", w, segmentWeight(heavy, seg))
	}
}
