package node

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

func signedRecord(t testing.TB, k shard.PrivateKey, addr string, seq uint64, at time.Time) shard.NodeRecord {
	t.Helper()
	r := shard.NodeRecord{Address: addr, Capacity: 1 << 30, Free: 1 << 30, Seq: seq, Time: at.Unix()}
	r.Sign(k)
	return r
}

// storedPeers counts the node records in the catalog.
func (n *testNode) storedPeers(t testing.TB) int {
	t.Helper()
	ps, err := n.db.Peers([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(ps)
}

// A stranger announcing thousands of fresh records used to grow the
// catalog without bound (and have them handed out to everyone). The
// table is bounded per announcing block, per advertised block and in
// total; a full table keeps what it has and still takes records from
// elsewhere up to its bound.
func TestPeerRecordFlood(t *testing.T) {
	now := time.Unix(6_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Now = clock
		c.Limits = Limits{Peers: 55, PeersPerBlock: 10, PeersPerSource: 20}
	}})
	ctx := context.Background()
	honest := n.clientFrom(t, "127.0.20.1")
	honest.now = clock
	good := signedRecord(t, newKey(t), "http://198.51.100.7:7070", 1, now)
	if err := honest.Announce(ctx, good); err != nil {
		t.Fatal(err)
	}
	// The flood: fresh identities, each advertising its own /24, from one
	// source block, then from a second one.
	for _, src := range []string{"127.0.21.1", "127.0.22.1"} {
		c := n.clientFrom(t, src)
		c.now = clock
		for range 5 {
			recs := make([]shard.NodeRecord, 100)
			for i := range recs {
				recs[i] = signedRecord(t, newKey(t), fmt.Sprintf("http://10.%d.%d.1:7070", keySeq.Load()%250, i), 1, now)
			}
			if err := c.Announce(ctx, recs...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := n.storedPeers(t); got != 1+2*20 {
		t.Fatalf("%d records kept after the flood, want 1 + 20 per source block", got)
	}
	// Many records advertising one block: ten at most.
	same := n.clientFrom(t, "127.0.23.1")
	same.now = clock
	recs := make([]shard.NodeRecord, 15)
	for i := range recs {
		recs[i] = signedRecord(t, newKey(t), fmt.Sprintf("http://203.0.113.%d:7070", i+1), 1, now)
	}
	if err := same.Announce(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	if got := n.storedPeers(t); got != 1+2*20+10 {
		t.Fatalf("%d records kept, want ten of one advertised block more", got)
	}
	// The good record is still there, and takes a newer version; expired
	// and future-dated records are refused.
	if err := honest.Announce(ctx, signedRecord(t, newKey(t), "http://192.0.2.1:1", 1, now.Add(-RecordTTL)),
		signedRecord(t, newKey(t), "http://192.0.2.2:1", 1, now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	if got := n.storedPeers(t); got != 51 {
		t.Fatalf("%d records after expired and future ones, want 51", got)
	}
	// Room for four more in all, whatever their source.
	var more []shard.NodeRecord
	for i := range 10 {
		more = append(more, signedRecord(t, newKey(t), fmt.Sprintf("http://172.16.%d.1:1", i), 1, now))
	}
	if err := honest.Announce(ctx, more...); err != nil || n.storedPeers(t) != 55 {
		t.Fatalf("announce to a nearly full table: %v, %d records, want 55", err, n.storedPeers(t))
	}
	got, err := honest.Peers(ctx)
	if err != nil || len(got) != 55 {
		t.Fatalf("Peers: %d records, %v", len(got), err)
	}
	if n.srv.Refusals()["record_expired"] != 1 || n.srv.Refusals()["record_future"] != 1 {
		t.Fatalf("refusals %v", n.srv.Refusals())
	}
	// A day later every record has expired: none is handed out, and the
	// maintenance removes them.
	mu.Lock()
	now = now.Add(RecordTTL + time.Second)
	mu.Unlock()
	if got, err := honest.Peers(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Peers after a day: %d, %v", len(got), err)
	}
	if removed, err := n.srv.expirePeers(); err != nil || removed != 55 {
		t.Fatalf("expirePeers = %d, %v", removed, err)
	}
	if got := n.storedPeers(t); got != 0 {
		t.Fatalf("%d records left", got)
	}
	// The table's counts follow: the flood's source may announce again.
	c := n.clientFrom(t, "127.0.21.1")
	c.now = clock
	if err := c.Announce(ctx, signedRecord(t, newKey(t), "http://10.9.9.9:1", 1, now)); err != nil || n.storedPeers(t) != 1 {
		t.Fatalf("announce after expiry: %v, %d records", err, n.storedPeers(t))
	}
}

// Stores and releases left a last-grant entry each, forever. Maintenance
// prunes those older than twice the clock window, and a grant that old is
// still refused, by its timestamp.
func TestLastGrantsPruned(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Now = clock }})
	c := n.client(t)
	owner := newKey(t)
	ctx := context.Background()
	var oldDelete shard.Grant
	for i := range 20 {
		b, id := testShard(uint64(900+i), 100)
		put(t, c, owner, b, id)
		g := newGrant(owner, shard.OpDelete, id, 100)
		if err := c.DeleteShard(ctx, id, g); err != nil {
			t.Fatal(err)
		}
		oldDelete = g
	}
	b, id := testShard(919, 100) // the last one, stored again
	oldStore := newGrant(owner, shard.OpStore, id, 100)
	if _, err := c.PutShard(ctx, id, bytes.NewReader(b), 100, oldStore); err != nil {
		t.Fatal(err)
	}
	countGrants := func() int {
		k := 0
		if err := n.db.Scan([]byte{'g'}, nil, 0, func(k2, v []byte) error { k++; return nil }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	if got := countGrants(); got != 20 {
		t.Fatalf("%d last-grant entries, want 20", got)
	}
	mu.Lock()
	now = now.Add(2*n.srv.cfg.ClockWindow + time.Second)
	mu.Unlock()
	n.srv.prune(ctx)
	if got := countGrants(); got != 0 {
		t.Fatalf("%d last-grant entries after pruning, want 0", got)
	}
	// The pruned grants still do nothing: refused by their time.
	c.now = clock
	wantCode(t, c.DeleteShard(ctx, oldDelete.Shard, oldDelete), ErrClockSkew)
	_, err := c.PutShard(ctx, id, bytes.NewReader(b), 100, oldStore)
	wantCode(t, err, ErrClockSkew)
}
