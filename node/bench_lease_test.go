package node

import (
	"context"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// seedHoldings indexes count holdings of owner on n directly in its
// catalog (no bytes: renewals and expiry never read them), with their
// totals, leases expiring at expiry.
func seedHoldings(tb testing.TB, n *testNode, owner shard.PublicKey, first, count int, expiry int64) []shard.ID {
	tb.Helper()
	ids := make([]shard.ID, 0, count)
	for lo := 0; lo < count; lo += 4096 {
		err := n.db.Update(func(b *meta.Batch) error {
			for i := first + lo; i < first+min(lo+4096, count); i++ {
				id := shard.ID{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i), 0xaa}
				ids = append(ids, id)
				rec := meta.HeldShard{ID: id, Size: 1000, Location: meta.LocationFile}
				rec.SetHolding(meta.Holding{Owner: owner, LeaseExpiry: expiry})
				if err := b.PutHeldShard(rec); err != nil {
					return err
				}
				if err := addHolding(b, owner, 1000); err != nil {
					return err
				}
				if _, err := b.AddCounter(meta.CounterUsedBytes, 1000); err != nil {
					return err
				}
			}
			return nil
		}, meta.NoSync())
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ids
}

func leaseBenchNode(b *testing.B, clock *testClock) *testNode {
	db, err := meta.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return startNode(b, nodeOpts{db: db, cfg: func(c *Config) { c.Now = clock.Now }})
}

// BenchmarkRenewBatch: one full batch (4096 held shards) renewed over
// HTTP into an on-disk catalog, each time to a later expiry.
func BenchmarkRenewBatch(b *testing.B) {
	clock := newTestClock()
	n := leaseBenchNode(b, clock)
	owner := newKey(b)
	ids := seedHoldings(b, n, owner.Public(), 0, shard.MaxRenewBatch, clock.Now().Add(time.Hour).Unix())
	c := n.client(b, WithClientClock(clock.Now))
	ctx := context.Background()
	expiry := clock.Now().Add(24 * time.Hour)
	b.ResetTimer()
	for b.Loop() {
		expiry = expiry.Add(time.Second)
		ans, err := c.RenewBatch(ctx, renewBatch(owner, n, clock, expiry, ids...))
		if err != nil || len(ans.Renewed) != len(ids) {
			b.Fatalf("%d renewed, %v", len(ans.Renewed), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ids)), "ns/shard")
}

// BenchmarkExpireLeases: a sweep of 20000 lapsed holdings (bytes in no
// store) from an on-disk catalog.
func BenchmarkExpireLeases(b *testing.B) {
	clock := newTestClock()
	n := leaseBenchNode(b, clock)
	owner := newKey(b).Public()
	const count = 20000
	round := 0
	for b.Loop() {
		b.StopTimer()
		seedHoldings(b, n, owner, round*count, count, clock.Now().Add(-n.srv.cfg.LeaseGrace-time.Hour).Unix())
		round++
		b.StartTimer()
		ex, err := n.srv.ExpireLeases(context.Background())
		if err != nil || ex.Holdings != count {
			b.Fatalf("%+v, %v", ex, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/count, "ns/holding")
}
