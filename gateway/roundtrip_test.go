package gateway

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"ishtar/meta"
	"ishtar/shard"
)

func TestRoundTripSizes(t *testing.T) {
	tn := newNet(t, 7, nil)
	tn.bucket("b")
	seg := int(tn.g.cfg.SegmentSize)
	sizes := []int{0, 1, 4 << 10, seg - 1, seg, seg + 1, 3*seg + 12345}
	for i, n := range sizes {
		key := fmt.Sprintf("obj-%d", n)
		data := randBytes(n, uint64(i))
		tn.put("b", key, data)
		if got := tn.get("b", key); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes, not equal", n, len(got))
		}
		segs := tn.segments("b", key)
		if want := max(1, (n+seg-1)/seg); len(segs) != want {
			t.Fatalf("%d bytes: %d segments, want %d", n, len(segs), want)
		}
		for _, s := range segs {
			checkSegment(t, tn, s)
		}
	}
	// Every shard is on exactly one peer, and only shards of objects are.
	held := tn.held()
	var want int
	for _, n := range sizes {
		want += tn.g.cfg.Params.N * max(1, (n+seg-1)/seg)
	}
	if len(held) != want {
		t.Fatalf("peers hold %d shards, want %d", len(held), want)
	}
	for id, c := range held {
		if c != 1 {
			t.Fatalf("shard %s held %d times", id, c)
		}
	}
	var exp int64
	for _, n := range sizes {
		exp += tn.g.expansion(tn.g.cfg.Params, int64(n))
	}
	if got := tn.counter(meta.CounterStoredBytes); got != exp {
		t.Fatalf("stored bytes %d, want %d", got, exp)
	}
	if js, _ := tn.db.Journals(0); len(js) != 0 {
		t.Fatalf("journal left after commits: %d entries", len(js))
	}
}

// checkSegment checks that a committed segment has N distinct peers and
// receipts that verify for what the peer holds.
func checkSegment(t *testing.T, tn *testNet, s meta.Segment) {
	t.Helper()
	p := shard.Params{K: s.K, N: s.N, BlockSize: s.BlockSize}
	size := shard.ShardSize(p, s.SealedSize)
	nodes := map[[32]byte]bool{}
	for i, sh := range s.Shards {
		if !sh.Stored() || nodes[sh.Node] {
			t.Fatalf("segment %x shard %d: node %x stored=%v (duplicate or missing)", s.ID, i, sh.Node, sh.Stored())
		}
		nodes[sh.Node] = true
		r := shard.Receipt{Shard: sh.ID, Size: size, Owner: tn.owner.Signing.Public(), Node: sh.Node,
			Holder: sh.Holder, LeaseExpiry: sh.LeaseExpiry, Time: sh.Time, Sig: sh.Sig}
		if err := r.Verify(); err != nil {
			t.Fatalf("segment %x shard %d: kept receipt: %v", s.ID, i, err)
		}
		if !tn.peers[tn.peerIndex(sh.Node)].ids()[sh.ID] {
			t.Fatalf("segment %x shard %d: peer does not hold it", s.ID, i)
		}
	}
}

func TestDefaultSegmentSize(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB segments")
	}
	tn := newNet(t, 5, func(c *Config) { c.SegmentSize = 0 })
	tn.bucket("b")
	data := randBytes(16<<20+1, 7)
	tn.put("b", "big", data)
	if got := tn.get("b", "big"); !bytes.Equal(got, data) {
		t.Fatal("16 MiB + 1 object read back wrong")
	}
	if segs := tn.segments("b", "big"); len(segs) != 2 || segs[0].PlainSize != 16<<20 || segs[1].PlainSize != 1 {
		t.Fatalf("segments %d", len(segs))
	}
	got, err := tn.read(context.Background(), "b", "big", 16<<20-100, 101)
	if err != nil || !bytes.Equal(got, data[16<<20-100:]) {
		t.Fatalf("range across the segment boundary: %v", err)
	}
}

func TestRangedReads(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Params.BlockSize = 4 << 10 })
	tn.bucket("b")
	seg := tn.g.cfg.SegmentSize
	data := randBytes(int(3*seg+seg/2), 1)
	tn.put("b", "o", data)
	size := int64(len(data))
	B := int64(tn.g.cfg.Params.BlockSize)
	ranges := [][2]int64{
		{0, 1}, {0, size}, {size - 1, 1}, {seg - 1, 2}, {seg - 10, seg + 20}, {B - 1, 2}, {B, B},
		{seg + 5*B + 7, 3 * B}, {2*seg - 3, 6}, {size - seg - 1, seg + 1}, {17, 3*seg + 100},
		// Around data-shard boundaries inside a segment.
		{shard.ShardSize(tn.g.cfg.Params, shard.SealedSize(seg, int(B))) - 50, 100},
	}
	for _, r := range ranges {
		got, err := tn.read(context.Background(), "b", "o", r[0], r[1])
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		if !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: wrong bytes", r)
		}
	}
	if tn.g.store.Stats().Reconstructions != 0 {
		t.Fatal("healthy reads reconstructed")
	}
}

// TestReadFetchesOnlyWhatItNeeds checks that a small range reads one
// block from one data shard and nothing else.
func TestReadFetchesOnlyWhatItNeeds(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Params.BlockSize = 4 << 10 })
	tn.bucket("b")
	seg := tn.g.cfg.SegmentSize
	data := randBytes(int(4*seg), 2)
	tn.put("b", "o", data)
	before := make([]int64, len(tn.peers))
	for i, p := range tn.peers {
		before[i], _, _ = p.counters()
	}
	off := 2*seg + 100
	got, err := tn.read(context.Background(), "b", "o", off, 10)
	if err != nil || !bytes.Equal(got, data[off:off+10]) {
		t.Fatalf("read: %v", err)
	}
	var served int64
	for i, p := range tn.peers {
		s, _, _ := p.counters()
		served += s - before[i]
	}
	if want := int64(tn.g.cfg.Params.BlockSize + shard.Overhead); served != want {
		t.Fatalf("served %d bytes for a 10-byte read, want one sealed block (%d)", served, want)
	}
}

func TestReopenReadsEverything(t *testing.T) {
	dir := t.TempDir()
	db, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn := newNetDB(t, 6, db, nil)
	tn.bucket("b")
	objs := map[string][]byte{}
	for i, n := range []int{0, 10, 300 << 10, 600 << 10} {
		k := fmt.Sprintf("k%d", i)
		objs[k] = randBytes(n, uint64(i+40))
		tn.put("b", k, objs[k])
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if tn.db, err = meta.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer tn.db.Close()
	tn.open()
	for k, want := range objs {
		if got := tn.get("b", k); !bytes.Equal(got, want) {
			t.Fatalf("%s after reopen: wrong bytes", k)
		}
	}
	bs, err := tn.g.ListBuckets(context.Background())
	if err != nil || len(bs) != 1 || bs[0].Name != "b" {
		t.Fatalf("buckets after reopen: %+v, %v", bs, err)
	}
}
