package node

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

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
