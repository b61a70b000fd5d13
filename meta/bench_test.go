package meta

import (
	"encoding/binary"
	"testing"
)

// BenchmarkListHeldShards pages through 100,000 held shards, 1,000 a page,
// the shape of a large listing.
func BenchmarkListHeldShards(b *testing.B) {
	db := openMem(b)
	const total = 100_000
	for start := 0; start < total; start += 10_000 {
		batch := db.NewBatch(NoSync())
		for i := start; i < start+10_000; i++ {
			var id [32]byte
			binary.BigEndian.PutUint64(id[:], uint64(i)*0x9e3779b97f4a7c15)
			h := HeldShard{ID: id, Size: 1 << 20, Location: LocationFile}
			h.SetHolding(Holding{Owner: [32]byte{1}, LeaseExpiry: 1 << 40})
			if err := batch.PutHeldShard(h); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		var after [32]byte
		n := 0
		for {
			page, err := db.HeldShards(after, 1000)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].ID
		}
		if n != total {
			b.Fatalf("listed %d, want %d", n, total)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/page")
}
