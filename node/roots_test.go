package node

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// The address blocks of the tests' callers (see clientFrom).
const (
	testBlock  = "127.0.0.0/24" // 127.0.0.1, the usual
	otherBlock = "127.0.1.0/24" // 127.0.1.1
)

// signedRoot returns owner's root record of seq, with a pointer of size
// bytes, signed at now.
func signedRoot(owner shard.PrivateKey, seq uint64, size int, now time.Time) shard.RootRecord {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(seq) + byte(i)
	}
	r := shard.RootRecord{Seq: seq, Pointer: p, Time: now.Unix()}
	r.Sign(owner)
	return r
}

// roots is what a refused root post must leave unchanged: every root
// kept, the used bytes and the foreign tallies of the node.
type roots struct {
	kept map[shard.PublicKey]meta.Root
	used int64
	all  meta.ForeignTally
}

func (n *testNode) roots(t testing.TB, owners ...shard.PrivateKey) roots {
	t.Helper()
	r := roots{kept: make(map[shard.PublicKey]meta.Root)}
	for _, o := range owners {
		root, err := n.db.Root(o.Public())
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		r.kept[o.Public()] = root
	}
	var err error
	if r.used, err = n.db.Counter(meta.CounterUsedBytes); err != nil {
		t.Fatal(err)
	}
	tl, err := n.db.ForeignTallies(shard.PublicKey{}, "")
	if err != nil {
		t.Fatal(err)
	}
	r.all = tl.Node
	return r
}

// wantServed checks that n answers each record's owner's root as it.
func wantServed(t testing.TB, c *Client, want ...shard.RootRecord) {
	t.Helper()
	for _, rec := range want {
		got, err := c.GetRoot(context.Background(), rec.Owner)
		if err != nil || !reflect.DeepEqual(got, rec) {
			t.Fatalf("root of %s: %+v, %v; want seq %d", rec.Owner, got, err, rec.Seq)
		}
	}
}

// A root of an owner the node holds nothing for is kept as a foreign
// root, charged to its caller, and served back; a higher seq replaces it
// and moves its expiry; a lower or equal one is a conflict, and a forged
// one is refused, both changing nothing.
func TestForeignRoot(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock.Now }})
	c := n.client(t, WithClientClock(clock.Now))
	ctx := context.Background()
	owner, mallory := newKey(t), newKey(t)
	_, err := c.GetRoot(ctx, owner.Public())
	wantCode(t, err, ErrNotFound)

	r2 := signedRoot(owner, 2, 100, clock.Now())
	if err := c.PutRoot(ctx, r2); err != nil {
		t.Fatal(err)
	}
	wantServed(t, c, r2)
	wantForeignRoot := func(rec shard.RootRecord, posted time.Time) {
		t.Helper()
		kept, err := n.db.Root(owner.Public())
		if err != nil || kept.Seq != rec.Seq || kept.Poster != c.key.Public() || kept.Block != testBlock ||
			kept.Posted != posted.Unix() || kept.Expires != posted.Add(DefaultForeignRootTTL).Unix() {
			t.Fatalf("kept %+v, %v", kept, err)
		}
		one := meta.ForeignTally{Roots: 1, Bytes: int64(len(kept.Record))}
		if tl, err := n.db.ForeignTallies(c.key.Public(), testBlock); err != nil || tl != (meta.ForeignTallies{Poster: one, Block: one, Node: one}) {
			t.Fatalf("tallies %+v, %v", tl, err)
		}
		if used, err := n.db.Counter(meta.CounterUsedBytes); err != nil || used != int64(len(kept.Record)) {
			t.Fatalf("used %d (%v), want the record's %d bytes", used, err, len(kept.Record))
		}
	}
	wantForeignRoot(r2, clock.Now())

	before := n.roots(t, owner)
	wantCode(t, c.PutRoot(ctx, signedRoot(owner, 1, 100, clock.Now())), ErrConflict)
	wantCode(t, c.PutRoot(ctx, signedRoot(owner, 2, 50, clock.Now())), ErrConflict)
	forged := signedRoot(owner, 3, 100, clock.Now())
	forged.Pointer[0]++
	wantCode(t, c.PutRoot(ctx, forged), ErrBadSignature)
	impostor := signedRoot(mallory, 4, 100, clock.Now()) // signed by another key
	impostor.Owner = owner.Public()
	wantCode(t, c.PutRoot(ctx, impostor), ErrBadSignature)
	if after := n.roots(t, owner); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused posts changed %+v into %+v", before, after)
	}
	wantServed(t, c, r2)
	if _, err := n.db.Root(mallory.Public()); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("impostor's owner has a root: %v", err)
	}

	// A day later, the next backup step's root.
	clock.advance(24 * time.Hour)
	r3 := signedRoot(owner, 3, 300, clock.Now())
	if err := c.PutRoot(ctx, r3); err != nil {
		t.Fatal(err)
	}
	wantServed(t, c, r3)
	wantForeignRoot(r3, clock.Now())
}

