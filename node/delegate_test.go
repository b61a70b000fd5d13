package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// delegatingNode starts a node of capacity bytes that forwards what it
// has no room for to next (in that order).
func delegatingNode(t *testing.T, capacity int64, depth int, clock *testClock, next ...*testNode) *testNode {
	t.Helper()
	return startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Capacity = capacity
		c.Delegate.MaxDepth = depth
		if clock != nil {
			c.Now = clock.Now
		}
		c.Delegate.Peers = func() []DelegatePeer {
			var ps []DelegatePeer
			for _, n := range next {
				ps = append(ps, DelegatePeer{ID: n.key.Public(), URL: n.ts.URL})
			}
			return ps
		}
	}})
}

// readRange reads n bytes of shard id from off at c.
func readRange(t *testing.T, c *Client, id shard.ID, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := c.GetShard(context.Background(), id, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// heldFor returns what n counts as held for owner.
func (n *testNode) heldFor(t *testing.T, owner shard.PublicKey) int64 {
	t.Helper()
	o, err := n.db.OwnerHeld(owner)
	if err != nil {
		t.Fatal(err)
	}
	return o.Bytes
}

// A full node delegates, declared: the owner's receipt is signed by the
// first node and names the next as the holder; reads (whole and ranges)
// and audits go through the first node, which answers them with the
// next node's bytes and proofs; each node counts the shard for the owner
// it holds it for; renewals, deletes and expired leases at the first node
// reach the next one.
func TestDelegation(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		clock := newTestClock()
		b := startNode(t, nodeOpts{inlineMax: m.inlineMax, cfg: func(c *Config) { c.Now = clock.Now }})
		a := delegatingNode(t, 1<<10, 0, clock, b)
		ca := a.client(t, WithClientClock(clock.Now))
		owner := newKey(t)
		for _, size := range []int{5000, 200 << 10} {
			data, id := testShard(uint64(12000+size), size)
			expiry := clock.Now().Add(24 * time.Hour)
			g := shard.Grant{Op: shard.OpStore, Shard: id, Size: int64(size), LeaseExpiry: expiry.Unix(), Time: clock.Now().UnixNano()}
			g.Sign(owner)
			rc, err := ca.PutShard(context.Background(), id, bytes.NewReader(data), int64(size), g)
			if err != nil {
				t.Fatalf("store on a full node: %v", err)
			}
			if rc.Node != a.key.Public() || rc.Holder != b.key.Public() || !rc.Delegated() {
				t.Fatalf("receipt signed by %s naming holder %s; want %s, %s", rc.Node, rc.Holder, a.key.Public(), b.key.Public())
			}
			got, err := readRange(t, ca, id, 0, -1)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read through the first node: %d bytes, %v", len(got), err)
			}
			got, err = readRange(t, ca, id, 100, 50)
			if err != nil || !bytes.Equal(got, data[100:150]) {
				t.Fatalf("range through the first node: %v", err)
			}
			nonce := []byte("audit-nonce")
			au, err := ca.Proof(context.Background(), id, 1, nonce)
			if err != nil || au.Node != a.key.Public() || !bytes.Equal(au.Data, data[testLeafSize:min(2*testLeafSize, size)]) {
				t.Fatalf("audit through the first node: %+v, %v", au.Node, err)
			}
			// b holds it for a's owner (a itself), a for the owner.
			hb, err := b.db.HeldShard(id)
			if err != nil || len(hb.Holders) != 1 || hb.Holders[0].Owner != a.key.Public() {
				t.Fatalf("next node's record %+v, %v", hb, err)
			}
			ha, err := a.db.HeldShard(id)
			if err != nil || ha.Location != meta.LocationDelegated || ha.Holders[0].Owner != owner.Public() {
				t.Fatalf("first node's record %+v, %v", ha, err)
			}
		}
		if got, want := a.heldFor(t, owner.Public()), int64(5000+200<<10+2*ho); got != want {
			t.Fatalf("first node counts %d held for the owner, want %d", got, want)
		}
		if got := b.heldFor(t, a.key.Public()); got != int64(5000+200<<10+2*ho) {
			t.Fatalf("next node counts %d held for the first node's owner", got)
		}
		if used := a.state(t).used; used != 2*ho {
			t.Fatalf("the first node counts %d bytes used; only the records' overhead is on it", used)
		}
		v, err := a.srv.Ledger(0)
		if err != nil || v.Delegated != int64(5000+200<<10+2*ho) {
			t.Fatalf("ledger delegated %d, %v", v.Delegated, err)
		}
		dl, err := a.srv.Delegated()
		if err != nil || dl[b.key.Public()] != v.Delegated {
			t.Fatalf("delegated by next node %v, %v", dl, err)
		}

		// A renewal at the first node reaches the next.
		_, small := testShard(uint64(12000+5000), 5000)
		_, large := testShard(uint64(12000+200<<10), 200<<10)
		later := clock.Now().Add(60 * 24 * time.Hour)
		if _, err := ca.RenewBatch(context.Background(), renewBatch(owner, a, clock, later, small, large)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []shard.ID{small, large} {
			if got := b.lease(t, id, a.key); got != later.Unix() {
				t.Fatalf("lease at the next node %d, want %d", got, later.Unix())
			}
		}
		// A delete at the first node releases the next node's holding.
		clock.advance(time.Second)
		g := shard.Grant{Op: shard.OpDelete, Shard: small, Size: 5000, Time: clock.Now().UnixNano()}
		g.Sign(owner)
		if err := ca.DeleteShard(context.Background(), small, g); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.HeldShard(small); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("the next node still holds a released shard: %v", err)
		}
		if _, err := a.db.Delegation(small); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("the first node keeps the delegation of a released shard: %v", err)
		}
		// An expired lease at the first node too.
		clock.advance(61*24*time.Hour + a.srv.cfg.LeaseGrace)
		if ex, err := a.srv.ExpireLeases(context.Background()); err != nil || ex.Holdings != 1 {
			t.Fatalf("expire: %+v, %v", ex, err)
		}
		if _, err := b.db.HeldShard(large); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("the next node still holds a shard whose lease lapsed at the first: %v", err)
		}
		checkHeldFor(t, a)
		checkHeldFor(t, b)
	})
}

