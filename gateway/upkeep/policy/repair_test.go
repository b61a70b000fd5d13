package policy

import (
	"slices"
	"testing"
	"time"
)

// fleet returns segments of 5 shards on peers 0..; the holders of the
// shards listed in lost (segment, index) are offline past the grace.
func offlinePeer(peers map[PeerID]PeerState, n int, now time.Time) {
	ps := peers[peerID(n)]
	ps.Reachable, ps.LastSeen = false, now.Add(-2*time.Hour)
	peers[peerID(n)] = ps
}

func TestPlanRepairsOrderAndReport(t *testing.T) {
	p := mustNew(t, Defaults())
	now := t0.Add(time.Hour)
	peers := peersUp(0, 100)
	var segs []SegmentState
	// seg 0: healthy. seg 1: one lost (margin 1). seg 2: two lost (margin
	// 0). seg 3: two lost, one away (readable 2: waiting). seg 4: three
	// lost (unrecoverable). seg 5: one lost, one away (margin 1, readable 3).
	for i := range 6 {
		segs = append(segs, segment(i, i*10, 5, 1000))
	}
	offlinePeer(peers, 14, now)
	offlinePeer(peers, 23, now)
	offlinePeer(peers, 24, now)
	offlinePeer(peers, 33, now)
	offlinePeer(peers, 34, now)
	ps := peers[peerID(32)]
	ps.Reachable, ps.LastSeen = false, now.Add(-time.Minute)
	peers[peerID(32)] = ps
	for _, n := range []int{42, 43, 44} {
		offlinePeer(peers, n, now)
	}
	offlinePeer(peers, 50, now)
	ps = peers[peerID(51)]
	ps.Reachable, ps.LastSeen = false, now.Add(-time.Minute)
	peers[peerID(51)] = ps

	plan, b, rep := p.PlanRepairs(now, segs, peers, Budget{Tokens: 1e9}, 0)
	var order []SegmentID
	for _, r := range plan {
		order = append(order, r.Segment)
	}
	want := []SegmentID{segID(2), segID(5), segID(1)}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if got := plan[0]; !slices.Equal(got.Make, []int{3, 4}) || got.Margin != 0 || got.Bytes != 5*1000 || got.Pos != 2 {
		t.Errorf("plan[0] %+v", got)
	}
	if got := plan[1]; !slices.Equal(got.Make, []int{0}) || got.Margin != 1 || got.Bytes != 4*1000 {
		t.Errorf("plan[1] %+v", got)
	}
	if got := plan[2]; !slices.Equal(got.Make, []int{4}) {
		t.Errorf("plan[2] %+v", got)
	}
	if b.Tokens >= 1e9 {
		t.Errorf("budget not charged: %v", b.Tokens)
	}
	wantRep := RepairReport{Segments: 6, OK: 1, Planned: 3, Waiting: []SegmentID{segID(3), segID(4)}, Unrecoverable: 1}
	if rep.Segments != wantRep.Segments || rep.OK != wantRep.OK || rep.Planned != wantRep.Planned ||
		rep.Deferred != 0 || !slices.Equal(rep.Waiting, wantRep.Waiting) || rep.Unrecoverable != 1 {
		t.Errorf("report %+v, want %+v", rep, wantRep)
	}
}

func TestPlanRepairsFewerThanK(t *testing.T) {
	// Fewer than K readable: no repair attempted, the segment reported,
	// and no budget spent on it.
	p := mustNew(t, Defaults())
	now := t0.Add(time.Hour)
	peers := peersUp(0, 5)
	for _, n := range []int{2, 3, 4} {
		offlinePeer(peers, n, now)
	}
	plan, b, rep := p.PlanRepairs(now, []SegmentState{segment(7, 0, 5, 1000)}, peers, Budget{Tokens: 100}, 0)
	if len(plan) != 0 || b.Tokens != 100 || len(rep.Waiting) != 1 || rep.Waiting[0] != segID(7) || rep.Unrecoverable != 1 {
		t.Fatalf("plan %v, budget %v, report %+v", plan, b, rep)
	}
	// One holder comes back: K readable, the repair goes ahead.
	peers[peerID(2)] = upPeer(2)
	plan, _, rep = p.PlanRepairs(now, []SegmentState{segment(7, 0, 5, 1000)}, peers, Budget{Tokens: 100}, 0)
	if len(plan) != 1 || !slices.Equal(plan[0].Make, []int{3, 4}) || len(rep.Waiting) != 0 {
		t.Fatalf("plan %+v, report %+v", plan, rep)
	}
}

