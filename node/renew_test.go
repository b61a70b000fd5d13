package node

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// testClock is an injectable clock for Config.Now and WithClientClock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// putLease stores b under a store grant whose lease expires at expiry,
// stamped by clock.
func putLease(t testing.TB, c *Client, clock *testClock, owner shard.PrivateKey, b []byte, id shard.ID, expiry time.Time) {
	t.Helper()
	g := shard.Grant{Op: shard.OpStore, Shard: id, Size: int64(len(b)), LeaseExpiry: expiry.Unix(),
		Time: clock.Now().UnixNano() + grantTime()%1000}
	g.Sign(owner)
	if _, err := c.PutShard(context.Background(), id, bytes.NewReader(b), int64(len(b)), g); err != nil {
		t.Fatalf("PutShard: %v", err)
	}
}

// renewBatch returns owner's batch for node n renewing ids (sorted here)
// to expiry, stamped by clock.
func renewBatch(owner shard.PrivateKey, n *testNode, clock *testClock, expiry time.Time, ids ...shard.ID) shard.RenewBatch {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) })
	rb := shard.RenewBatch{Node: n.key.Public(), LeaseExpiry: expiry.Unix(), Time: clock.Now().UnixNano(), Shards: ids}
	rb.Sign(owner)
	return rb
}

// lease returns owner's lease expiry on shard id at n (0: no holding).
func (n *testNode) lease(t testing.TB, id shard.ID, owner shard.PrivateKey) int64 {
	t.Helper()
	rec, err := n.db.HeldShard(id)
	if errors.Is(err, meta.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	hd, _ := rec.Holding(owner.Public())
	return hd.LeaseExpiry
}

// checkLeaseIndex checks that n's lease index has exactly one entry per
// holding, at the holding's expiry.
func (n *testNode) checkLeaseIndex(t testing.TB) {
	t.Helper()
	held, err := n.db.HeldShards([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []meta.Lease
	for _, h := range held {
		for _, hd := range h.Holders {
			want = append(want, meta.Lease{Expiry: hd.LeaseExpiry, Shard: h.ID, Owner: hd.Owner})
		}
	}
	slices.SortFunc(want, func(a, b meta.Lease) int {
		if a.Expiry != b.Expiry {
			return int(a.Expiry - b.Expiry)
		}
		if c := bytes.Compare(a.Shard[:], b.Shard[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.Owner[:], b.Owner[:])
	})
	got, err := n.db.Leases(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lease index %+v, want %+v", got, want)
	}
}

func sortedIDs(ids ...shard.ID) []shard.ID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// One request renews many holdings, names the shards not held for the
// owner (never stored, another owner's, deleted), never shortens a lease,
// and replayed changes nothing.
func TestRenewBatch(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		clock := newTestClock()
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax, cfg: func(c *Config) { c.Now = clock.Now }})
		c := n.client(t, WithClientClock(clock.Now))
		ctx := context.Background()
		owner, other := newKey(t), newKey(t)
		start := clock.Now()
		var held []shard.ID
		for i := range 20 {
			b, id := testShard(uint64(2000+i), 100+i)
			putLease(t, c, clock, owner, b, id, start.Add(24*time.Hour))
			held = append(held, id)
		}
		ob, oid := testShard(2100, 50) // the other owner's
		putLease(t, c, clock, other, ob, oid, start.Add(24*time.Hour))
		_, never := testShard(2101, 50)
		db, did := testShard(2102, 50) // stored, then deleted
		putLease(t, c, clock, owner, db, did, start.Add(24*time.Hour))
		if err := c.DeleteShard(ctx, did, newGrant(owner, shard.OpDelete, did, 50)); err != nil {
			t.Fatal(err)
		}

		later := start.Add(30 * 24 * time.Hour)
		rb := renewBatch(owner, n, clock, later, append(slices.Clone(held), oid, never, did)...)
		before := n.state(t)
		ans, err := c.RenewBatch(ctx, rb)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ans.Renewed, sortedIDs(held...)) || !slices.Equal(ans.NotHeld, sortedIDs(oid, never, did)) {
			t.Fatalf("answer %+v", ans)
		}
		for _, id := range held {
			if got := n.lease(t, id, owner); got != later.Unix() {
				t.Fatalf("lease %d after the renew, want %d", got, later.Unix())
			}
		}
		if n.lease(t, did, owner) != 0 || n.lease(t, oid, owner) != 0 || n.lease(t, oid, other) != start.Add(24*time.Hour).Unix() {
			t.Fatal("a renew made or changed a holding of a shard not held for the owner")
		}
		after := n.state(t)
		if after.used != before.used || !slices.Equal(after.shards, before.shards) {
			t.Fatal("a renew changed what the node holds")
		}
		n.checkLeaseIndex(t)

		// Replayed (by any node, in the window): the same answer, nothing
		// changes.
		replayer := n.client(t, WithClientClock(clock.Now))
		again, err := replayer.RenewBatch(ctx, rb)
		if err != nil || !slices.Equal(again.Renewed, ans.Renewed) || !slices.Equal(again.NotHeld, ans.NotHeld) {
			t.Fatalf("replay: %+v, %v", again, err)
		}
		if !n.state(t).equal(after) {
			t.Fatal("a replayed batch changed the node's state")
		}

		// A shorter lease leaves the longer one.
		short := renewBatch(owner, n, clock, start.Add(2*24*time.Hour), held[:5]...)
		if ans, err := c.RenewBatch(ctx, short); err != nil || len(ans.Renewed) != 5 {
			t.Fatalf("shorter renew: %+v, %v", ans, err)
		}
		if !n.state(t).equal(after) {
			t.Fatal("a renew shortened a lease")
		}

		// The other owner's batch renews only its own holding.
		ob2 := renewBatch(other, n, clock, later, append(slices.Clone(held[:3]), oid)...)
		ans, err = c.RenewBatch(ctx, ob2)
		if err != nil || !slices.Equal(ans.Renewed, []shard.ID{oid}) || len(ans.NotHeld) != 3 {
			t.Fatalf("other owner's batch: %+v, %v", ans, err)
		}
		if n.lease(t, oid, other) != later.Unix() || n.lease(t, held[0], owner) != later.Unix() {
			t.Fatal("other owner's batch: wrong leases")
		}
		n.checkLeaseIndex(t)
	})
}

