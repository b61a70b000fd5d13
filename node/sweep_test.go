package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// TestSweepRemovesUnindexedShards leaves a shard in the store with no
// index entry, as a crash between writing and indexing would: Sweep
// removes it and only it, and a second sweep finds nothing.
func TestSweepRemovesUnindexedShards(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		ctx := context.Background()
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		owner := newKey(t)
		c := n.client(t)
		small, smallID := testShard(80, 1000)
		big, bigID := testShard(81, 3*testLeafSize)
		put(t, c, owner, small, smallID)
		put(t, c, owner, big, bigID)
		orphan, orphanID := testShard(82, 2*testLeafSize)
		storeBytes(t, n.st, orphan, orphanID) // bytes without an index entry

		removed, err := n.srv.Sweep(ctx)
		if err != nil || removed != 1 {
			t.Fatalf("Sweep = %d, %v; want 1 removed", removed, err)
		}
		if _, err := n.st.Stat(ctx, orphanID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("orphan still stored: %v", err)
		}
		for id, want := range map[[32]byte][]byte{smallID: small, bigID: big} {
			r, err := c.GetShard(ctx, id, 0, -1)
			if err != nil {
				t.Fatalf("held shard %x after sweep: %v", id[:4], err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("held shard %x after sweep: %d bytes, %v", id[:4], len(got), err)
			}
		}
		if removed, err := n.srv.Sweep(ctx); err != nil || removed != 0 {
			t.Fatalf("second Sweep = %d, %v; want 0", removed, err)
		}
	})
}
