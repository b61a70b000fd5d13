package node

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"ishtar/shard"
)

// TestConcurrentOwners races stores and deletes of one shard by several
// owners; afterwards the index, the used bytes and the bytes agree.
func TestConcurrentOwners(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		storeDir := t.TempDir()
		st, err := NewDiskStore(storeDir, testLeafSize)
		if err != nil {
			t.Fatal(err)
		}
		n := startNode(t, nodeOpts{st: st, inlineMax: m.inlineMax})
		data, id := testShard(60, 3*testLeafSize)
		size := int64(len(data))
		ctx := context.Background()
		const owners, rounds = 4, 5
		keys := make([]shard.PrivateKey, owners)
		for i := range keys {
			keys[i] = newKey(t)
		}
		var wg sync.WaitGroup
		errs := make(chan error, owners)
		for i, owner := range keys {
			c := n.client(t)
			wg.Go(func() {
				for r := range rounds {
					g := newGrant(owner, shard.OpStore, id, size)
					if _, err := c.PutShard(ctx, id, bytes.NewReader(data), size, g); err != nil {
						errs <- err
						return
					}
					if i%2 == 1 && r == rounds-1 {
						break // odd owners keep their last upload
					}
					if err := c.DeleteShard(ctx, id, newGrant(owner, shard.OpDelete, id, size)); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		s := n.state(t)
		if len(s.held) != 1 || len(s.held[0].Holders) != owners/2 || s.used != size+owners/2*ho || len(s.shards) != 1 {
			t.Fatalf("after the race: %+v", s)
		}
		if got := readShard(t, n.client(t), id); !bytes.Equal(got, data) {
			t.Fatal("bytes differ after the race")
		}
		c := n.client(t)
		for i := 1; i < owners; i += 2 {
			if err := c.DeleteShard(ctx, id, newGrant(keys[i], shard.OpDelete, id, size)); err != nil {
				t.Fatal(err)
			}
		}
		if s := n.state(t); len(s.held) != 0 || s.used != 0 || len(s.shards) != 0 {
			t.Fatalf("after the last release: %+v", s)
		}
		if files := filesUnder(t, storeDir); len(files) != 0 {
			t.Fatalf("files left: %v", files)
		}
	})
}