// Foreign roots are bounded per calling node, per address block and in
// all (number, bytes, and the node's free capacity). A post over a bound
// is refused with insufficient_storage and changes nothing; a caller at
// its bound may still post a higher seq of its own roots; other callers
// are refused only by the bounds they share; and roots of owners the node
// holds shards for are kept regardless, counting against none.
func TestForeignRootBounds(t *testing.T) {
	const small, big = 100, 6 << 10 // pointer bytes; a big root is about 8 KiB as JSON
	type post struct {
		caller int // index of the calling node; odd ones call from otherBlock
		size   int // pointer bytes
	}
	tests := []struct {
		name     string
		limits   ForeignRootLimits
		capacity int64
		fill     []post // accepted
		refused  post
		accepted post // another caller, not at the bound that refused
	}{
		{"per peer", ForeignRootLimits{PerPeer: 2}, 0,
			[]post{{0, small}, {0, small}, {2, small}}, post{0, small}, post{2, small}},
		{"per block", ForeignRootLimits{PerBlock: 3}, 0,
			[]post{{0, small}, {2, small}, {4, small}, {1, small}}, post{6, small}, post{3, small}},
		{"in all", ForeignRootLimits{Max: 4}, 0,
			[]post{{0, small}, {1, small}, {2, small}, {3, small}}, post{4, small}, post{-1, 0}},
		{"bytes in all", ForeignRootLimits{MaxBytes: 20 << 10}, 0,
			[]post{{0, big}, {1, big}}, post{2, big}, post{2, small}},
		{"capacity", ForeignRootLimits{}, 12 << 10,
			[]post{{0, big}}, post{1, big}, post{1, small}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, nodeOpts{cfg: func(c *Config) {
				c.ForeignRoots = tt.limits
				if tt.capacity > 0 {
					c.Capacity = tt.capacity
				}
			}})
			ctx := context.Background()
			callers := make(map[int]*Client)
			caller := func(i int) *Client {
				if callers[i] == nil {
					callers[i] = n.clientFrom(t, []string{"127.0.0.1", "127.0.1.1"}[i%2])
				}
				return callers[i]
			}
			served := make(map[shard.PublicKey]shard.RootRecord)
			var owners []shard.PrivateKey
			postRoot := func(p post) (shard.PrivateKey, error) {
				owner := newKey(t)
				owners = append(owners, owner)
				rec := signedRoot(owner, 1, p.size, time.Now())
				err := caller(p.caller).PutRoot(ctx, rec)
				if err == nil {
					served[owner.Public()] = rec
				}
				return owner, err
			}
			for i, p := range tt.fill {
				if _, err := postRoot(p); err != nil {
					t.Fatalf("post %d: %v", i, err)
				}
			}
			before := n.roots(t, owners...)
			refusedOwner, err := postRoot(tt.refused)
			wantCode(t, err, ErrInsufficientStorage)
			if after := n.roots(t, owners...); !reflect.DeepEqual(after, before) {
				t.Fatalf("refused post changed %+v into %+v", before, after)
			}
			wantServed(t, caller(0), slices.Collect(maps.Values(served))...)
			_, err = caller(0).GetRoot(ctx, refusedOwner.Public())
			wantCode(t, err, ErrNotFound)

			// The first caller refreshes its first root: its place is its own.
			first := owners[0]
			next := signedRoot(first, 2, tt.fill[0].size, time.Now())
			if err := caller(tt.fill[0].caller).PutRoot(ctx, next); err != nil {
				t.Fatalf("refresh at the bound: %v", err)
			}
			served[first.Public()] = next
			if tt.accepted.caller >= 0 {
				if _, err := postRoot(tt.accepted); err != nil {
					t.Fatalf("post of another caller: %v", err)
				}
			}

			// An owner the node holds a shard for: its root is kept, and
			// counts against no foreign bound.
			if tt.capacity == 0 {
				holder := newKey(t)
				b, id := testShard(7000, 100)
				put(t, caller(tt.refused.caller), holder, b, id)
				before = n.roots(t)
				rec := signedRoot(holder, 1, big, time.Now())
				if err := caller(tt.refused.caller).PutRoot(ctx, rec); err != nil {
					t.Fatalf("holder's root: %v", err)
				}
				served[holder.Public()] = rec
				if after := n.roots(t); after.all != before.all {
					t.Fatalf("holder's root changed the foreign tallies from %+v to %+v", before.all, after.all)
				}
				_, err = postRoot(tt.refused)
				wantCode(t, err, ErrInsufficientStorage)
			}
			wantServed(t, caller(0), slices.Collect(maps.Values(served))...)
		})
	}
}