func TestPlanRepairsBudget(t *testing.T) {
	c := Defaults()
	c.RepairBytesPerSecond = 1000
	c.BurstWindow = 100 * time.Second // burst 100,000 bytes
	p := mustNew(t, c)
	now := t0.Add(time.Hour)
	peers := peersUp(0, 100)
	var segs []SegmentState
	for i := range 10 {
		segs = append(segs, segment(i, i*10, 4, 10000)) // each costs 4 x 10000
	}
	for _, tc := range []struct {
		start   Budget
		elapsed time.Duration
		planned int
		left    float64
	}{
		{Budget{}, 0, 0, 0},
		{Budget{}, time.Second, 1, 1000 - 40000},       // spends while positive: one overdraws
		{Budget{Tokens: -5000}, 5 * time.Second, 0, 0}, // a debt is repaid first
		{Budget{}, 40 * time.Second, 1, 0},             // exactly one
		{Budget{}, 41 * time.Second, 2, 41000 - 80000}, // one, then a second overdraws
		{Budget{}, time.Hour, 3, 100000 - 3*40000},     // capped at the burst
		{Budget{Tokens: 1e9}, 0, 3, 100000 - 3*40000},  // over the burst is capped too
		{Budget{Tokens: 1e6}, -time.Hour, 3, -20000},   // negative elapsed adds nothing
	} {
		plan, b, rep := p.PlanRepairs(now, segs, peers, tc.start, tc.elapsed)
		if len(plan) != tc.planned || b.Tokens != tc.left || rep.Deferred != 10-tc.planned {
			t.Errorf("start %v, elapsed %v: planned %d (deferred %d), left %v; want %d, %v",
				tc.start, tc.elapsed, len(plan), rep.Deferred, b.Tokens, tc.planned, tc.left)
		}
	}
}

func TestRepairTargets(t *testing.T) {
	p := mustNew(t, Defaults())
	now := t0
	peers := peersUp(0, 40)
	seg := segment(1, 0, 5, 100) // holders 0..4, blocks a..e
	offlinePeer(peers, 4, now)   // lost: its block is free again, itself excluded
	cand := func(n int, f func(*PeerState)) PeerState {
		ps := upPeer(n)
		if f != nil {
			f(&ps)
		}
		return ps
	}
	self := peerID(30)
	cands := []PeerState{
		cand(30, nil), // self
		cand(1, nil),  // a holder
		cand(4, nil),  // the holder that lost one
		cand(26, nil), // block a, as holder 0
		cand(5, func(ps *PeerState) { ps.Placeable = false }),
		cand(30+4, nil), // block e, free since 4 is lost: ok (34%26=8: block i)
		cand(6, nil),    // block g: ok
		cand(32, nil),   // block g again: skipped with distinct blocks
		cand(7, nil),
	}
	got := p.RepairTargets(now, seg, peers, cands, self, true, 2)
	if want := []PeerID{peerID(34), peerID(6)}; !slices.Equal(got, want) {
		t.Fatalf("distinct blocks: %v, want %v", got, want)
	}
	got = p.RepairTargets(now, seg, peers, cands, self, true, 10)
	if want := []PeerID{peerID(34), peerID(6), peerID(7)}; !slices.Equal(got, want) {
		t.Fatalf("distinct blocks, want 10: %v, want %v", got, want)
	}
	got = p.RepairTargets(now, seg, peers, cands, self, false, 10)
	if want := []PeerID{peerID(26), peerID(34), peerID(6), peerID(32), peerID(7)}; !slices.Equal(got, want) {
		t.Fatalf("any blocks: %v, want %v", got, want)
	}
	if got := p.RepairTargets(now, seg, peers, cands, self, true, 0); got != nil {
		t.Fatalf("need 0: %v", got)
	}
}
