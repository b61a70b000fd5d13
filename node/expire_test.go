package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// A holding whose lease lapsed more than the grace ago is deleted, with
// the shard's bytes when it was the last; one renewed in time, or still
// in its grace, stays; a shard held by two owners loses only the lapsed
// owner's holding; the owner's root, posted longer ago than the foreign
// roots' TTL, goes with its last holding (see roots_test.go for one
// posted within it); and the node's free space grows back by all of it.
func TestLeaseExpiry(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		clock := newTestClock()
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax, cfg: func(c *Config) {
			c.Now = clock.Now
			c.ForeignRoots.TTL = 7 * 24 * time.Hour
		}})
		var logs syncBuffer
		n.srv.log = slog.New(slog.NewJSONHandler(&logs, nil))
		c := n.client(t, WithClientClock(clock.Now))
		ctx := context.Background()
		a, b, gone := newKey(t), newKey(t), newKey(t)
		start := clock.Now()
		day := start.Add(24 * time.Hour)
		grace := n.srv.cfg.LeaseGrace
		if grace != 7*24*time.Hour {
			t.Fatalf("default lease grace %v", grace)
		}

		lapsedB, lapsed := testShard(2300, 1000) // a's, lapses
		keptB, kept := testShard(2301, 1000)     // a's, renewed by a batch
		sharedB, shared := testShard(2302, 700)  // a's lapses, b's lasts
		lateB, late := testShard(2303, 300)      // a's, renewed within the grace
		goneB, goneID := testShard(2304, 400)    // the only shard of an owner with a root
		putLease(t, c, clock, a, lapsedB, lapsed, day)
		putLease(t, c, clock, a, keptB, kept, day)
		putLease(t, c, clock, a, sharedB, shared, day)
		putLease(t, c, clock, b, sharedB, shared, start.Add(60*24*time.Hour))
		putLease(t, c, clock, a, lateB, late, day)
		putLease(t, c, clock, gone, goneB, goneID, day)
		root := shard.RootRecord{Seq: 1, Pointer: []byte("sealed"), Time: start.Unix()}
		root.Sign(gone)
		if err := c.PutRoot(ctx, root); err != nil {
			t.Fatal(err)
		}
		if _, err := c.RenewBatch(ctx, renewBatch(a, n, clock, start.Add(30*24*time.Hour), kept)); err != nil {
			t.Fatal(err)
		}
		n.checkLeaseIndex(t)
		rootRec, err := n.db.Root(gone.Public())
		if err != nil {
			t.Fatal(err)
		}
		rec0, err := n.srv.Record()
		if err != nil {
			t.Fatal(err)
		}
		before := n.state(t)

		// Lapsed, but within the grace: nothing goes; a renews one.
		clock.advance(24*time.Hour + grace - time.Hour)
		if ex, err := n.srv.ExpireLeases(ctx); err != nil || ex != (Expired{}) {
			t.Fatalf("within the grace: %+v, %v", ex, err)
		}
		if _, err := c.RenewBatch(ctx, renewBatch(a, n, clock, clock.Now().Add(30*24*time.Hour), late)); err != nil {
			t.Fatal(err)
		}

		clock.advance(2 * time.Hour)
		// Past the grace, a holding is not held, swept or not yet.
		ans, err := c.RenewBatch(ctx, renewBatch(a, n, clock, clock.Now().Add(24*time.Hour), lapsed))
		if err != nil || len(ans.Renewed) != 0 || len(ans.NotHeld) != 1 {
			t.Fatalf("renew past the grace: %+v, %v", ans, err)
		}
		n.srv.prune(ctx) // Maintain's pass
		for _, id := range []shard.ID{lapsed, goneID} {
			if _, err := n.db.HeldShard(id); !errors.Is(err, meta.ErrNotFound) {
				t.Fatalf("expired shard still indexed: %v", err)
			}
			if loc := n.location(t, id); loc != "" {
				t.Fatalf("expired shard's bytes still kept %s", loc)
			}
		}
		for _, id := range []shard.ID{kept, late} {
			if n.lease(t, id, a) == 0 {
				t.Fatal("a renewed holding expired")
			}
			size := 1000
			if id == late {
				size = 300
			}
			n.wantPlaced(t, m, id, size)
		}
		if n.lease(t, shared, a) != 0 || n.lease(t, shared, b) == 0 {
			t.Fatal("shared shard: wrong holdings left")
		}
		n.wantPlaced(t, m, shared, 700)
		if _, err := n.db.Root(gone.Public()); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("root of an owner with no holding left: %v", err)
		}
		if o, err := n.db.OwnerHeld(a.Public()); err != nil || o.Shards != 2 || o.Bytes != 1300+2*ho {
			t.Fatalf("owner a's totals %+v, %v", o, err)
		}
		n.checkLeaseIndex(t)
		after := n.state(t)
		freed := before.used - after.used
		if freed != 1000+400+3*ho+int64(len(rootRec.Record)) {
			t.Fatalf("used bytes fell by %d", freed)
		}
		rec1, err := n.srv.Record()
		if err != nil || rec1.Free != rec0.Free+freed {
			t.Fatalf("free %d then %d (%v), want %d more", rec0.Free, rec1.Free, err, freed)
		}
		var line map[string]any
		for _, l := range logs.lines(t) {
			if l["msg"] == "expired lapsed leases" {
				line = l
			}
		}
		if line == nil || line["level"] != "INFO" || line["holdings"] != 3.0 || line["shards"] != 2.0 || line["freed"] != float64(freed) {
			t.Fatalf("info line of the sweep: %v", line)
		}
		// Nothing more to do.
		if ex, err := n.srv.ExpireLeases(ctx); err != nil || ex != (Expired{}) {
			t.Fatalf("second sweep: %+v, %v", ex, err)
		}
		// Not held any more: the renew says so and does not resurrect.
		ans, err = c.RenewBatch(ctx, renewBatch(a, n, clock, clock.Now().Add(24*time.Hour), lapsed, shared))
		if err != nil || len(ans.Renewed) != 0 || len(ans.NotHeld) != 2 {
			t.Fatalf("renew of expired holdings: %+v, %v", ans, err)
		}
	})
}