// Concurrent posts of many callers never take more places than the bound.
func TestForeignRootBoundsConcurrent(t *testing.T) {
	const places, callers = 10, 40
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.ForeignRoots.Max = places; c.ForeignRoots.PerBlock = callers }})
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		c := n.client(t)
		owner := newKey(t)
		wg.Go(func() { errs[i] = c.PutRoot(context.Background(), signedRoot(owner, 1, 100, time.Now())) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantCode(t, err, ErrInsufficientStorage)
		}
	}
	if r := n.roots(t); ok != places || r.all.Roots != places || r.used != r.all.Bytes {
		t.Fatalf("%d posts accepted, tallies %+v, used %d; want %d", ok, r.all, r.used, places)
	}
}

// A foreign root not posted again within its TTL is dropped by the
// node's maintenance and its bytes given back; one posted again lives
// on; one whose owner's shards came is an ordinary root and stays.
func TestForeignRootExpiry(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock.Now }})
	var logs syncBuffer
	n.srv.log = slog.New(slog.NewJSONHandler(&logs, nil))
	c := n.client(t, WithClientClock(clock.Now))
	ctx := context.Background()
	refreshed, lapsed, holder := newKey(t), newKey(t), newKey(t)
	t0 := clock.Now()
	ttl := n.srv.cfg.ForeignRoots.TTL
	for _, o := range []shard.PrivateKey{refreshed, lapsed, holder} {
		if err := c.PutRoot(ctx, signedRoot(o, 1, 200, t0)); err != nil {
			t.Fatal(err)
		}
	}
	b, id := testShard(7100, 100)
	putLease(t, c, clock, holder, b, id, t0.Add(90*24*time.Hour))
	clock.advance(20 * 24 * time.Hour)
	again := signedRoot(refreshed, 2, 300, clock.Now())
	if err := c.PutRoot(ctx, again); err != nil {
		t.Fatal(err)
	}
	lapsedRoot, err := n.db.Root(lapsed.Public())
	if err != nil {
		t.Fatal(err)
	}
	before := n.roots(t, refreshed, lapsed, holder)

	clock.advance(ttl - 20*24*time.Hour - time.Second) // 1 s before the first posts expire
	n.srv.prune(ctx)
	if after := n.roots(t, refreshed, lapsed, holder); !reflect.DeepEqual(after, before) {
		t.Fatalf("sweep before the TTL changed %+v into %+v", before, after)
	}
	clock.advance(time.Second)
	n.srv.prune(ctx) // Maintain's pass
	_, err = c.GetRoot(ctx, lapsed.Public())
	wantCode(t, err, ErrNotFound)
	after := n.roots(t, refreshed, lapsed, holder)
	freed := int64(len(lapsedRoot.Record))
	if after.used != before.used-freed || after.all.Roots != 1 || after.all.Bytes != int64(len(after.kept[refreshed.Public()].Record)) {
		t.Fatalf("after the sweep: %+v; before %+v", after, before)
	}
	wantServed(t, c, again)
	if _, ok := after.kept[holder.Public()]; !ok {
		t.Fatal("the root of an owner with a shard here was swept")
	}
	var line map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "expired foreign roots" {
			line = l
		}
	}
	if line == nil || line["level"] != "INFO" || line["roots"] != 1.0 || line["freed"] != float64(freed) {
		t.Fatalf("info line of the sweep: %v", line)
	}

	// The refreshed one goes TTL after its last post.
	clock.advance(20 * 24 * time.Hour)
	roots, gone, err := n.srv.ExpireForeignRoots(ctx)
	if err != nil || roots != 1 || gone != int64(len(before.kept[refreshed.Public()].Record)) {
		t.Fatalf("second sweep: %d roots, %d bytes, %v", roots, gone, err)
	}
	if r := n.roots(t); r.all != (meta.ForeignTally{}) || r.used != 100+ho+int64(len(after.kept[holder.Public()].Record)) {
		t.Fatalf("left: %+v", r)
	}
	if exp, err := n.db.ExpiredForeignRoots(nil, 1<<62, 0); err != nil || len(exp) != 0 {
		t.Fatalf("expiry index left: %v, %v", exp, err)
	}
}

