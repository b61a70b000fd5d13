package node

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// heldBy is a test's view of what other owners' nodes hold for the node's
// owner (what the owner's gateway reports in a daemon).
type heldBy struct {
	mu sync.Mutex
	m  map[shard.PublicKey]int64
}

func (h *heldBy) get(o shard.PublicKey) int64 { h.mu.Lock(); defer h.mu.Unlock(); return h.m[o] }
func (h *heldBy) set(o shard.PublicKey, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[shard.PublicKey]int64)
	}
	h.m[o] = n
}

// creditNode starts a node applying the credit rule with grace and
// stranger share, held_by from h.
func creditNode(t *testing.T, h *heldBy, grace int64, share float64, mod func(*Config)) *testNode {
	t.Helper()
	return startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Credit = Credit{Grace: grace, StrangerShare: share, HeldBy: h.get}
		if mod != nil {
			mod(c)
		}
	}})
}

// fill stores shards of size bytes for owner until the node refuses one
// (at most limit), and returns the bytes stored and the refusal.
func fill(t *testing.T, c *Client, owner shard.PrivateKey, seed uint64, size, limit int) (int64, error) {
	t.Helper()
	var stored int64
	for i := range limit {
		b, id := testShard(seed+uint64(i), size)
		_, err := c.PutShard(context.Background(), id, bytes.NewReader(b), int64(size), newGrant(owner, shard.OpStore, id, int64(size)))
		if err != nil {
			return stored, err
		}
		stored += int64(size)
	}
	return stored, nil
}

// A freeloader (an owner whose nodes hold nothing for this node's owner)
// stores no more than the grace, and its refusal is ErrNoCredit that
// leaves nothing behind; an owner whose nodes hold data for us keeps
// storing, up to what they hold plus the grace, and is refused as soon as
// its audits stop passing; the node's own owner is never refused for
// credit.
func TestCreditFreeloaderAndHonest(t *testing.T) {
	const grace, size = 64 << 10, 8 << 10
	h := &heldBy{}
	own := newKey(t)
	n := creditNode(t, h, grace, 1, func(c *Config) {
		c.Owner, c.OwnerSig = own.Public(), shard.SignOwnerLink(own, c.Key.Public())
	})
	c := n.client(t)
	free, honest := newKey(t), newKey(t)

	stored, err := fill(t, c, free, 5000, size, 100)
	wantCode(t, err, ErrNoCredit)
	if max := int64(grace / (size + ho) * size); stored != max {
		t.Fatalf("freeloader stored %d bytes, want %d (grace %d)", stored, max, grace)
	}
	before := n.state(t)
	b, id := testShard(5999, size)
	_, err = c.PutShard(context.Background(), id, bytes.NewReader(b), size, newGrant(free, shard.OpStore, id, size))
	wantCode(t, err, ErrNoCredit)
	if after := n.state(t); after.used != before.used || len(after.shards) != len(before.shards) {
		t.Fatalf("a refused store changed the node: %+v -> %+v", before, after)
	}

	h.set(honest.Public(), 1<<20) // its nodes hold 1 MiB for us
	stored, err = fill(t, c, honest, 6000, size, 200)
	wantCode(t, err, ErrNoCredit)
	// What its nodes hold, and what grace its address block has left
	// (the freeloader, from the same block, used most of it).
	if got := stored / size * (size + ho); got > 1<<20+grace || got <= 1<<20 {
		t.Fatalf("honest owner holds %d bytes with overhead, want above %d and at most %d", got, 1<<20, 1<<20+grace)
	}
	// Its audits fail: what its nodes hold counts no more.
	h.set(honest.Public(), 0)
	if err := n.srv.RefreshCredit(); err != nil {
		t.Fatal(err)
	}
	_, err = fill(t, c, honest, 6500, 1024, 1)
	wantCode(t, err, ErrNoCredit)

	// The node's own owner is not held to any credit.
	stored, err = fill(t, c, own, 7000, size, 20)
	if err != nil || stored != 20*size {
		t.Fatalf("own owner: stored %d, %v", stored, err)
	}
	v, err := n.srv.Ledger(10)
	if err != nil {
		t.Fatal(err)
	}
	if v.HeldForOwn != 20*(size+ho) || v.Owners != 2 || len(v.Top) != 2 || v.Top[0].Owner != honest.Public() {
		t.Fatalf("ledger %+v", v)
	}
	if v.Top[0].Credit >= 0 || v.Top[1].Owner != free.Public() || v.Top[1].Credit < 0 || v.Top[1].Credit >= size+ho {
		t.Fatalf("ledger credits %+v", v.Top)
	}
}

