package upkeep

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// fakeNode is a node's renew endpoint: it checks each batch as a node
// does and holds a fixed set of shards.
type fakeNode struct {
	id      shard.PublicKey
	owner   shard.PublicKey
	mu      sync.Mutex
	held    map[shard.ID]bool
	batches []shard.RenewBatch
	fail    bool
}

func (f *fakeNode) RenewBatch(_ context.Context, b shard.RenewBatch) (node.RenewAnswer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return node.RenewAnswer{}, errors.New("unreachable")
	}
	if err := b.Verify(); err != nil || b.Node != f.id || b.Owner != f.owner {
		return node.RenewAnswer{}, errors.New("refused batch")
	}
	f.batches = append(f.batches, b)
	var ans node.RenewAnswer
	for _, id := range b.Shards {
		if f.held[id] {
			ans.Renewed = append(ans.Renewed, id)
		} else {
			ans.NotHeld = append(ans.NotHeld, id)
		}
	}
	return ans, nil
}

type fakePeers map[shard.PublicKey]*fakeNode

func (p fakePeers) States(time.Time) map[policy.PeerID]policy.PeerState {
	m := make(map[policy.PeerID]policy.PeerState)
	for id := range p {
		m[id] = policy.PeerState{ID: id, Reachable: true, Reputation: 1, Placeable: true}
	}
	return m
}

func (p fakePeers) Renewer(id policy.PeerID) Renewer {
	if n := p[id]; n != nil {
		return n
	}
	return nil
}

func newKey(t *testing.T) shard.PrivateKey {
	t.Helper()
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randID(t *testing.T) (id [32]byte) {
	t.Helper()
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	return id
}

// Leases close to expiry are renewed in one signed batch per node and
// recorded; those far from it are left alone; what a node does not hold
// is counted; a node that fails is retried on the next pass.
func TestRenewLeases(t *testing.T) {
	db, err := meta.Open("gw", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := newKey(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cfg := Config{Policy: policy.Defaults(), Now: func() time.Time { return now }}
	lease := cfg.Policy.Lease
	peers := fakePeers{}
	var nodes []*fakeNode
	for range 5 {
		n := &fakeNode{id: newKey(t).Public(), owner: owner.Public(), held: map[shard.ID]bool{}}
		peers[n.id] = n
		nodes = append(nodes, n)
	}
	// 300 segments (more than a page) of 5 shards, one per node: the
	// first 200 expire in 10 days (due), the rest in 80 (not due). Node
	// 4 lost its shards of segments 0..9.
	var ids []meta.SegmentID
	err = db.Update(func(b *meta.Batch) error {
		for s := range 300 {
			var sid meta.SegmentID
			full := randID(t)
			copy(sid[:], full[:])
			seg := meta.Segment{ID: sid, K: 3, N: 5, BlockSize: 1024, Refs: 1}
			exp := now.Add(10 * 24 * time.Hour)
			if s >= 200 {
				exp = now.Add(80 * 24 * time.Hour)
			}
			for i, n := range nodes {
				id := randID(t)
				if i < 4 || s >= 10 {
					n.held[id] = true
				}
				seg.Shards = append(seg.Shards, meta.SegmentShard{ID: id, Node: n.id, Holder: n.id, LeaseExpiry: exp.Unix()})
			}
			ids = append(ids, sid)
			if err := b.PutSegment(seg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes[3].fail = true
	u, err := New(cfg, db, owner, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := u.RenewLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LeasesRenewed != 3*200+190 || st.NotHeld != 10 || st.RenewFailures != 1 {
		t.Fatalf("first pass: %+v", st)
	}
	for i, n := range nodes {
		switch {
		case i == 3 && len(n.batches) != 0:
			t.Fatalf("a failing node took %d batches", len(n.batches))
		case i != 3 && (len(n.batches) != 1 || len(n.batches[0].Shards) != 200):
			t.Fatalf("node %d: %d batches", i, len(n.batches))
		case i != 3 && n.batches[0].LeaseExpiry != now.Add(lease).Unix():
			t.Fatalf("node %d: lease to %d", i, n.batches[0].LeaseExpiry)
		}
	}
	check := func(s, i int, want time.Time) {
		t.Helper()
		seg, err := db.Segment(ids[s])
		if err != nil {
			t.Fatal(err)
		}
		if got := seg.Shards[i].LeaseExpiry; got != want.Unix() {
			t.Fatalf("segment %d shard %d: lease to %v, want %v", s, i, time.Unix(got, 0).UTC(), want)
		}
	}
	check(150, 0, now.Add(lease))           // renewed
	check(150, 3, now.Add(10*24*time.Hour)) // its node failed
	check(5, 4, now.Add(10*24*time.Hour))   // not held
	check(20, 4, now.Add(lease))            // held, renewed
	check(250, 1, now.Add(80*24*time.Hour)) // not due

	// The next pass renews only what is still due: node 3's shards once
	// it answers, and the shards node 4 no longer holds (asked again).
	nodes[3].fail = false
	st, err = u.RenewLeases(ctx)
	if err != nil || st.LeasesRenewed != 200 || st.NotHeld != 10 || st.RenewFailures != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
	check(150, 3, now.Add(lease))
	if got := u.Stats(); got.Passes != 2 || got.LeasesRenewed != 990 || got.NotHeld != 20 || got.RenewFailures != 1 {
		t.Fatalf("stats %+v", got)
	}
}