// A sweep works through many expired foreign roots a page at a time.
func TestForeignRootExpiryPages(t *testing.T) {
	const count = 2*expirePage + 5
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Now = clock.Now
		c.ForeignRoots = ForeignRootLimits{PerPeer: count, PerBlock: count, Max: count}
	}})
	c := n.client(t, WithClientClock(clock.Now))
	ctx := context.Background()
	for range count {
		if err := c.PutRoot(ctx, signedRoot(newKey(t), 1, 10, clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(n.srv.cfg.ForeignRoots.TTL)
	roots, freed, err := n.srv.ExpireForeignRoots(ctx)
	used := n.roots(t)
	if err != nil || roots != count || used.used != 0 || used.all != (meta.ForeignTally{}) || freed <= 0 {
		t.Fatalf("sweep: %d roots, %d bytes, %v; left %+v", roots, freed, err, used)
	}
}

// A root follows its owner's holdings: foreign while the node holds none
// of the owner's shards, ordinary from the first one, and foreign again
// with the last one gone (whether deleted or expired), charged to its
// last poster and expiring TTL after its last post; unless that is past,
// or its poster's or block's bounds are full: then it goes.
func TestForeignRootHoldings(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Now = clock.Now
		c.ForeignRoots.PerPeer = 2
	}})
	c := n.client(t, WithClientClock(clock.Now))
	ctx := context.Background()
	ttl := n.srv.cfg.ForeignRoots.TTL
	foreign := func(owner shard.PrivateKey) (meta.Root, bool) {
		t.Helper()
		r, err := n.db.Root(owner.Public())
		if errors.Is(err, meta.ErrNotFound) {
			return r, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return r, true
	}
	del := func(owner shard.PrivateKey, b []byte, id shard.ID) {
		t.Helper()
		g := shard.Grant{Op: shard.OpDelete, Shard: id, Size: int64(len(b)), Time: clock.Now().UnixNano() + 1e6} // after the store's
		g.Sign(owner)
		if err := c.DeleteShard(ctx, id, g); err != nil {
			t.Fatal(err)
		}
	}
	type step struct {
		name    string
		advance time.Duration // before the holding goes
		expire  bool          // the holding lapses (else the owner deletes it)
		full    bool          // the poster is at its bound by then
		kept    bool
	}
	for i, s := range []step{
		{name: "deleted", kept: true},
		{name: "lapsed", advance: 24*time.Hour + DefaultLeaseGrace + time.Hour, expire: true, kept: true},
		{name: "posted longer ago than the TTL", advance: ttl + time.Second},
		{name: "poster at its bound", full: true},
	} {
		t.Run(s.name, func(t *testing.T) {
			owner := newKey(t)
			if err := c.PutRoot(ctx, signedRoot(owner, 1, 100, clock.Now())); err != nil {
				t.Fatal(err)
			}
			if r, _ := foreign(owner); !r.Foreign() {
				t.Fatalf("root of an owner with no shard here: %+v", r)
			}
			b, id := testShard(uint64(7200+i), 100)
			putLease(t, c, clock, owner, b, id, clock.Now().Add(24*time.Hour))
			rec := signedRoot(owner, 2, 100, clock.Now())
			if err := c.PutRoot(ctx, rec); err != nil {
				t.Fatal(err)
			}
			posted := clock.Now()
			if r, _ := foreign(owner); r.Foreign() || r.Seq != 2 {
				t.Fatalf("root of an owner with a shard here: %+v", r)
			}
			if s.full {
				for range 2 {
					if err := c.PutRoot(ctx, signedRoot(newKey(t), 1, 10, clock.Now())); err != nil {
						t.Fatal(err)
					}
				}
			}
			clock.advance(s.advance)
			before := n.roots(t, owner)
			if s.expire {
				n.srv.prune(ctx)
			} else {
				del(owner, b, id)
			}
			after := n.roots(t, owner)
			r, ok := foreign(owner)
			size := int64(len(before.kept[owner.Public()].Record))
			switch {
			case s.kept && (!ok || !r.Foreign() || r.Expires != posted.Add(ttl).Unix() || r.Poster != c.key.Public()):
				t.Fatalf("root after the last holding went: found %v, seq %d, expires %d (want %d)", ok, r.Seq, r.Expires, posted.Add(ttl).Unix())
			case s.kept && (after.all.Roots != before.all.Roots+1 || after.used != before.used-100-ho):
				t.Fatalf("kept as foreign: %+v, before %+v", after, before)
			case !s.kept && ok:
				t.Fatalf("root kept: seq %d, expires %d", r.Seq, r.Expires)
			case !s.kept && (after.all != before.all || after.used != before.used-100-ho-size):
				t.Fatalf("dropped: %+v, before %+v", after, before)
			}
			if s.kept {
				wantServed(t, c, rec)
				// Clear the way for the next step (the poster's bound).
				clock.advance(ttl)
				if _, _, err := n.srv.ExpireForeignRoots(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if r := n.roots(t); s.full && r.all.Roots != 2 || !s.full && r.all.Roots != 0 {
				t.Fatalf("foreign roots left: %+v", r.all)
			}
		})
	}
}
