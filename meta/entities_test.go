package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

func equalHeld(a, b HeldShard) bool {
	return a.ID == b.ID && a.Size == b.Size && a.StoredAt == b.StoredAt &&
		a.Location == b.Location && slices.Equal(a.Holders, b.Holders)
}

func put(t *testing.T, db *DB, fn func(b *Batch) error) {
	t.Helper()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestHoldings(t *testing.T) {
	var h HeldShard
	for _, o := range []byte{5, 1, 9, 3} {
		h.SetHolding(Holding{Owner: [32]byte{o}, LeaseExpiry: int64(o)})
	}
	h.SetHolding(Holding{Owner: [32]byte{9}, LeaseExpiry: 90})
	var owners []byte
	for _, hd := range h.Holders {
		owners = append(owners, hd.Owner[0])
	}
	if !bytes.Equal(owners, []byte{1, 3, 5, 9}) {
		t.Fatalf("holders not sorted and unique: %v", owners)
	}
	if hd, ok := h.Holding([32]byte{9}); !ok || hd.LeaseExpiry != 90 {
		t.Fatalf("Holding(9) = %+v, %v", hd, ok)
	}
	if !h.RemoveHolding([32]byte{3}) || h.RemoveHolding([32]byte{3}) {
		t.Fatal("RemoveHolding must report existence once")
	}
	if _, ok := h.Holding([32]byte{3}); ok || len(h.Holders) != 3 {
		t.Fatalf("after remove: %+v", h.Holders)
	}
}

func TestHeldShards(t *testing.T) {
	db := openMem(t)
	if _, err := db.HeldShard([32]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	var want []HeldShard
	for i := byte(1); i <= 5; i++ {
		h := HeldShard{ID: [32]byte{i, 0xff}, Size: int64(i) << 20, StoredAt: -int64(i), Location: LocationFile}
		h.SetHolding(Holding{Owner: [32]byte{i}, LeaseExpiry: 1 << 40, StoredAt: 3})
		h.SetHolding(Holding{Owner: [32]byte{0, i}, LeaseExpiry: 7, StoredAt: 4})
		want = append(want, h)
		put(t, db, func(b *Batch) error { return b.PutHeldShard(h) })
	}
	got, err := db.HeldShard(want[2].ID)
	if err != nil || !equalHeld(got, want[2]) {
		t.Fatalf("HeldShard = %+v, %v", got, err)
	}
	page, err := db.HeldShards([32]byte{}, 2)
	if err != nil || len(page) != 2 || !equalHeld(page[0], want[0]) || !equalHeld(page[1], want[1]) {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = db.HeldShards(page[1].ID, 10)
	if err != nil || len(page) != 3 || !equalHeld(page[2], want[4]) {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	put(t, db, func(b *Batch) error { return b.DeleteHeldShard(want[0].ID) })
	if _, err := db.HeldShard(want[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

func TestLastGrant(t *testing.T) {
	db := openMem(t)
	s, o := [32]byte{1}, [32]byte{2}
	if v, err := db.LastGrant(s, o); err != nil || v != 0 {
		t.Fatalf("absent = %d, %v", v, err)
	}
	put(t, db, func(b *Batch) error { return b.SetLastGrant(s, o, 100) })
	put(t, db, func(b *Batch) error { return b.SetLastGrant(s, [32]byte{3}, 50) })
	put(t, db, func(b *Batch) error { return b.SetLastGrant([32]byte{9}, o, 10) })
	if v, err := db.LastGrant(s, o); err != nil || v != 100 {
		t.Fatalf("LastGrant = %d, %v", v, err)
	}
	// Shard 9 is held: its grant time goes all the same (a grant that old
	// is refused by its timestamp).
	h := HeldShard{ID: [32]byte{9}, Size: 1, Location: LocationFile}
	h.SetHolding(Holding{Owner: o})
	put(t, db, func(b *Batch) error { return b.PutHeldShard(h) })
	n, err := db.PruneLastGrants(60)
	if err != nil || n != 2 {
		t.Fatalf("PruneLastGrants = %d, %v; want 2", n, err)
	}
	for _, c := range []struct {
		s, o [32]byte
		want int64
	}{{s, o, 100}, {s, [32]byte{3}, 0}, {[32]byte{9}, o, 0}} {
		if v, err := db.LastGrant(c.s, c.o); err != nil || v != c.want {
			t.Fatalf("LastGrant(%x,%x) = %d, %v; want %d", c.s[0], c.o[0], v, err, c.want)
		}
	}
}

// Pruning goes through any number of entries, a page at a time.
func TestPruneLastGrantsPages(t *testing.T) {
	db := openMem(t)
	const n = 10_000
	put(t, db, func(b *Batch) error {
		for i := range n {
			var s [32]byte
			binary.BigEndian.PutUint32(s[:], uint32(i))
			if err := b.SetLastGrant(s, [32]byte{1}, int64(i%2)*1000); err != nil {
				return err
			}
		}
		return nil
	})
	removed, err := db.PruneLastGrants(500)
	if err != nil || removed != n/2 {
		t.Fatalf("PruneLastGrants = %d, %v; want %d", removed, err, n/2)
	}
	left := 0
	if err := db.Scan([]byte{prefixLastGrant}, nil, 0, func(k, v []byte) error { left++; return nil }); err != nil || left != n/2 {
		t.Fatalf("%d entries left (%v), want %d", left, err, n/2)
	}
}

func TestPeersAndRoots(t *testing.T) {
	db := openMem(t)
	for i := byte(3); i >= 1; i-- {
		p := Peer{ID: [32]byte{i}, Seq: uint64(i) * 10, Seen: 42, Record: []byte{'r', i}}
		put(t, db, func(b *Batch) error { return b.PutPeer(p) })
	}
	ps, err := db.Peers([32]byte{}, 0)
	if err != nil || len(ps) != 3 {
		t.Fatalf("Peers = %v, %v", ps, err)
	}
	for i, p := range ps {
		n := byte(i + 1)
		if p.ID != [32]byte{n} || p.Seq != uint64(n)*10 || p.Seen != 42 || !bytes.Equal(p.Record, []byte{'r', n}) {
			t.Fatalf("peer %d = %+v", i, p)
		}
	}
	put(t, db, func(b *Batch) error { return b.DeletePeer([32]byte{2}) })
	if _, err := db.Peer([32]byte{2}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted peer: %v", err)
	}

	if _, err := db.Root([32]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent root: %v", err)
	}
	put(t, db, func(b *Batch) error { return b.PutRoot(Root{Owner: [32]byte{1}, Seq: 7, Record: []byte("x")}) })
	r, err := db.Root([32]byte{1})
	if err != nil || r.Seq != 7 || string(r.Record) != "x" {
		t.Fatalf("Root = %+v, %v", r, err)
	}
}

func TestCorruptValues(t *testing.T) {
	h := HeldShard{ID: [32]byte{1}, Size: 10, Location: LocationFile}
	h.SetHolding(Holding{Owner: [32]byte{2}, LeaseExpiry: 3, StoredAt: 4})
	good := encodeHeldShard(h)
	key := shardKey(h.ID)
	for i := range good {
		if _, err := decodeHeldShard(key, good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v, want ErrCorrupt", i, err)
		}
	}
	bad := append([]byte{99}, good[1:]...)
	if _, err := decodeHeldShard(key, bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown version: %v", err)
	}
	// A newer writer may append fields.
	got, err := decodeHeldShard(key, append(good, 1, 2, 3))
	if err != nil || !equalHeld(got, h) {
		t.Fatalf("trailing bytes: %+v, %v", got, err)
	}

	db := openMem(t)
	if err := db.Set(key, []byte{1, 0x80}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.HeldShard(h.ID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt stored value: %v", err)
	}
}

func FuzzDecodeHeldShard(f *testing.F) {
	h := HeldShard{ID: [32]byte{1}, Size: 10, Location: LocationFile}
	h.SetHolding(Holding{Owner: [32]byte{2}, LeaseExpiry: 3, StoredAt: 4})
	f.Add(encodeHeldShard(h))
	f.Add([]byte{1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := decodeHeldShard(shardKey(h.ID), v)
		if err != nil {
			return
		}
		again, err := decodeHeldShard(shardKey(h.ID), encodeHeldShard(got))
		if err != nil || !equalHeld(again, got) {
			t.Fatalf("re-encode round trip: %+v vs %+v, %v", got, again, err)
		}
	})
}

func TestInlineShards(t *testing.T) {
	db := openMem(t)
	if _, err := db.InlineShard([32]byte{1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	blob := func(i byte) []byte { return bytes.Repeat([]byte{i}, int(i)*100) }
	var want []InlineShardInfo
	for i := byte(0); i < 6; i++ {
		id := [32]byte{i, 0xaa}
		put(t, db, func(b *Batch) error { return b.PutInlineShard(id, blob(i)) })
		want = append(want, InlineShardInfo{ID: id, Size: int64(len(blob(i)))})
	}
	for i, in := range want {
		got, err := db.InlineShard(in.ID)
		if err != nil || !bytes.Equal(got, blob(byte(i))) {
			t.Fatalf("InlineShard %d: %d bytes, %v", i, len(got), err)
		}
	}
	// Paging lists every shard once, in ID order, with its size.
	var listed []InlineShardInfo
	var after [32]byte
	for range 10 {
		page, err := db.InlineShards(after, 4)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, page...)
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(listed, want) {
		t.Fatalf("InlineShards = %v, want %v", listed, want)
	}
	// Inside a batch: its own put and delete are seen, and nothing leaves
	// it before commit.
	err := db.Update(func(b *Batch) error {
		if b.DB() != db {
			t.Error("Batch.DB is not the batch's database")
		}
		if err := b.DeleteInlineShard(want[2].ID); err != nil {
			return err
		}
		if err := b.PutInlineShard(want[3].ID, []byte("replaced")); err != nil {
			return err
		}
		if _, err := b.InlineShard(want[2].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted in batch: %v", err)
		}
		if got, err := b.InlineShard(want[3].ID); err != nil || string(got) != "replaced" {
			t.Errorf("replaced in batch: %q, %v", got, err)
		}
		if got, err := db.InlineShard(want[3].ID); err != nil || !bytes.Equal(got, blob(3)) {
			t.Errorf("replacement visible before commit: %d bytes, %v", len(got), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.InlineShard(want[2].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if got, err := db.InlineShard(want[3].ID); err != nil || string(got) != "replaced" {
		t.Fatalf("replaced: %q, %v", got, err)
	}
	// Inline bytes live apart from the held-shard index.
	if held, err := db.HeldShards([32]byte{}, 0); err != nil || len(held) != 0 {
		t.Fatalf("held shards %v, %v", held, err)
	}
}

func TestInlineShardCorrupt(t *testing.T) {
	good := encodeInline([]byte("shard bytes"))
	for i := range good {
		if _, err := decodeInline(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := decodeInline(append([]byte{2}, good[1:]...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown version: %v", err)
	}
	if got, err := decodeInline(append(good, 9, 9)); err != nil || string(got) != "shard bytes" {
		t.Fatalf("trailing bytes: %q, %v", got, err)
	}
	db := openMem(t)
	id := [32]byte{7}
	if err := db.Set(inlineKey(id), []byte{1, 50, 'x'}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InlineShard(id); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt stored value: %v", err)
	}
	if _, err := db.InlineShards([32]byte{}, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("listing a corrupt value: %v", err)
	}
}

func FuzzDecodeInline(f *testing.F) {
	f.Add(encodeInline([]byte("abc")))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := decodeInline(v)
		if err != nil {
			return
		}
		again, err := decodeInline(encodeInline(got))
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-encode round trip: %q vs %q, %v", got, again, err)
		}
	})
}
