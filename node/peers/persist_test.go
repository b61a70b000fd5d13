package peers

import (
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// A restarted registry has its tables, history and change cursor back:
// it needs no bootstrap.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	f := openOn(t, db, c, func(c *Config) { c.NewPerSource = 2 })
	f.add(2, addrIn(2, 1), "a")
	f.add(3, addrIn(3, 1), "a")
	f.tried(4, addrIn(4, 1))
	f.tried(5, addrIn(5, 1))
	f.goodHistory(4, 10)
	f.r.Contact(id(5), false)
	f.r.Lied(id(5))
	f.r.Add(signed(5, addrIn(6, 1), 2, c.Now()), "b") // moved
	_, cursor, _ := f.r.Changes(0, 100)
	before := map[shard.PublicKey]Peer{}
	for _, p := range f.r.All() {
		before[p.Record.Node] = p
	}
	if err := f.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Add(signed(7, addrIn(7, 1), 1, c.Now()), "a"); err != ErrClosed {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := openOn(t, db, c, func(c *Config) { c.NewPerSource = 2 })
	after := g.r.All()
	if len(after) != len(before) {
		t.Fatalf("%d entries, want %d", len(after), len(before))
	}
	if p := before[id(5)]; p.DownSince.IsZero() {
		t.Fatalf("a failing peer has no DownSince: %+v", p)
	}
	for _, p := range after {
		b := before[p.Record.Node]
		if p.Tried != b.Tried || p.Placeable != b.Placeable || p.Why != b.Why || p.Source != b.Source ||
			p.Tries != b.Tries || p.Successes != b.Successes || p.Failures != b.Failures ||
			!p.RetryAt.Equal(b.RetryAt) || !p.LastSeen.Equal(b.LastSeen) || !p.DownSince.Equal(b.DownSince) || p.Uptime != b.Uptime ||
			p.Reputation != b.Reputation || p.Record.Seq != b.Record.Seq || string(p.Record.Sig) != string(b.Record.Sig) {
			t.Errorf("restored %+v\n want %+v", p, b)
		}
	}
	if recs, next, _ := g.r.Changes(cursor, 100); len(recs) != 0 || next != cursor {
		t.Fatalf("the cursor lost its place: %d records, next %d (was %d)", len(recs), next, cursor)
	}
	// Bounds hold across the restart: source a is at its quota.
	if err := g.r.Add(signed(7, addrIn(7, 1), 1, c.Now()), "a"); reasonOf(err) != SourceFull {
		t.Fatalf("source quota after restart: %v", err)
	}
	// New changes number on from the persisted counter.
	g.r.Add(signed(4, addrIn(4, 1), 2, c.Now()), "a")
	if recs, next, _ := g.r.Changes(cursor, 100); len(recs) != 1 || next <= cursor {
		t.Fatalf("after a change: %d records, next %d", len(recs), next)
	}
}

// Records and table moves are written through: a registry that was
// never closed (a crash) loses history since the last Flush only.
func TestWriteThrough(t *testing.T) {
	f := open(t, nil)
	f.add(2, addrIn(2, 1), "a")
	f.tried(3, addrIn(3, 1))
	f.r.Contact(id(3), true)
	if err := f.r.Flush(); err != nil {
		t.Fatal(err)
	}
	f.r.Contact(id(3), true) // not flushed
	g := openOn(t, f.db, f.c, nil)
	if p := g.get(3); !p.Tried || p.Successes != 2 || g.get(2).Tried {
		t.Fatalf("after a crash: %+v", p)
	}
}

// A catalog written before the registry (meta.Peer v1, v2, kept by
// node's peer table) loads into "new"; what is expired, malformed, this
// node's or over today's bounds is deleted.
func TestLoadLegacy(t *testing.T) {
	db, err := meta.Open("mem", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := newClock()
	now := c.Now()
	legacy := func(rec shard.NodeRecord, version byte, source string) {
		raw, _ := json.Marshal(rec)
		v := []byte{version}
		v = binary.AppendUvarint(v, rec.Seq)
		v = binary.AppendVarint(v, now.UnixNano())
		v = binary.AppendUvarint(v, uint64(len(raw)))
		v = append(v, raw...)
		if version >= 2 {
			v = binary.AppendUvarint(v, uint64(len(source)))
			v = append(v, source...)
		}
		if err := db.Set(append([]byte{'p'}, rec.Node[:]...), v); err != nil {
			t.Fatal(err)
		}
	}
	legacy(signed(2, addrIn(2, 1), 3, now), 1, "")
	legacy(signed(3, addrIn(3, 1), 1, now), 2, "src")
	legacy(signed(4, addrIn(3, 2), 1, now), 2, "src")                 // over PerBlock 2? no: 2 in block 3
	legacy(signed(5, addrIn(3, 3), 1, now), 2, "other")               // third in block 3: dropped
	legacy(signed(6, addrIn(6, 1), 1, now.Add(-25*time.Hour)), 2, "") // expired
	legacy(signed(7, "not a url", 1, now), 2, "")                     // malformed
	self := shard.NodeRecord{Address: addrIn(8, 1), Seq: 1, Time: now.Unix()}
	self.Sign(selfKey)
	legacy(self, 2, "")
	if err := db.Set(append([]byte{'p'}, make([]byte, 32)...), []byte{9, 9}); err != nil { // corrupt
		t.Fatal(err)
	}
	f := openOn(t, db, c, func(c *Config) { c.PerBlock = 2 })
	st := f.r.Stats()
	if st.New != 3 || st.Tried != 0 {
		t.Fatalf("loaded %+v", st)
	}
	if p := f.get(3); p.Source != "src" || p.Tried || p.Record.Seq != 1 {
		t.Fatalf("v2: %+v", p)
	}
	if p := f.get(2); p.Source != "" || p.Record.Seq != 3 {
		t.Fatalf("v1: %+v", p)
	}
	if due := f.r.DueForChallenge(10); len(due) != 3 {
		t.Fatalf("legacy records are due for a challenge: %d", len(due))
	}
	n := 0
	db.EachPeer(func(p meta.Peer, err error) error {
		n++
		if err != nil {
			t.Errorf("left behind: %v", err)
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("%d values left in the catalog, want 3", n)
	}
}

// Loading applies today's bounds: tried entries over MaxTried go to
// "new", the best history kept tried.
func TestLoadShrunk(t *testing.T) {
	f := open(t, nil)
	for i := range 5 {
		f.tried(10+i, addrIn(10+i, 1))
		f.goodHistory(10+i, 1+i)
	}
	f.r.Close()
	g := openOn(t, f.db, f.c, func(c *Config) { c.MaxTried = 2; c.MaxNew = 2 })
	if st := g.r.Stats(); st.Tried != 2 || st.New != 2 {
		t.Fatalf("%+v", st)
	}
	if !g.get(14).Tried || !g.get(13).Tried || g.known(10) {
		t.Fatal("the best histories were not the ones kept tried")
	}
	g.check()
}
