package peers

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"ishtar/meta"
	"ishtar/shard"
)

// benchFull is the registry's size with the default bounds.
const benchFull = DefaultMaxNew + DefaultMaxTried

var benchRecs = sync.OnceValue(func() []shard.NodeRecord {
	recs := make([]shard.NodeRecord, benchFull)
	t := newClock().Now()
	var wg sync.WaitGroup
	per := (len(recs) + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	for lo := 0; lo < len(recs); lo += per {
		wg.Go(func() {
			for i := lo; i < min(lo+per, len(recs)); i++ {
				rec := shard.NodeRecord{Address: fmt.Sprintf("http://10.%d.%d.%d:7070", i/8/256%256, i/8%256, i%8+1),
					Capacity: 4 << 40, Free: 1 << 40, Version: "ishtar/0.9.0", Seq: 1, Time: t.Unix()}
				rec.Sign(key(i))
				recs[i] = rec
			}
		})
	}
	wg.Wait()
	return recs
})

func benchDB(b *testing.B) *meta.DB {
	db, err := meta.Open("mem", meta.InMemory())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// fill puts the first DefaultMaxTried records in "tried" and the rest in
// "new", 512 a source.
func fill(b *testing.B, r *Registry, recs []shard.NodeRecord) {
	for _, rec := range recs[:DefaultMaxTried] {
		if err := r.Verified(rec); err != nil {
			b.Fatal(err)
		}
	}
	rest := recs[DefaultMaxTried:]
	for i := 0; i < len(rest); i += DefaultNewPerSource {
		page := rest[i:min(i+DefaultNewPerSource, len(rest))]
		if added, _ := r.AddAll(page, fmt.Sprintf("198.51.%d.0/24", i/DefaultNewPerSource)); added != len(page) {
			b.Fatalf("added %d of %d", added, len(page))
		}
	}
	if st := r.Stats(); st.New+st.Tried != benchFull {
		b.Fatalf("filled %+v", st)
	}
}

// BenchmarkRegistryMemory: the heap a full registry (100k records, as a
// restarted node loads them from the catalog) holds, per record; ns/op is
// the time to load it.
func BenchmarkRegistryMemory(b *testing.B) {
	recs := benchRecs()
	db := benchDB(b)
	c := newClock()
	cfg := Config{Self: selfKey.Public(), Now: c.Now}
	r, err := Open(cfg, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	fill(b, r, recs)
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	var perRecord float64
	b.ResetTimer()
	for range b.N {
		r, err = Open(cfg, db, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		var live, freed runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&live)
		n := len(r.byID)
		runtime.KeepAlive(r)
		r = nil
		runtime.GC()
		runtime.ReadMemStats(&freed)
		perRecord = float64(live.HeapAlloc-freed.HeapAlloc) / float64(n)
		b.StartTimer()
	}
	b.ReportMetric(perRecord, "bytes/record")
	b.ReportMetric(float64(benchFull), "records")
}

// BenchmarkRegistryAddAll: verifying and merging a page of 1,000 fresh
// signed records into a registry (fresh); the signatures alone
// (verify); the same page replayed (all stale, refused before their
// signatures are checked).
func BenchmarkRegistryAddAll(b *testing.B) {
	const page, pages = 1000, 20
	recs := benchRecs()[:page*pages]
	b.Run("verify", func(b *testing.B) {
		for i := range b.N {
			for _, rec := range recs[i%pages*page:][:page] {
				if err := rec.Verify(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/record")
	})
	for _, replayed := range []bool{false, true} {
		b.Run(map[bool]string{false: "fresh", true: "replayed"}[replayed], func(b *testing.B) {
			var r *Registry
			b.ReportAllocs()
			for i := range b.N {
				p := recs[i%pages*page:][:page]
				if i%pages == 0 || replayed && i == 0 {
					b.StopTimer()
					r = benchRegistry(b, func(c *Config) { c.NewPerSource = page * pages })
					if replayed {
						for j := range pages {
							r.AddAll(recs[j*page:][:page], "seed")
						}
					}
					b.StartTimer()
				}
				added, _ := r.AddAll(p, fmt.Sprint("src", i%pages))
				if want := map[bool]int{false: page, true: 0}[replayed]; added != want {
					b.Fatalf("added %d, want %d", added, want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*page), "ns/record")
		})
	}
}

func benchRegistry(b *testing.B, mod func(*Config)) *Registry {
	c := newClock()
	cfg := Config{Self: selfKey.Public(), Now: c.Now}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Open(cfg, benchDB(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkRegistryChangesNothingNew: an exchange whose cursor is up to
// date, against a full tried table.
func BenchmarkRegistryChangesNothingNew(b *testing.B) {
	r := benchRegistry(b, nil)
	for _, rec := range benchRecs()[:DefaultMaxTried] {
		if err := r.Verified(rec); err != nil {
			b.Fatal(err)
		}
	}
	_, next, _ := r.Changes(0, 1<<30)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if recs, _, _ := r.Changes(next, 1000); len(recs) != 0 {
			b.Fatal("something new")
		}
	}
}

// BenchmarkRegistryPeers: the placement view of a full tried table
// (ranking every block) and a batch of challenges handed out.
func BenchmarkRegistryPeers(b *testing.B) {
	c := newClock()
	r := benchRegistry(b, func(cfg *Config) { cfg.Now = c.Now })
	fill(b, r, benchRecs())
	b.Run("Peers", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if len(r.Peers()) != DefaultMaxTried {
				b.Fatal("peers")
			}
		}
	})
	b.Run("DueForChallenge", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if len(r.DueForChallenge(16)) == 0 {
				c.Add(challengeHold)
			}
		}
	})
	b.Run("Contact", func(b *testing.B) {
		b.ReportAllocs()
		recs := benchRecs()
		for i := range b.N {
			r.Contact(recs[i%len(recs)].Node, i%4 != 0)
		}
	})
}