// A hundred throwaway identities calling from one address block together
// get no more than the grace (the per-block bound), and the debts of all
// owners stay within the stranger share of the capacity.
func TestCreditStrangers(t *testing.T) {
	const grace, size = 64 << 10, 4 << 10
	for _, tc := range []struct {
		name     string
		capacity int64
		share    float64
		want     int64 // bound of all the owners' bytes with overhead
	}{
		{"one block", 1 << 30, 1, grace},
		{"stranger share", 256 << 10, 0.1, 256 << 10 / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &heldBy{}
			n := creditNode(t, h, grace, tc.share, func(c *Config) { c.Capacity = tc.capacity })
			var total int64
			refused := 0
			for i := range 100 {
				c := n.client(t) // a fresh node key too
				stored, err := fill(t, c, newKey(t), uint64(8000+i*10), size, 10)
				if err != nil {
					wantCode(t, err, ErrNoCredit)
					refused++
				}
				total += stored + stored/size*ho
			}
			if total > tc.want || total < tc.want-(size+ho) {
				t.Fatalf("100 identities hold %d bytes with overhead, want at most %d and no less than one shard under", total, tc.want)
			}
			if refused < 90 {
				t.Fatalf("only %d of 100 identities refused", refused)
			}
			v, err := n.srv.Ledger(0)
			if err != nil {
				t.Fatal(err)
			}
			if v.Debts != total || v.HeldForOthers != total {
				t.Fatalf("ledger debts %d, held for others %d; want %d", v.Debts, v.HeldForOthers, total)
			}
		})
	}
}

// The debts survive a restart (a new server over the same catalog): the
// block of each owner's last store is in the catalog, so a new stranger
// from a block whose grace is used is still refused. After deletes and
// expired leases, what the node counts as held for each owner equals
// what it holds, and its debts follow.
func TestCreditRestartAndDrift(t *testing.T) {
	const grace, size = 64 << 10, 4 << 10
	h := &heldBy{}
	clock := newTestClock()
	db, err := meta.Open("node", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := NewMemStore(testLeafSize)
	key := newKey(t)
	start := func() *testNode {
		return startNode(t, nodeOpts{db: db, st: st, key: &key, cfg: func(c *Config) {
			c.Credit = Credit{Grace: grace, StrangerShare: 1, HeldBy: h.get}
			c.Now = clock.Now
			c.LeaseGrace = time.Second
		}})
	}
	n := start()
	c := n.client(t, WithClientClock(clock.Now))
	a, b := newKey(t), newKey(t)
	var ids []shard.ID
	for i := range 8 {
		owner, expiry := a, clock.Now().Add(time.Hour)
		if i%2 == 1 {
			owner, expiry = b, clock.Now().Add(48*time.Hour)
		}
		body, id := testShard(uint64(9000+i), size)
		putLease(t, c, clock, owner, body, id, expiry)
		ids = append(ids, id)
	}
	_, err = fill(t, c, newKey(t), 9100, size, 100)
	wantCode(t, err, ErrNoCredit)
	debts := func(n *testNode) int64 {
		t.Helper()
		v, err := n.srv.Ledger(0)
		if err != nil {
			t.Fatal(err)
		}
		return v.Debts
	}
	full := debts(n)
	if full > grace || full < grace-(size+ho) {
		t.Fatalf("debts %d after filling the block's grace of %d", full, grace)
	}

	n.ts.Close()
	n = start()
	c = n.client(t, WithClientClock(clock.Now))
	if got := debts(n); got != full {
		t.Fatalf("debts %d after a restart, %d before", got, full)
	}
	_, err = fill(t, c, newKey(t), 9200, size, 1)
	wantCode(t, err, ErrNoCredit)

	// b deletes a shard; a's leases lapse and expire.
	clock.advance(time.Second)
	g := newGrant(b, shard.OpDelete, ids[1], size)
	g.Time = clock.Now().UnixNano() + grantTime()%1000
	g.Sign(b)
	if err := c.DeleteShard(context.Background(), ids[1], g); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Hour)
	n.srv.prune(context.Background())
	checkHeldFor(t, n)
	if got := debts(n); got != full-5*(size+ho) {
		t.Fatalf("debts %d after a delete and 4 expired holdings, want %d", got, full-5*(size+ho))
	}
	body, id := testShard(9300, size)
	putLease(t, c, clock, newKey(t), body, id, clock.Now().Add(time.Hour)) // room came back
}

