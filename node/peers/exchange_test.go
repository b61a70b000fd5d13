package peers

import (
	"testing"
	"time"

	"ishtar/shard"
)

func nodes(recs []shard.NodeRecord) map[shard.PublicKey]uint64 {
	m := map[shard.PublicKey]uint64{}
	for _, r := range recs {
		m[r.Node] = r.Seq
	}
	return m
}

// Changes hands out tried, verified, unexpired records changed after the
// cursor, in change order, a page at a time; with nothing new, nothing,
// without allocating.
func TestChanges(t *testing.T) {
	f := open(t, nil)
	f.add(2, addrIn(2, 1), "s") // new: never exchanged
	for i := 3; i <= 7; i++ {
		f.tried(i, addrIn(i, 1))
	}
	recs, next, more := f.r.Changes(0, 3)
	if len(recs) != 3 || !more || recs[0].Node != id(3) || recs[2].Node != id(5) {
		t.Fatalf("first page: %d %v %v", len(recs), next, more)
	}
	recs, next, more = f.r.Changes(next, 3)
	if len(recs) != 2 || more || recs[0].Node != id(6) || recs[1].Node != id(7) {
		t.Fatalf("second page: %d %v %v", len(recs), next, more)
	}
	if recs, n2, more := f.r.Changes(next, 3); len(recs) != 0 || more || n2 != next {
		t.Fatalf("nothing new: %d %v %v", len(recs), n2, more)
	}
	// A tried peer verified again with the same record is no change.
	f.r.Verified(signed(3, addrIn(3, 1), 1, f.c.Now()))
	if recs, n2, _ := f.r.Changes(next, 3); len(recs) != 0 || n2 != next {
		t.Fatalf("the same record again: %d %v", len(recs), n2)
	}
	if a := testing.AllocsPerRun(100, func() { f.r.Changes(next, 100) }); a != 0 {
		t.Fatalf("Changes with nothing new allocates %v times", a)
	}
	// Changes of new entries and history do not show; a newer record of a
	// tried peer does, once, at its new place in the order.
	f.add(8, addrIn(8, 1), "s")
	f.r.Contact(id(4), false)
	f.r.Lied(id(5))
	if recs, _, _ := f.r.Changes(next, 10); len(recs) != 0 {
		t.Fatalf("non-changes exchanged: %v", nodes(recs))
	}
	f.r.Add(signed(4, addrIn(4, 1), 9, f.c.Now()), "s")
	f.r.Add(signed(3, addrIn(3, 1), 9, f.c.Now()), "s")
	recs, next2, _ := f.r.Changes(next, 10)
	if len(recs) != 2 || recs[0].Node != id(4) || recs[0].Seq != 9 || recs[1].Node != id(3) {
		t.Fatalf("updates: %v", nodes(recs))
	}
	// A new entry verified shows; a tried one that moved does not until
	// its new address is verified.
	f.r.Verified(signed(2, addrIn(2, 1), 1, f.c.Now()))
	moved := signed(6, addrIn(60, 1), 2, f.c.Now())
	f.r.Add(moved, "s")
	if recs, _, _ := f.r.Changes(next2, 10); len(recs) != 1 || recs[0].Node != id(2) {
		t.Fatalf("verified and moved: %v", nodes(recs))
	}
	f.r.Verified(moved)
	if recs, _, _ := f.r.Changes(next2, 10); len(recs) != 2 || recs[1].Node != id(6) {
		t.Fatalf("moved and verified: %v", nodes(recs))
	}
	// Everything from scratch: each tried node once, newest record.
	all, _, _ := f.r.Changes(0, 100)
	if m := nodes(all); len(all) != 6 || len(m) != 6 || m[id(6)] != 2 || m[id(4)] != 9 {
		t.Fatalf("from scratch: %v", m)
	}
	// A cursor ahead of every change (the registry was reset) starts over.
	if recs, _, _ := f.r.Changes(1<<40, 100); len(recs) != 6 {
		t.Fatalf("future cursor: %d", len(recs))
	}
	if recs, n, more := f.r.Changes(0, 0); len(recs) != 0 || n != 0 || !more {
		t.Fatalf("limit 0: %d %d %v", len(recs), n, more)
	}
}

// Many updates of few peers keep the feed compact.
func TestChangesFeedBounded(t *testing.T) {
	f := open(t, nil)
	for i := range 10 {
		f.tried(10+i, addrIn(10+i, 1))
	}
	for s := range 1500 {
		i := 10 + s%10
		f.r.Add(signed(i, addrIn(i, 1), uint64(s+2), f.c.Now()), "s")
	}
	f.r.mu.Lock()
	n := len(f.r.feed)
	f.r.mu.Unlock()
	if n > 2*10+1024+1 {
		t.Fatalf("feed of %d changes for 10 peers", n)
	}
	if all, _, _ := f.r.Changes(0, 100); len(all) != 10 {
		t.Fatalf("%d records", len(all))
	}
}

// DueForChallenge: new entries oldest first, not in back-off, each handed
// out once a minute; healthy tried entries once their record is half
// through its life.
func TestDueForChallenge(t *testing.T) {
	f := open(t, nil)
	f.tried(9, addrIn(9, 1))
	for i := 2; i <= 5; i++ {
		f.add(i, addrIn(i, 1), "s")
		f.c.Add(time.Second)
	}
	f.r.Contact(id(3), false) // in back-off
	due := f.r.DueForChallenge(2)
	if len(due) != 2 || due[0].Node != id(2) || due[1].Node != id(4) {
		t.Fatalf("first: %v", due)
	}
	if due := f.r.DueForChallenge(10); len(due) != 1 || due[0].Node != id(5) {
		t.Fatalf("next: %v", due)
	}
	if due := f.r.DueForChallenge(10); len(due) != 0 {
		t.Fatalf("handed out twice: %v", due)
	}
	f.c.Add(challengeHold)
	// In the order they became due: 3's back-off ended first.
	if due := f.r.DueForChallenge(10); len(due) != 4 || due[0].Node != id(3) || due[1].Node != id(2) || due[3].Node != id(5) {
		t.Fatalf("after the hold and the back-off: %v", nodes(due))
	}
	f.r.Verified(signed(2, addrIn(2, 1), 2, f.c.Now()))
	f.c.Add(12*time.Hour - 30*time.Second) // 9 was signed a minute earlier
	got := nodes(f.r.DueForChallenge(10))
	if len(got) != 4 || got[id(9)] != 1 {
		t.Fatalf("half a day on: %v", got)
	}
	if _, ok := got[id(2)]; ok {
		t.Fatal("a peer verified with a fresh record is due again")
	}
}

// Sample returns distinct tried peers that are usable now.
func TestSample(t *testing.T) {
	f := open(t, nil)
	for i := range 40 {
		f.tried(10+i, addrIn(10+i, 1))
	}
	f.add(2, addrIn(2, 1), "s")
	for i := range 20 {
		f.r.Contact(id(10+i), false)
	}
	for _, n := range []int{1, 5, 19, 20, 100} {
		s := f.r.Sample(n)
		seen := map[shard.PublicKey]bool{}
		for _, p := range s {
			if seen[p.Record.Node] || !p.Tried || !p.RetryAt.IsZero() {
				t.Fatalf("sample %d: %+v", n, p)
			}
			seen[p.Record.Node] = true
		}
		if len(s) != min(n, 20) {
			t.Fatalf("Sample(%d) = %d peers", n, len(s))
		}
	}
	if s := f.r.Sample(0); s != nil {
		t.Fatal("Sample(0)")
	}
}