// A batch that is forged, misdirected, stale, oversized, malformed or
// grants too long a lease is refused with its code, and changes nothing.
func TestRenewBatchRefused(t *testing.T) {
	clock := newTestClock()
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock.Now }})
	c := n.client(t, WithClientClock(clock.Now))
	ctx := context.Background()
	owner, other := newKey(t), newKey(t)
	b, id := testShard(2200, 100)
	putLease(t, c, clock, owner, b, id, clock.Now().Add(24*time.Hour))
	later := clock.Now().Add(30 * 24 * time.Hour)
	before := n.state(t)
	// send posts a batch as it is, bypassing the Client's own checks.
	send := func(rb shard.RenewBatch) error {
		var ans RenewAnswer
		return c.doJSON(ctx, request{method: http.MethodPost, path: "/v1/renew"}, rb, &ans, maxAnswerBody)
	}
	cases := []struct {
		name string
		edit func(rb *shard.RenewBatch)
		want *Error
	}{
		{"forged owner", func(rb *shard.RenewBatch) { rb.Owner = other.Public() }, ErrBadSignature},
		{"shard added after signing", func(rb *shard.RenewBatch) { rb.Shards = append(rb.Shards, shard.ID{0xff}) }, ErrBadSignature},
		{"longer lease after signing", func(rb *shard.RenewBatch) { rb.LeaseExpiry++ }, ErrBadSignature},
		{"no signature", func(rb *shard.RenewBatch) { rb.Sig = nil }, ErrBadSignature},
		{"another node's", func(rb *shard.RenewBatch) { rb.Node = other.Public(); rb.Sign(owner) }, ErrMisdirected},
		{"stale", func(rb *shard.RenewBatch) { rb.Time -= int64(2 * n.srv.cfg.ClockWindow); rb.Sign(owner) }, ErrClockSkew},
		{"from the future", func(rb *shard.RenewBatch) { rb.Time += int64(2 * n.srv.cfg.ClockWindow); rb.Sign(owner) }, ErrClockSkew},
		{"lease too long", func(rb *shard.RenewBatch) {
			rb.LeaseExpiry = clock.Now().Add(n.srv.cfg.MaxLease + time.Hour).Unix()
			rb.Sign(owner)
		}, ErrBadRequest},
		{"unsorted", func(rb *shard.RenewBatch) { rb.Shards = []shard.ID{{0xff}, id}; rb.Sign(owner) }, ErrBadRequest},
		{"duplicate", func(rb *shard.RenewBatch) { rb.Shards = []shard.ID{id, id}; rb.Sign(owner) }, ErrBadRequest},
		{"empty", func(rb *shard.RenewBatch) { rb.Shards = nil; rb.Sign(owner) }, ErrBadRequest},
		{"oversized", func(rb *shard.RenewBatch) {
			rb.Shards = make([]shard.ID, shard.MaxRenewBatch+1)
			for i := range rb.Shards {
				rb.Shards[i] = shard.ID{0, byte(i >> 8), byte(i), 1}
			}
			rb.Shards[len(rb.Shards)-1] = id
			rb.Sign(owner)
		}, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rb := renewBatch(owner, n, clock, later, id)
			tc.edit(&rb)
			wantCode(t, send(rb), tc.want)
			if !n.state(t).equal(before) {
				t.Fatal("a refused batch changed the node's state")
			}
		})
	}
	// The Client does not send a batch for another node.
	rb := renewBatch(owner, n, clock, later, id)
	rb.Node = other.Public()
	_, err := c.RenewBatch(ctx, rb)
	wantCode(t, err, ErrMisdirected)
	// Not JSON at all.
	wantCode(t, c.doJSON(ctx, request{method: http.MethodPost, path: "/v1/renew"}, []int{1}, nil, 0), ErrBadRequest)
	// A full batch is accepted.
	full := make([]shard.ID, shard.MaxRenewBatch)
	for i := range full {
		full[i] = shard.ID{0, byte(i >> 8), byte(i), 1}
	}
	full[len(full)-1] = id
	ans, err := c.RenewBatch(ctx, renewBatch(owner, n, clock, later, full...))
	if err != nil || !slices.Equal(ans.Renewed, []shard.ID{id}) || len(ans.NotHeld) != shard.MaxRenewBatch-1 {
		t.Fatalf("full batch: %d renewed, %d not held, %v", len(ans.Renewed), len(ans.NotHeld), err)
	}
}

func TestCheckRenewAnswer(t *testing.T) {
	a, b, c := shard.ID{1}, shard.ID{2}, shard.ID{3}
	batch := []shard.ID{a, b, c}
	for _, tc := range []struct {
		ans RenewAnswer
		ok  bool
	}{
		{RenewAnswer{Renewed: []shard.ID{a, c}, NotHeld: []shard.ID{b}}, true},
		{RenewAnswer{Renewed: batch}, true},
		{RenewAnswer{NotHeld: batch}, true},
		{RenewAnswer{Renewed: []shard.ID{a, c}}, false},                                 // b missing
		{RenewAnswer{Renewed: []shard.ID{a, b, c}, NotHeld: []shard.ID{b}}, false},      // twice
		{RenewAnswer{Renewed: []shard.ID{c, a}, NotHeld: []shard.ID{b}}, false},         // order
		{RenewAnswer{Renewed: []shard.ID{a, b, c, {4}}}, false},                         // extra
		{RenewAnswer{Renewed: []shard.ID{a}, NotHeld: []shard.ID{b, c, {0xff}}}, false}, // extra
	} {
		if err := checkRenewAnswer(tc.ans, batch); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.ans, err)
		}
	}
}