// checkHeldFor checks that what n counts as held for each owner is the
// size plus overhead of each shard it holds for the owner.
func checkHeldFor(t *testing.T, n *testNode) {
	t.Helper()
	held, err := n.db.HeldShards([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[[32]byte]int64)
	for _, h := range held {
		for _, hd := range h.Holders {
			want[hd.Owner] += h.Size + ho
		}
	}
	owners, err := n.db.OwnersHeld([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != len(want) {
		t.Fatalf("%d owners counted, %d hold shards", len(owners), len(want))
	}
	for _, o := range owners {
		if o.Bytes != want[o.Owner] {
			t.Errorf("owner %x: %d bytes counted, %d held", o.Owner[:4], o.Bytes, want[o.Owner])
		}
	}
}

// Concurrent stores of one owner cannot together pass its grace.
func TestCreditConcurrent(t *testing.T) {
	const grace, size = 64 << 10, 8 << 10
	h := &heldBy{}
	n := creditNode(t, h, grace, 1, nil)
	owner := newKey(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var stored int64
	for i := range 32 {
		wg.Go(func() {
			c := n.client(t)
			b, id := testShard(uint64(9500+i), size)
			_, err := c.PutShard(context.Background(), id, bytes.NewReader(b), size, newGrant(owner, shard.OpStore, id, size))
			switch {
			case err == nil:
				mu.Lock()
				stored += size + ho
				mu.Unlock()
			case !errors.Is(err, ErrNoCredit) && !errors.Is(err, ErrBusy):
				t.Errorf("PutShard: %v", err)
			}
		})
	}
	wg.Wait()
	if stored > grace || stored == 0 {
		t.Fatalf("concurrent stores of one owner hold %d bytes, grace %d", stored, grace)
	}
	checkHeldFor(t, n)
}

// blockedBody signals its first Read (the node admitted the upload and
// asks for the body) and then blocks until release is closed.
type blockedBody struct {
	asked   chan struct{}
	release chan struct{}
	once    sync.Once
}

func (r *blockedBody) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.asked) })
	<-r.release
	return 0, errors.New("stalled upload given up")
}

// An upload that declares a large shard and sends nothing holds its
// owner's own grace but only one step of the grace shared by its address
// block: another owner from the block still stores.
func TestCreditStalledUploadHoldsOneStep(t *testing.T) {
	const grace = 4 << 20
	h := &heldBy{}
	n := creditNode(t, h, grace, 1, nil)
	stalled := &blockedBody{asked: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, id := testShard(9700, 16)
		id[0] ^= 1 // never sent: any ID will do
		const size = 3 << 20
		_, err := n.client(t).PutShard(context.Background(), id, stalled, size, newGrant(newKey(t), shard.OpStore, id, size))
		done <- err
	}()
	select {
	case <-stalled.asked:
	case err := <-done:
		t.Fatalf("the stalled upload ended before its body was asked for: %v", err)
	}
	stored, err := fill(t, n.client(t), newKey(t), 9800, 256<<10, 8) // 2 MiB: more than 4 - 3 MiB
	close(stalled.release)
	if err != nil || stored != 2<<20 {
		t.Fatalf("another owner of the block stored %d bytes next to a stalled 3 MiB upload: %v", stored, err)
	}
	if err := <-done; err == nil {
		t.Fatal("the stalled upload succeeded")
	}
}
