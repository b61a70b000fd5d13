package peers

import (
	"fmt"
	"testing"
	"time"

	"ishtar/shard"
)

// The per-source, per-block and total bounds of "new".
func TestBounds(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   func(*Config)
		add   func(i int) (addr, src string) // the i-th record, i from 0
		n     int
		kept  int
		why   Reason
		other func(f *fixture) error // must still be accepted after
	}{
		{"per source", func(c *Config) { c.NewPerSource = 5 },
			func(i int) (string, string) { return addrIn(i, 1), "flood" }, 9, 5, SourceFull,
			func(f *fixture) error { return f.r.Add(signed(100, addrIn(100, 1), 1, f.c.Now()), "other") }},
		{"per block", func(c *Config) { c.PerBlock = 3 },
			func(i int) (string, string) { return addrIn(7, i), fmt.Sprint("src", i) }, 6, 3, BlockFull,
			func(f *fixture) error { return f.r.Add(signed(100, addrIn(8, 1), 1, f.c.Now()), "src1") }},
		{"per host name block", func(c *Config) { c.PerBlock = 2 },
			func(i int) (string, string) {
				return fmt.Sprintf("https://Sybil.example:%d", 7000+i), fmt.Sprint("src", i)
			}, 4, 2, BlockFull,
			func(f *fixture) error { return f.r.Add(signed(100, "https://honest.example", 1, f.c.Now()), "src1") }},
		{"total", func(c *Config) { c.MaxNew = 4 },
			func(i int) (string, string) { return addrIn(i, 1), fmt.Sprint("src", i) }, 7, 4, NewFull,
			func(f *fixture) error { return f.r.Verified(signed(100, addrIn(100, 1), 1, f.c.Now())) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := open(t, c.cfg)
			kept := 0
			for i := range c.n {
				addr, src := c.add(i)
				err := f.r.Add(signed(i+2, addr, 1, f.c.Now()), src)
				switch {
				case err == nil:
					kept++
				case reasonOf(err) != c.why:
					t.Fatalf("record %d: %v, want %s", i, err, c.why)
				}
			}
			if kept != c.kept || f.r.Stats().Refused[c.why.String()] != int64(c.n-c.kept) {
				t.Fatalf("kept %d, want %d; %+v", kept, c.kept, f.r.Stats())
			}
			if err := c.other(f); err != nil {
				t.Fatalf("another record: %v", err)
			}
		})
	}
}

// A source at its quota replaces only its own terrible entries: expired,
// or never answering.
func TestSourceReplacesOwnTerrible(t *testing.T) {
	f := open(t, func(c *Config) { c.NewPerSource = 3; c.TTL = time.Hour })
	f.add(2, addrIn(2, 1), "a")
	f.c.Add(30 * time.Minute)
	f.add(3, addrIn(3, 1), "a")
	f.add(4, addrIn(4, 1), "a")
	f.add(10, addrIn(10, 1), "b")
	if err := f.r.Add(signed(5, addrIn(5, 1), 1, f.c.Now()), "a"); reasonOf(err) != SourceFull {
		t.Fatalf("over quota: %v", err)
	}
	// Node 3 never answers: 3 failed contacts, the last over a minute ago.
	for range 3 {
		f.r.Contact(id(3), false)
		f.c.Add(2 * time.Hour / 60)
	}
	if err := f.r.Add(signed(5, addrIn(5, 1), 1, f.c.Now()), "a"); err != nil {
		t.Fatalf("in place of a dead entry: %v", err)
	}
	if f.known(3) || !f.known(5) {
		t.Fatal("node 3 was not the one replaced")
	}
	// Node 2's record expires: replaceable too.
	f.c.Add(30 * time.Minute)
	if err := f.r.Add(signed(6, addrIn(6, 1), 1, f.c.Now()), "a"); err != nil || f.known(2) {
		t.Fatalf("in place of an expired entry: %v", err)
	}
	if !f.known(10) {
		t.Fatal("another source's entry was replaced")
	}
	f.check()
}

