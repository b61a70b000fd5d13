package meta

import (
	"fmt"
	"slices"
	"testing"
)

// wantLeases checks the whole lease index against want, in expiry order.
func wantLeases(t *testing.T, db *DB, want ...Lease) {
	t.Helper()
	got, err := db.Leases(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lease index %+v, want %+v", got, want)
	}
}

// The lease index follows every write of a held shard: new holdings,
// renewed ones, removed ones and the record's deletion.
func TestLeaseIndex(t *testing.T) {
	db := openMem(t)
	a, b := [32]byte{1}, [32]byte{2}
	s1, s2 := [32]byte{10}, [32]byte{11}
	h1 := HeldShard{ID: s1, Size: 5}
	h1.SetHolding(Holding{Owner: a, LeaseExpiry: 100})
	h1.SetHolding(Holding{Owner: b, LeaseExpiry: -5})
	h2 := HeldShard{ID: s2, Size: 5}
	h2.SetHolding(Holding{Owner: a, LeaseExpiry: 50})
	put(t, db, func(bt *Batch) error {
		if err := bt.PutHeldShard(h1); err != nil {
			return err
		}
		return bt.PutHeldShard(h2)
	})
	wantLeases(t, db, Lease{-5, s1, b}, Lease{50, s2, a}, Lease{100, s1, a})

	// Renewed, and written twice in one batch: the batch sees its own
	// writes, so no stale entry is left.
	put(t, db, func(bt *Batch) error {
		h1.SetHolding(Holding{Owner: b, LeaseExpiry: 200})
		if err := bt.PutHeldShard(h1); err != nil {
			return err
		}
		h1.SetHolding(Holding{Owner: b, LeaseExpiry: 300})
		return bt.PutHeldShard(h1)
	})
	wantLeases(t, db, Lease{50, s2, a}, Lease{100, s1, a}, Lease{300, s1, b})

	lapsed, err := db.LapsedLeases(nil, 100, 10)
	if err != nil || !slices.Equal(lapsed, []Lease{{50, s2, a}}) {
		t.Fatalf("lapsed before 100: %+v, %v", lapsed, err)
	}
	if lapsed, err = db.LapsedLeases(nil, 1000, 2); err != nil || len(lapsed) != 2 || lapsed[1] != (Lease{100, s1, a}) {
		t.Fatalf("lapsed before 1000, limit 2: %+v, %v", lapsed, err)
	}
	if lapsed, err = db.LapsedLeases(&lapsed[1], 1000, 2); err != nil || !slices.Equal(lapsed, []Lease{{300, s1, b}}) {
		t.Fatalf("lapsed before 1000 after the first page: %+v, %v", lapsed, err)
	}

	put(t, db, func(bt *Batch) error {
		h1.RemoveHolding(a)
		return bt.PutHeldShard(h1)
	})
	wantLeases(t, db, Lease{50, s2, a}, Lease{300, s1, b})
	put(t, db, func(bt *Batch) error {
		if err := bt.DeleteHeldShard(s2); err != nil {
			return err
		}
		return bt.DeleteHeldShard([32]byte{99}) // not held: nothing to do
	})
	wantLeases(t, db, Lease{300, s1, b})
}

// A catalog written before the lease index (schema 1) gets it when opened,
// over several pages.
func TestMigrateLeaseIndex(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const shards = 5000 // more than a page of the migration
	var want []Lease
	put(t, db, func(bt *Batch) error {
		for i := range shards {
			h := HeldShard{ID: [32]byte{byte(i >> 8), byte(i)}, Size: 1}
			h.SetHolding(Holding{Owner: [32]byte{1}, LeaseExpiry: int64(i)})
			want = append(want, Lease{int64(i), h.ID, [32]byte{1}})
			if i%1000 == 0 {
				h.SetHolding(Holding{Owner: [32]byte{2}, LeaseExpiry: int64(shards + i)})
				want = append(want, Lease{int64(shards + i), h.ID, [32]byte{2}})
			}
			// As the code before schema 2 wrote it: the record alone.
			if err := bt.Set(shardKey(h.ID), encodeHeldShard(h)); err != nil {
				return err
			}
		}
		return bt.Set(counterKey(counterSchema), encodeInt(1))
	})
	slices.SortFunc(want, func(x, y Lease) int { return int(x.Expiry - y.Expiry) })
	wantLeases(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	wantLeases(t, db, want...)
	if v, err := db.Counter(counterSchema); err != nil || v != schemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
}

func TestLeaseKeyOrder(t *testing.T) {
	prev := ""
	for _, e := range []int64{-1 << 63, -7, -1, 0, 1, 1 << 40, 1<<63 - 1} {
		k := leaseKey(e, [32]byte{9}, [32]byte{8})
		if string(k) <= prev {
			t.Fatalf("key of %d sorts before the previous one", e)
		}
		prev = string(k)
		if l, err := decodeLeaseKey(k); err != nil || l.Expiry != e {
			t.Fatal(fmt.Sprint(l, err))
		}
	}
}
