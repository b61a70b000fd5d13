package node

import (
	"context"
	"testing"

	"ishtar/shard"
)

// Usage follows the holdings: two owners' shards (one shard held for
// both: its bytes count once in Used, once per owner in Bytes), then a
// release.
func TestUsage(t *testing.T) {
	n := startNode(t, nodeOpts{})
	c := n.client(t)
	u, err := n.srv.Usage()
	if err != nil || u != (Usage{Capacity: 1 << 30, Free: 1 << 30}) {
		t.Fatalf("empty node: %+v, %v", u, err)
	}
	alice, bob := newKey(t), newKey(t)
	a, aID := testShard(1, 5000)
	b, bID := testShard(2, 7000)
	put(t, c, alice, a, aID)
	put(t, c, alice, b, bID)
	put(t, c, bob, b, bID)
	u, err = n.srv.Usage()
	want := Usage{Capacity: 1 << 30, Shards: 3, Bytes: 5000 + 2*7000 + 3*ho, Owners: 2}
	if err != nil || u.Shards != want.Shards || u.Bytes != want.Bytes || u.Owners != want.Owners ||
		u.Used != 5000+7000+3*ho || u.Free != u.Capacity-u.Used || u.Used != n.state(t).used {
		t.Fatalf("two owners: %+v (%v), want %+v and used as counted", u, err, want)
	}
	if err := c.DeleteShard(context.Background(), aID, newGrant(alice, shard.OpDelete, aID, 5000)); err != nil {
		t.Fatal(err)
	}
	if u, err = n.srv.Usage(); err != nil || u.Shards != 2 || u.Bytes != 2*7000+2*ho || u.Owners != 2 {
		t.Fatalf("after a release: %+v, %v", u, err)
	}
}