// A flood of fresh records from one source, and from many sources, can
// neither evict tried peers nor other sources' new entries.
func TestFloodKeepsOthers(t *testing.T) {
	f := open(t, func(c *Config) { c.MaxNew = 40; c.MaxTried = 8; c.NewPerSource = 10 })
	var keep []int
	for i := range 8 {
		f.tried(1000+i, addrIn(1000+i, 1))
		keep = append(keep, 1000+i)
	}
	for i := range 5 {
		f.add(2000+i, addrIn(2000+i, 1), "honest")
		keep = append(keep, 2000+i)
	}
	flood := func(n0, n int, src func(i int) string) {
		page := make([]shard.NodeRecord, 0, 50)
		for i := range n {
			page = append(page, signed(n0+i, addrIn(n0+i, 1), 1, f.c.Now()))
			if len(page) == cap(page) || i == n-1 {
				f.r.AddAll(page, src(i))
				page = page[:0]
			}
		}
	}
	flood(10000, 300, func(int) string { return "attacker" })
	if st := f.r.Stats(); st.New != 15 || st.Tried != 8 {
		t.Fatalf("after a one-source flood: %+v", st)
	}
	// Many sources fill "new", never pushing anyone out.
	flood(20000, 500, func(i int) string { return fmt.Sprint("sybil", i/50) })
	if st := f.r.Stats(); st.New != 40 || st.Tried != 8 {
		t.Fatalf("after a many-source flood: %+v", st)
	}
	// Even a flood of verified (answering) sybils leaves protected tried
	// peers in place.
	for i := range 50 {
		if err := f.r.Verified(signed(30000+i, addrIn(30000+i, 1), 1, f.c.Now())); reasonOf(err) != TriedFull {
			t.Fatalf("verified sybil %d: %v", i, err)
		}
	}
	for _, i := range keep {
		if !f.known(i) {
			t.Fatalf("node %d was pushed out", i)
		}
	}
	if st := f.r.Stats(); st.Tried != 8 || st.Refused["tried_full"] != 50 {
		t.Fatalf("%+v", st)
	}
	f.check()
}

// When "tried" is full a verified newcomer evicts the worst unprotected
// entry, back to "new"; an entry with a long good history stays even
// when it has not answered for days.
func TestTriedEviction(t *testing.T) {
	f := open(t, func(c *Config) { c.MaxTried = 3 })
	for i := 2; i <= 4; i++ {
		f.tried(i, addrIn(i, 1))
	}
	f.goodHistory(2, 20) // long good history
	f.goodHistory(3, 2)  // short
	f.goodHistory(4, 2)
	f.r.Contact(id(4), false) // 4 also failing
	f.c.Add(5 * time.Hour)    // nobody answered lately
	for _, i := range []int{2, 3, 4} {
		if err := f.r.Add(signed(i, addrIn(i, 1), 2, f.c.Now()), "x"); err != nil {
			t.Fatal(err) // fresh records keep them unexpired
		}
	}
	if err := f.r.Verified(signed(5, addrIn(5, 1), 1, f.c.Now())); err != nil {
		t.Fatal(err)
	}
	if p := f.get(4); p.Tried || p.Successes != 3 {
		t.Fatalf("the worst was not evicted to new: %+v", p)
	}
	if err := f.r.Verified(signed(6, addrIn(6, 1), 1, f.c.Now())); err != nil {
		t.Fatal(err)
	}
	if p := f.get(3); p.Tried {
		t.Fatalf("3 still tried: %+v", p)
	}
	// 2 (long history), 5 and 6 (answered just now) are protected.
	if err := f.r.Verified(signed(7, addrIn(7, 1), 1, f.c.Now())); reasonOf(err) != TriedFull || f.known(7) {
		t.Fatalf("newcomer with all protected: %v", err)
	}
	// A known new entry that answers stays in "new" with its success.
	if err := f.r.Verified(signed(4, addrIn(4, 1), 2, f.c.Now())); reasonOf(err) != TriedFull {
		t.Fatalf("%v", err)
	}
	if p := f.get(4); p.Tried || p.Successes != 4 || p.RetryAt != (time.Time{}) {
		t.Fatalf("4: %+v", p)
	}
	f.c.Add(recentSuccess + time.Second)
	if err := f.r.Verified(signed(4, addrIn(4, 1), 2, f.c.Now())); err != nil {
		t.Fatalf("once the newcomers are not recent: %v", err)
	}
	if p := f.get(2); !p.Tried {
		t.Fatal("the long good history was evicted")
	}
	// A tried entry evicted when "new" has no room for it goes away.
	g := open(t, func(c *Config) { c.MaxTried = 1; c.MaxNew = 1 })
	g.tried(2, addrIn(2, 1))
	g.add(3, addrIn(3, 1), "s")
	g.c.Add(5 * time.Hour)
	g.r.Add(signed(2, addrIn(2, 1), 2, g.c.Now()), "s")
	if err := g.r.Verified(signed(3, addrIn(3, 1), 2, g.c.Now())); err != nil {
		t.Fatal(err)
	}
	if g.known(2) || !g.get(3).Tried {
		t.Fatal("eviction with no room in new")
	}
	f.check()
	g.check()
}