// A sweep works through many lapsed holdings a page at a time, all in one
// call, and reports them.
func TestLeaseExpiryPages(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock.Now }})
	c := n.client(t, WithClientClock(clock.Now))
	owner := newKey(t)
	const shards = 2*expirePage + 17
	for i := range shards {
		b, id := testShard(uint64(3000+i), 64)
		putLease(t, c, clock, owner, b, id, clock.Now().Add(time.Hour))
	}
	b, id := testShard(2999, 64)
	putLease(t, c, clock, owner, b, id, clock.Now().Add(30*24*time.Hour))
	clock.advance(time.Hour + n.srv.cfg.LeaseGrace + time.Second)
	ex, err := n.srv.ExpireLeases(context.Background())
	if err != nil || ex.Holdings != shards || ex.Shards != shards || ex.Freed != shards*(64+ho) {
		t.Fatalf("sweep: %+v, %v", ex, err)
	}
	st := n.state(t)
	if len(st.held) != 1 || st.held[0].ID != id || len(st.shards) != 1 {
		t.Fatalf("left %d records, %d shards", len(st.held), len(st.shards))
	}
	n.checkLeaseIndex(t)
}

// A stale index entry (no such holding, or a renewed one's old expiry) is
// dropped by the sweep without touching the holding.
func TestLeaseExpiryStaleEntries(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock.Now }})
	c := n.client(t, WithClientClock(clock.Now))
	owner := newKey(t)
	b, id := testShard(2400, 64)
	putLease(t, c, clock, owner, b, id, clock.Now().Add(30*24*time.Hour))
	err := n.db.Update(func(bt *meta.Batch) error {
		for _, l := range []meta.Lease{{Expiry: 5, Shard: id, Owner: owner.Public()}, {Expiry: 6, Shard: shard.ID{9}, Owner: owner.Public()}} {
			if err := bt.Set(leaseKeyForTest(l), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := n.srv.ExpireLeases(context.Background())
	if err != nil || ex != (Expired{}) {
		t.Fatalf("sweep: %+v, %v", ex, err)
	}
	n.checkLeaseIndex(t)
	if n.lease(t, id, owner) == 0 {
		t.Fatal("holding gone")
	}
}

// leaseKeyForTest is meta's lease index key, as documented in meta/doc.go.
func leaseKeyForTest(l meta.Lease) []byte {
	k := []byte{'e'}
	k = append(k, byte(uint64(l.Expiry)>>56^0x80), byte(l.Expiry>>48), byte(l.Expiry>>40), byte(l.Expiry>>32),
		byte(l.Expiry>>24), byte(l.Expiry>>16), byte(l.Expiry>>8), byte(l.Expiry))
	k = append(k, l.Shard[:]...)
	return append(k, l.Owner[:]...)
}

func TestLeaseGraceConfig(t *testing.T) {
	for _, tc := range []struct {
		grace time.Duration
		ok    bool
	}{{0, true}, {time.Minute, true}, {MaxLeaseGrace, true}, {-time.Hour, false}, {time.Second, true}, {time.Second - 1, false}, {MaxLeaseGrace + 1, false}} {
		c := Config{Key: newKey(t), Address: "http://a", LeaseGrace: tc.grace}
		c.Defaults()
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("lease grace %v: %v", tc.grace, err)
		}
		if tc.grace == 0 && c.LeaseGrace != DefaultLeaseGrace {
			t.Errorf("default lease grace %v", c.LeaseGrace)
		}
	}
}

// Sweeps race stores of the same shards and batch renewals: afterwards
// the records, the lease index, the totals, the used bytes and the files
// agree, and no holding stored or renewed in time was lost.
func TestLeaseExpiryRaces(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		storeDir := t.TempDir()
		st, err := NewDiskStore(storeDir, testLeafSize)
		if err != nil {
			t.Fatal(err)
		}
		clock := newTestClock()
		n := startNode(t, nodeOpts{st: st, inlineMax: m.inlineMax, cfg: func(c *Config) { c.Now = clock.Now }})
		c := n.client(t, WithClientClock(clock.Now))
		ctx := context.Background()
		a, b := newKey(t), newKey(t)
		grace := n.srv.cfg.LeaseGrace
		type sh struct {
			data []byte
			id   shard.ID
		}
		var restored, dropped, renewed []sh
		for i := range 30 {
			data, id := testShard(uint64(4000+i), 500+i)
			s := sh{data, id}
			switch i % 3 {
			case 0: // past the grace, stored again during the race
				putLease(t, c, clock, a, data, id, clock.Now().Add(time.Hour))
				restored = append(restored, s)
			case 1: // past the grace, gone
				putLease(t, c, clock, a, data, id, clock.Now().Add(time.Hour))
				dropped = append(dropped, s)
			case 2: // within the grace, renewed during the race
				putLease(t, c, clock, a, data, id, clock.Now().Add(3*time.Hour))
				renewed = append(renewed, s)
			}
			putLease(t, c, clock, b, data, id, clock.Now().Add(time.Hour)) // b's always lapse
		}
		clock.advance(grace + 2*time.Hour)

		var wg sync.WaitGroup
		errs := make(chan error, 4)
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				if _, err := n.srv.ExpireLeases(ctx); err != nil {
					errs <- err
					return
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		})
		var work sync.WaitGroup
		work.Go(func() {
			for _, s := range restored {
				g := shard.Grant{Op: shard.OpStore, Shard: s.id, Size: int64(len(s.data)),
					LeaseExpiry: clock.Now().Add(24 * time.Hour).Unix(), Time: clock.Now().UnixNano() + grantTime()%1000}
				g.Sign(a)
				if _, err := c.PutShard(ctx, s.id, bytes.NewReader(s.data), int64(len(s.data)), g); err != nil {
					errs <- err
					return
				}
			}
		})
		work.Go(func() {
			c := n.client(t, WithClientClock(clock.Now))
			for _, s := range renewed {
				if _, err := c.RenewBatch(ctx, renewBatch(a, n, clock, clock.Now().Add(24*time.Hour), s.id)); err != nil {
					errs <- err
					return
				}
			}
		})
		work.Wait()
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if _, err := n.srv.ExpireLeases(ctx); err != nil {
			t.Fatal(err)
		}

		for _, s := range append(slices.Clone(restored), renewed...) {
			if n.lease(t, s.id, a) <= clock.Now().Unix() {
				t.Fatalf("holding stored or renewed in time lost")
			}
			n.wantPlaced(t, m, s.id, len(s.data))
		}
		for _, s := range dropped {
			if loc := n.location(t, s.id); loc != "" {
				t.Fatalf("expired shard kept %s", loc)
			}
		}
		n.checkLeaseIndex(t)
		now := n.state(t)
		var want int64
		var ids []shard.ID
		owned := map[shard.PublicKey]meta.OwnerHeld{}
		for _, h := range now.held {
			want += h.Size + int64(len(h.Holders))*ho
			ids = append(ids, h.ID)
			for _, hd := range h.Holders {
				o := owned[hd.Owner]
				o.Shards++
				o.Bytes += h.Size + ho
				owned[hd.Owner] = o
				if hd.Owner != a.Public() {
					t.Fatal("a lapsed holding of b survived")
				}
			}
		}
		if now.used != want || !slices.Equal(now.shards, ids) || len(now.held) != len(restored)+len(renewed) {
			t.Fatalf("used %d (want %d), %d shards stored, %d held", now.used, want, len(now.shards), len(now.held))
		}
		for owner, o := range owned {
			if got, err := n.db.OwnerHeld(owner); err != nil || got.Shards != o.Shards || got.Bytes != o.Bytes {
				t.Fatalf("totals %+v, %v; want %+v", got, err, o)
			}
		}
		if o, err := n.db.OwnerHeld(b.Public()); err != nil || o.Shards != 0 {
			t.Fatalf("b's totals %+v, %v", o, err)
		}
	})
}