// viaQuery is the via parameter naming nodes.
func viaQuery(nodes ...*testNode) string {
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		id := n.key.Public()
		ids[i] = hex.EncodeToString(id[:])
	}
	return strings.Join(ids, ",")
}

// Chains: a full node whose next is full too is delegated through, up to
// the depth; a chain deeper than the limit, or passing a node twice, is
// refused; a node with nowhere to forward to answers 507.
func TestDelegationChain(t *testing.T) {
	owner := newKey(t)
	data, id := testShard(13000, 3000)
	store := func(n *testNode, via string) (shard.Receipt, error) {
		return n.client(t).putShard(context.Background(), id, bytes.NewReader(data), int64(len(data)),
			newGrant(owner, shard.OpStore, id, int64(len(data))), via)
	}

	c := startNode(t, nodeOpts{})
	b := delegatingNode(t, 1<<10, 3, nil, c)
	a := delegatingNode(t, 1<<10, 3, nil, b)
	rc, err := store(a, "")
	if err != nil || rc.Holder != b.key.Public() {
		t.Fatalf("store through two full nodes: holder %s, %v", rc.Holder, err)
	}
	if got, err := readRange(t, a.client(t), id, 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read down the chain: %v", err)
	}
	if hc, err := c.db.HeldShard(id); err != nil || hc.Holders[0].Owner != b.key.Public() {
		t.Fatalf("the last node holds %+v, %v", hc, err)
	}

	// Depth 2: the second full node may not forward it further.
	b2 := delegatingNode(t, 1<<10, 2, nil, c)
	a2 := delegatingNode(t, 1<<10, 2, nil, b2)
	if _, err := store(a2, ""); !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("a chain of 3 with a depth of 2: %v, want insufficient_storage", err)
	}
	// A store that passed through 3 nodes already, or through this one.
	wantCode(t, func() error { _, err := store(c, viaQuery(a, b, a2)); return err }(), ErrTooDeep)
	wantCode(t, func() error { _, err := store(b, viaQuery(a, b)); return err }(), ErrLoop)
	// A loop a -> b -> a is never tried: b skips the nodes the shard
	// passed through, and has nowhere else to go.
	b3 := startNode(t, nodeOpts{cfg: func(cf *Config) { cf.Capacity = 1 << 10 }})
	var a3 *testNode
	b3.srv.cfg.Delegate.Peers = func() []DelegatePeer { return []DelegatePeer{{ID: a3.key.Public(), URL: a3.ts.URL}} }
	a3 = delegatingNode(t, 1<<10, 3, nil, b3)
	if _, err := store(a3, ""); !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("two full nodes delegating to each other: %v, want insufficient_storage", err)
	}
	if _, err := a3.db.HeldShard(id); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("a refused delegation left a record: %v", err)
	}
}

// The next node vanishes: reads and audits at the first node fail, so the
// owner's audits hold the first node answerable.
func TestDelegateVanishes(t *testing.T) {
	b := startNode(t, nodeOpts{})
	a := delegatingNode(t, 1<<10, 0, nil, b)
	owner := newKey(t)
	data, id := testShard(14000, 9000)
	put(t, a.client(t), owner, data, id)
	b.ts.Close()
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	if _, err := a.client(t).Proof(context.Background(), id, 0, nonce); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("audit with the next node gone: %v, want bad_response", err)
	}
	if _, err := readRange(t, a.client(t), id, 0, -1); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("read with the next node gone: %v, want bad_response", err)
	}
}

// A delegated shard whose next node fails a relayed proof no longer
// counts as held for this node's owner by the next node's owner, until a
// proof passes again.
func TestDelegatedCountsWhileProofsPass(t *testing.T) {
	b := startNode(t, nodeOpts{})
	a := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Capacity = 1 << 10
		c.Delegate.Peers = func() []DelegatePeer { return []DelegatePeer{{ID: b.key.Public(), URL: b.ts.URL}} }
	}})
	owner := newKey(t)
	const size = 100 << 10 // a file at the next node, not inline
	data, id := testShard(15000, size)
	put(t, a.client(t), owner, data, id)
	counted := func() int64 {
		t.Helper()
		dl, err := a.srv.Delegated()
		if err != nil {
			t.Fatal(err)
		}
		return dl[b.key.Public()]
	}
	if got := counted(); got != size+ho {
		t.Fatalf("counted %d for the next node, want %d", got, size+ho)
	}
	// The next node loses the shard: the relayed proof fails.
	if err := b.st.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.client(t).Proof(context.Background(), id, 0, []byte("n1")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("proof of a shard the next node lost: %v", err)
	}
	if got := counted(); got != 0 {
		t.Fatalf("counted %d for a next node that failed its proof", got)
	}
	if v, err := a.srv.Ledger(0); err != nil || v.Delegated != size+ho {
		t.Fatalf("the ledger shows %d delegated (%v); it still answers for it", v.Delegated, err)
	}
}