// Only the best PlaceablePerBlock tried entries of a block are placeable;
// one in back-off makes room for the next.
func TestPlaceablePerBlock(t *testing.T) {
	for _, k := range []int{4, -1} {
		f := open(t, func(c *Config) { c.PlaceablePerBlock = k })
		for i := range 6 {
			f.tried(10+i, addrIn(9, i))
			f.goodHistory(10+i, 1+i) // 15 is the best
		}
		f.tried(30, addrIn(30, 1)) // alone in its block
		placeable := func() map[int]bool {
			m := map[int]bool{}
			for _, p := range f.r.Peers() {
				for i := 10; i <= 30; i++ {
					if p.Record.Node == id(i) && p.Placeable {
						m[i] = true
					}
				}
			}
			return m
		}
		got := placeable()
		if k < 0 {
			if len(got) != 7 || f.r.Stats().Placeable != 7 {
				t.Fatalf("no limit: %v", got)
			}
			continue
		}
		if len(got) != 5 || !got[30] || got[10] || got[11] || !got[15] || f.r.Stats().Placeable != 5 {
			t.Fatalf("placeable %v", got)
		}
		if p := f.get(10); p.Why != "better peers in its address block" {
			t.Fatalf("why: %q", p.Why)
		}
		f.r.Contact(id(15), false)
		if got := placeable(); got[15] || !got[11] || len(got) != 5 {
			t.Fatalf("with 15 in back-off: %v", got)
		}
		if p := f.get(15); p.Why != "not answering" {
			t.Fatalf("why: %q", p.Why)
		}
	}
}

// A peer that offers no space (a tracker) is verified and handed out but
// never placeable, and takes no placeable slot of its block.
func TestNoSpaceNotPlaceable(t *testing.T) {
	f := open(t, func(c *Config) { c.PlaceablePerBlock = 1 })
	rec := shard.NodeRecord{Address: addrIn(5, 1), Version: "test", Seq: 1, Time: f.c.Now().Unix()}
	rec.Sign(key(50))
	if err := f.r.Verified(rec); err != nil {
		t.Fatal(err)
	}
	f.goodHistory(50, 30)
	f.tried(51, addrIn(5, 2))
	if p := f.get(50); p.Placeable || p.Why != "offers no space" || !p.Tried {
		t.Fatalf("tracker: %+v", p)
	}
	if p := f.get(51); !p.Placeable {
		t.Fatalf("the other peer of the block: %+v", p)
	}
	if recs, _, _ := f.r.Changes(0, 10); len(recs) != 2 {
		t.Fatalf("handed out %d records", len(recs))
	}
}
