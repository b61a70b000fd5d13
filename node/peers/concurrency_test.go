package peers

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

// Every method at once, for the race detector; the bounds hold after.
func TestConcurrentUse(t *testing.T) {
	f := open(t, func(c *Config) { c.MaxNew = 200; c.MaxTried = 50; c.NewPerSource = 40; c.PerBlock = 8 })
	const workers, rounds = 6, 60
	recs := make([][]shard.NodeRecord, workers)
	for w := range workers {
		for i := range rounds {
			n := w*1000 + i
			recs[w] = append(recs[w], signed(n, addrIn(n%40, n), 1, f.c.Now()))
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			src := fmt.Sprint("src", w%3)
			f.r.AddAll(recs[w][:rounds/2], src)
			for i, rec := range recs[w][rounds/2:] {
				f.r.Add(rec, src)
				if i%3 == 0 {
					f.r.Verified(rec)
				}
				f.r.Contact(rec.Node, i%2 == 0)
				if i%7 == 0 {
					f.r.Lied(rec.Node)
				}
				for _, d := range f.r.DueForChallenge(2) {
					f.r.Verified(d)
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			var cursor uint64
			for i := range rounds {
				_, cursor, _ = f.r.Changes(cursor, 10)
				f.r.Sample(5)
				f.r.Peers()
				f.r.Get(recs[0][i].Node)
				f.r.Stats()
				if i%10 == 0 {
					f.r.All()
					f.r.Expire()
					if err := f.r.Flush(); err != nil {
						t.Error(err)
					}
					f.c.Add(time.Second)
				}
			}
		})
	}
	wg.Wait()
	st := f.r.Stats()
	if st.New > 200 || st.Tried > 50 || st.Tried == 0 {
		t.Fatalf("bounds: %+v", st)
	}
	f.check()
}

func (f *fixture) check() {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.r.checkInvariants(f.t.(*testing.T))
}

// checkInvariants verifies the registry's indexes agree; the caller
// holds mu.
func (r *Registry) checkInvariants(t *testing.T) {
	t.Helper()
	if len(r.new)+len(r.tried) != len(r.byID) || len(r.queue) != len(r.byID) {
		t.Fatalf("%d new + %d tried, %d by ID, %d queued", len(r.new), len(r.tried), len(r.byID), len(r.queue))
	}
	perBlock, perSource := map[string]int{}, map[string]int{}
	for id, e := range r.byID {
		list := r.new
		if e.tried {
			list = r.tried
		} else {
			perSource[e.source]++
			if s := r.sources[e.source]; s == nil || s.list[e.srcPos] != e {
				t.Fatalf("%s not in its source's list", id)
			}
		}
		if list[e.pos] != e || r.queue[e.qpos] != e || e.blk.list[e.blkPos] != e || r.blocks[e.blk.name] != e.blk {
			t.Fatalf("%s misplaced", id)
		}
		if e.blk.name != AddressBlock(e.rec.Address) || e.gone {
			t.Fatalf("%s in block %s, address %s", id, e.blk.name, e.rec.Address)
		}
		perBlock[e.blk.name]++
	}
	for name, b := range r.blocks {
		if len(b.list) != perBlock[name] || len(b.list) > r.cfg.PerBlock {
			t.Fatalf("block %s: %d listed, %d counted", name, len(b.list), perBlock[name])
		}
	}
	for name, s := range r.sources {
		if len(s.list) != perSource[name] || len(s.list) > r.cfg.NewPerSource {
			t.Fatalf("source %s: %d listed, %d counted", name, len(s.list), perSource[name])
		}
	}
}
