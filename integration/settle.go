package integration

import (
	"context"
	"testing"
	"time"
)

// ShardTotals sums the shards held by the storage nodes.
type ShardTotals struct {
	Count int
	Bytes int64
}

// StoredShards walks the storage nodes' stores (running or not).
func (n *Net) StoredShards(t testing.TB) ShardTotals {
	t.Helper()
	var tot ShardTotals
	for _, nd := range n.nodes[1:] {
		c, b, err := nd.Shards(context.Background())
		if err != nil {
			t.Fatalf("integration: walk node %d: %v", nd.Index, err)
		}
		tot.Count += c
		tot.Bytes += b
	}
	return tot
}

// settleWithin bounds Settle.
const settleWithin = 30 * time.Second

// Settle waits until the gateway has no shard releases pending and no
// upload in flight, and the storage nodes hold exactly the bytes the
// catalog references (gateway Stats.StoredBytes), and returns what they
// hold. Releases run in the gateway's background loop and nothing reports
// their end, so Settle polls Stats and the stores every 20 ms until a
// deadline.
func (n *Net) Settle(t testing.TB) ShardTotals {
	t.Helper()
	deadline := time.Now().Add(settleWithin)
	for {
		st, err := n.Gateway.Stats(context.Background())
		if err != nil {
			t.Fatalf("integration: gateway stats: %v", err)
		}
		got := n.StoredShards(t)
		if st.PendingReleases == 0 && st.ReservedBytes == 0 && got.Bytes == st.StoredBytes {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("integration: not settled after %v: %d releases pending, %d bytes reserved, "+
				"nodes hold %d shards (%d bytes), the catalog references %d bytes",
				settleWithin, st.PendingReleases, st.ReservedBytes, got.Count, got.Bytes, st.StoredBytes)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}
