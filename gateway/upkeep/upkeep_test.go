package upkeep

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"slices"
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

	penalized int
	data      map[shard.ID][]byte // shard bytes, for proofs
	key       shard.PrivateKey
	proofs    int
	lie       bool // answer proofs with a wrong leaf
	hang      bool // answer proofs and probes only when the caller gives up
	impostor  bool // another key answers probes at the node's address

	now         func() time.Time // the clock of Contact; nil: zero time
	lastContact time.Time
	contacts    []bool // outcomes recorded by Contact
}

// Hello answers a probe with the node's record, or another key's.
func (f *fakeNode) Hello(ctx context.Context) (shard.NodeRecord, error) {
	f.mu.Lock()
	hang, fail, impostor := f.hang, f.fail, f.impostor
	f.mu.Unlock()
	switch {
	case hang:
		<-ctx.Done()
		return shard.NodeRecord{}, ctx.Err()
	case fail:
		return shard.NodeRecord{}, errors.New("unreachable")
	}
	key := f.key
	if impostor || key.IsZero() {
		var err error
		if key, err = shard.GeneratePrivateKey(rand.Reader); err != nil {
			return shard.NodeRecord{}, err
		}
	}
	rec := shard.NodeRecord{Node: key.Public(), Address: "http://127.0.0.1:1"}
	if !impostor {
		rec.Node = f.id
	}
	return rec, nil
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

// Proof answers as a node.Client does: a proof it verified, or
// ErrNotFound, or ErrBadResponse for a proof that does not verify.
func (f *fakeNode) Proof(ctx context.Context, id shard.ID, leaf uint64, nonce []byte) (node.Audit, error) {
	f.mu.Lock()
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return node.Audit{}, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proofs++
	if f.fail {
		return node.Audit{}, errors.New("unreachable")
	}
	data, ok := f.data[id]
	if !ok {
		return node.Audit{}, node.ErrNotFound
	}
	p, leafData, err := shard.BuildProof(bytes.NewReader(data), int64(len(data)), testLeaf, leaf)
	if err != nil {
		return node.Audit{}, node.ErrBadRequest
	}
	if f.lie {
		leafData = append([]byte{}, leafData...)
		leafData[0] ^= 1
	}
	a := node.Audit{Shard: id, Size: int64(len(data)), LeafSize: testLeaf, Leaf: leaf, Nonce: nonce, Data: leafData, Proof: p}
	a.Sign(f.key)
	if err := a.Verify(); err != nil {
		return a, node.ErrBadResponse
	}
	return a, nil
}

type fakePeers map[shard.PublicKey]*fakeNode

func (p fakePeers) States(time.Time) map[policy.PeerID]policy.PeerState {
	m := make(map[policy.PeerID]policy.PeerState)
	for id, n := range p {
		n.mu.Lock()
		m[id] = policy.PeerState{ID: id, Reachable: true, Reputation: 1, Placeable: true, LastContact: n.lastContact}
		n.mu.Unlock()
	}
	return m
}

func (p fakePeers) Client(id policy.PeerID) NodeClient {
	if n := p[id]; n != nil {
		return n
	}
	return nil
}

func (p fakePeers) Contact(id policy.PeerID, ok bool) {
	if n := p[id]; n != nil {
		n.mu.Lock()
		n.contacts = append(n.contacts, ok)
		if n.now != nil {
			n.lastContact = n.now()
		}
		n.mu.Unlock()
	}
}

func (p fakePeers) Penalize(id policy.PeerID) {
	if n := p[id]; n != nil {
		n.mu.Lock()
		n.penalized++
		n.mu.Unlock()
	}
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

	// The shards node 4 does not hold are marked lost.
	if seg, _ := db.Segment(ids[5]); policy.LostReason(seg.Shards[4].Health.Lost) != policy.NotHeld || seg.Shards[3].Health.Lost != 0 {
		t.Fatalf("segment 5 health: %+v", seg.Shards)
	}

	// The next pass renews only what is still due: node 3's shards once
	// it answers (lost shards are not asked again).
	nodes[3].fail = false
	st, err = u.RenewLeases(ctx)
	if err != nil || st.LeasesRenewed != 200 || st.NotHeld != 0 || st.RenewFailures != 0 {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
	check(150, 3, now.Add(lease))
	if got := u.Stats(); got.Passes != 2 || got.LeasesRenewed != 990 || got.NotHeld != 10 || got.RenewFailures != 1 {
		t.Fatalf("stats %+v", got)
	}
}

const testLeaf = 1024

// Audits go round the catalog within their budget, pass honest holders,
// find a holder that lost shards (it says so) and one whose proofs are
// wrong (re-checked once, then lost and penalized).
func TestAudit(t *testing.T) {
	db, err := meta.Open("gw", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := newKey(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pc := policy.Defaults()
	pc.LeafSize = testLeaf
	pc.AuditBytesPerSecond = 1 << 30 // every due shard in one pass
	cfg := Config{Policy: pc, Now: func() time.Time { return now }}
	peers := fakePeers{}
	var nodes []*fakeNode
	for range 5 {
		k := newKey(t)
		n := &fakeNode{id: k.Public(), key: k, owner: owner.Public(), held: map[shard.ID]bool{}, data: map[shard.ID][]byte{}}
		peers[n.id] = n
		nodes = append(nodes, n)
	}
	params := shard.Params{K: 3, N: 5, BlockSize: testLeaf}
	sealed := int64(3 * 4 * testLeaf)
	size := shard.ShardSize(params, sealed)
	stored := now.Add(-20 * 24 * time.Hour) // due: AuditInterval is 14 days
	var ids []meta.SegmentID
	err = db.Update(func(b *meta.Batch) error {
		for s := range 300 {
			var sid meta.SegmentID
			full := randID(t)
			copy(sid[:], full[:])
			seg := meta.Segment{ID: sid, K: 3, N: 5, BlockSize: testLeaf, SealedSize: sealed, Refs: 1}
			for i, n := range nodes {
				data := make([]byte, size)
				rand.Read(data)
				id := shard.ComputeID(data, testLeaf)
				if i != 4 || s >= 5 { // node 4 lost segments 0..4
					n.data[id] = data
				}
				seg.Shards = append(seg.Shards, meta.SegmentShard{ID: id, Node: n.id, Holder: n.id,
					LeaseExpiry: now.Add(80 * 24 * time.Hour).Unix(), Time: stored.UnixNano()})
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
	nodes[3].lie = true
	u, err := New(cfg, db, owner, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := u.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 1500 shards: 3 honest nodes pass 900 and node 4 295; node 4 says
	// it lost 5 (lost at once), node 3 fails 300 (re-checked later).
	if st.AuditsPassed != 1195 || st.AuditsFailed != 305 || st.ShardsLost != 5 {
		t.Fatalf("first pass: %+v", st)
	}
	seg, _ := db.Segment(ids[0])
	if h := seg.Shards[0].Health; h.LastAudit != now.Unix() || h.AuditFailures != 0 || h.Lost != 0 {
		t.Fatalf("an honest shard's health: %+v", h)
	}
	if h := seg.Shards[3].Health; h.AuditFailures != 1 || h.RecheckAt != now.Add(pc.RecheckAfter).Unix() || h.Lost != 0 {
		t.Fatalf("a failed shard's health: %+v", h)
	}
	if h := seg.Shards[4].Health; policy.LostReason(h.Lost) != policy.NotHeld {
		t.Fatalf("a shard not held: %+v", h)
	}
	// Before the re-check is due nothing is audited; then only the
	// re-checks, which fail again: lost, and node 3 penalized.
	now = now.Add(time.Minute)
	if st, err := u.Audit(ctx); err != nil || st.AuditsPassed+st.AuditsFailed != 0 {
		t.Fatalf("a minute later: %+v, %v", st, err)
	}
	now = now.Add(pc.RecheckAfter)
	st, err = u.Audit(ctx)
	if err != nil || st.AuditsPassed != 0 || st.AuditsFailed != 300 || st.ShardsLost != 300 {
		t.Fatalf("re-checks: %+v, %v", st, err)
	}
	if nodes[3].penalized != 300 || nodes[0].penalized != 0 {
		t.Fatalf("penalized: node 3 %d, node 0 %d", nodes[3].penalized, nodes[0].penalized)
	}
	seg, _ = db.Segment(ids[7])
	if h := seg.Shards[3].Health; policy.LostReason(h.Lost) != policy.AuditFailed || h.AuditFailures != 2 {
		t.Fatalf("a shard that failed twice: %+v", h)
	}
	// Lost shards are not audited again.
	now = now.Add(30 * 24 * time.Hour)
	before := nodes[3].proofs
	if _, err := u.Audit(ctx); err != nil || nodes[3].proofs != before {
		t.Fatalf("lost shards audited again: %d proofs, %v", nodes[3].proofs-before, err)
	}
}

// With a small budget a pass audits only what it buys, and the next
// passes go on from where it stopped, round the whole catalog.
func TestAuditBudgetGoesRound(t *testing.T) {
	db, err := meta.Open("gw", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := newKey(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pc := policy.Defaults()
	pc.LeafSize = testLeaf
	k := newKey(t)
	n := &fakeNode{id: k.Public(), key: k, owner: owner.Public(), data: map[shard.ID][]byte{}}
	peers := fakePeers{n.id: n}
	const segs = 600
	err = db.Update(func(b *meta.Batch) error {
		for range segs {
			var sid meta.SegmentID
			full := randID(t)
			copy(sid[:], full[:])
			data := make([]byte, testLeaf)
			rand.Read(data)
			id := shard.ComputeID(data, testLeaf)
			n.data[id] = data
			seg := meta.Segment{ID: sid, K: 1, N: 1, BlockSize: testLeaf, SealedSize: testLeaf, Refs: 1,
				Shards: []meta.SegmentShard{{ID: id, Node: n.id, Holder: n.id, Time: now.Add(-20 * 24 * time.Hour).UnixNano()}}}
			if err := b.PutSegment(seg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A pass every minute buys 64 KiB/s * 60 s of audits, about 1.9 KiB
	// each: about 2,000 a pass; at 1 KiB/s about 31.
	pc.AuditBytesPerSecond = 1 << 10
	u, err := New(Config{Policy: pc, Now: func() time.Time { return now }}, db, owner, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	passes := 0
	for u.Stats().AuditsPassed < segs {
		if passes++; passes > 200 {
			t.Fatalf("after %d passes: %+v", passes, u.Stats())
		}
		now = now.Add(time.Minute)
		st, err := u.Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if max := int64(60<<10)/u.pol.AuditCost(testLeaf) + 2; passes > 1 && st.AuditsPassed > max {
			t.Fatalf("pass %d audited %d, the budget buys %d", passes, st.AuditsPassed, max)
		}
	}
	if got := u.Stats().AuditsPassed; got != segs {
		t.Fatalf("%d audits for %d shards: some twice before others once", got, segs)
	}
}

// A hung holder costs its audits their timeout, not the pass: the other
// holders are audited, and the hung one's audits count as failures to
// re-check.
func TestAuditHungPeer(t *testing.T) {
	db, err := meta.Open("gw", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := newKey(t)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	pc := policy.Defaults()
	pc.LeafSize = testLeaf
	pc.AuditBytesPerSecond = 1 << 30
	peers := fakePeers{}
	var nodes []*fakeNode
	for range 2 {
		k := newKey(t)
		n := &fakeNode{id: k.Public(), key: k, owner: owner.Public(), data: map[shard.ID][]byte{}}
		peers[n.id] = n
		nodes = append(nodes, n)
	}
	nodes[1].hang = true
	const segs = 40 // 40 audits on the hung node, 8 at a time
	err = db.Update(func(b *meta.Batch) error {
		for range segs {
			var sid meta.SegmentID
			full := randID(t)
			copy(sid[:], full[:])
			seg := meta.Segment{ID: sid, K: 1, N: 2, BlockSize: testLeaf, SealedSize: testLeaf, Refs: 1}
			for _, n := range nodes {
				data := make([]byte, testLeaf)
				rand.Read(data)
				id := shard.ComputeID(data, testLeaf)
				n.data[id] = data
				seg.Shards = append(seg.Shards, meta.SegmentShard{ID: id, Node: n.id, Holder: n.id, Time: now.Add(-20 * 24 * time.Hour).UnixNano()})
			}
			if err := b.PutSegment(seg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 50 * time.Millisecond
	u, err := New(Config{Policy: pc, Now: func() time.Time { return now }, RequestTimeout: timeout}, db, owner, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without the timeout the pass would never end.
	st, err := u.Audit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.AuditsPassed != segs || st.AuditsFailed != segs || st.ShardsLost != 0 {
		t.Fatalf("a pass with a hung node: %+v", st)
	}
}

// Probes go to the holders nobody tried for ProbeAfter, and only to
// holders; an unreachable holder, an impostor at its address and a hung
// one are failures (the hung one within RequestTimeout); the outcomes go
// to the peers' histories.
func TestProbe(t *testing.T) {
	db, err := meta.Open("gw", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	owner := newKey(t)
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := Config{Policy: policy.Defaults(), Now: clock, RequestTimeout: 50 * time.Millisecond}
	peers := fakePeers{}
	var nodes []*fakeNode
	for range 7 {
		n := &fakeNode{id: newKey(t).Public(), owner: owner.Public(), now: clock}
		peers[n.id] = n
		nodes = append(nodes, n)
	}
	// Nodes 0..5 hold shards (leases far off: no renewal); node 6 none.
	err = db.Update(func(b *meta.Batch) error {
		for s := range 3 {
			full := randID(t)
			seg := meta.Segment{K: 3, N: 5, BlockSize: 1024, Refs: 1}
			copy(seg.ID[:], full[:])
			for i := range 5 {
				n := nodes[(s+i)%6]
				seg.Shards = append(seg.Shards, meta.SegmentShard{ID: randID(t), Node: n.id, Holder: n.id,
					LeaseExpiry: now.Add(80 * 24 * time.Hour).Unix()})
			}
			if err := b.PutSegment(seg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes[3].fail, nodes[4].impostor, nodes[5].hang = true, true, true
	u, err := New(cfg, db, owner, peers, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, f := u.Probe(ctx); p != 0 || f != 0 {
		t.Fatalf("before any pass noted the holders: %d probed, %d failed", p, f)
	}
	if _, err := u.RenewLeases(ctx); err != nil {
		t.Fatal(err)
	}
	want := [][]bool{{true}, {true}, {true}, {false}, {false}, {false}, nil}
	check := func(round int) {
		t.Helper()
		for i, n := range nodes {
			n.mu.Lock()
			got := slices.Clone(n.contacts)
			n.mu.Unlock()
			if !slices.Equal(got, want[i]) {
				t.Fatalf("round %d: node %d contacts %v, want %v", round, i, got, want[i])
			}
		}
	}
	if p, f := u.Probe(ctx); p != 6 || f != 3 {
		t.Fatalf("first probes: %d probed, %d failed; want 6, 3", p, f)
	}
	check(1)
	// Just tried: none is due until ProbeAfter has passed.
	mu.Lock()
	now = now.Add(cfg.Policy.OfflineGrace/4 - time.Second)
	mu.Unlock()
	if p, f := u.Probe(ctx); p != 0 || f != 0 {
		t.Fatalf("probed again too soon: %d, %d", p, f)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	nodes[3].mu.Lock()
	nodes[3].fail = false // back
	nodes[3].mu.Unlock()
	if p, f := u.Probe(ctx); p != 6 || f != 2 {
		t.Fatalf("second probes: %d probed, %d failed; want 6, 2", p, f)
	}
	for i := range 6 {
		want[i] = append(want[i], i != 4 && i != 5)
	}
	check(2)
	if st := u.Stats(); st.Probes != 12 || st.ProbesFailed != 5 {
		t.Fatalf("stats %+v", st)
	}
}
