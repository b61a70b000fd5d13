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
	ps.Reachable, ps.OfflineSince = false, now.Add(-2*time.Hour)
	peers[peerID(n)] = ps
}

func TestPlanRepairsOrderAndReport(t *testing.T) {
	p := mustNew(t, testDefaults())
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
	ps.Reachable, ps.OfflineSince = false, now.Add(-time.Minute)
	peers[peerID(32)] = ps
	for _, n := range []int{42, 43, 44} {
		offlinePeer(peers, n, now)
	}
	offlinePeer(peers, 50, now)
	ps = peers[peerID(51)]
	ps.Reachable, ps.OfflineSince = false, now.Add(-time.Minute)
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
	p := mustNew(t, testDefaults())
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
	c := testDefaults()
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
	p := mustNew(t, testDefaults())
	now := t0
	peers := peersUp(0, 40)
	seg := segment(1, 0, 5, 100) // holders 0..4, in blocks a..e
	offlinePeer(peers, 4, now)   // shard 4 lost: block e is free again, peer 4 is not
	cand := func(n int, block string, placeable bool) PeerState {
		ps := upPeer(n)
		ps.Block, ps.Placeable = block, placeable
		return ps
	}
	self := peerID(30)
	cands := []PeerState{
		cand(30, "z", true), // self
		cand(1, "y", true),  // holds shard 1
		cand(4, "x", true),  // held shard 4, lost it
		cand(31, blockOf(0), true),
		cand(32, "w", false),
		cand(33, blockOf(4), true), // the lost holder's block
		cand(34, "v", true),
		cand(35, "v", true), // block v again
		cand(36, "u", true),
	}
	for _, tc := range []struct {
		distinct bool
		need     int
		want     []PeerID
	}{
		{true, 2, []PeerID{peerID(33), peerID(34)}},
		{true, 10, []PeerID{peerID(33), peerID(34), peerID(36)}},
		{false, 10, []PeerID{peerID(31), peerID(33), peerID(34), peerID(35), peerID(36)}},
		{true, 0, nil},
	} {
		got := p.RepairTargets(now, seg, peers, cands, self, tc.distinct, tc.need)
		if !slices.Equal(got, tc.want) {
			t.Errorf("distinct %v, need %d: %v, want %v", tc.distinct, tc.need, got, tc.want)
		}
	}
}

func TestPlanRepairsInputOrder(t *testing.T) {
	// The plan depends on the segments, not on their order.
	p := mustNew(t, testDefaults())
	now := t0.Add(time.Hour)
	peers := peersUp(0, 50)
	for _, n := range []int{3, 7, 11, 19, 23} {
		offlinePeer(peers, n, now)
	}
	var segs []SegmentState
	for i := range 40 {
		seg := segment(i, 0, 5, 1000)
		for j := range seg.Shards {
			seg.Shards[j].Holder = peerID((i*7 + j*3) % 50)
		}
		segs = append(segs, seg)
	}
	ids := func(plan []Repair) (out []SegmentID) {
		for _, r := range plan {
			out = append(out, r.Segment)
		}
		return out
	}
	want, _, _ := p.PlanRepairs(now, segs, peers, Budget{Tokens: 20000}, 0)
	if len(want) == 0 {
		t.Fatal("nothing to repair")
	}
	slices.Reverse(segs)
	got, _, _ := p.PlanRepairs(now, segs, peers, Budget{Tokens: 20000}, 0)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("reversed input: %v, want %v", ids(got), ids(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Margin < got[i-1].Margin {
			t.Fatalf("margin %d after %d", got[i].Margin, got[i-1].Margin)
		}
	}
}

// A policy judges each segment by its own code: a 3-of-5 segment under a
// 10-of-30 policy is repaired at 4 healthy shards and makes indexes below
// 5, a 10-of-30 one at 20; an invalid code falls back to the policy's.
func TestRepairMixedCodes(t *testing.T) {
	c := DefaultsFor(10, 30)
	c.OfflineGrace = time.Hour
	p := mustNew(t, c)
	now := t0.Add(2 * time.Hour)
	peers := map[PeerID]PeerState{}
	for i := range 200 {
		peers[peerID(i)] = upPeer(i)
	}
	drop := func(seg SegmentState, lost ...int) SegmentState {
		for _, i := range lost {
			ps := peers[seg.Shards[i].Holder]
			ps.Reachable, ps.OfflineSince = false, t0
			peers[seg.Shards[i].Holder] = ps
		}
		return seg
	}
	small := segment(1, 0, 5, 1000)
	small.K, small.N = 3, 5
	wide := segment(2, 10, 30, 100)
	wide.K, wide.N = 10, 30
	smallOK := segment(3, 50, 5, 1000)
	smallOK.K, smallOK.N = 3, 5
	wideOK := segment(4, 60, 30, 100)
	wideOK.K, wideOK.N = 10, 30
	bogus := segment(5, 100, 30, 100)
	bogus.K, bogus.N = 7, 300 // not a code: judged as 10 of 30
	segs := []SegmentState{
		drop(small, 1),                  // 4 healthy of 5: at its threshold
		drop(wide, 0, 1, 2, 3, 4, 5, 6), // 23 of 30: above 20
		smallOK,
		drop(wideOK, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9), // 20 of 30: at 20
		drop(bogus, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
	}
	if h := p.Segment(now, segs[0], peers); h.Status != SegmentRepair || h.Healthy != 4 || h.Missing != 1 {
		t.Fatalf("3 of 5 with one lost: %+v", h)
	}
	if h := p.Segment(now, segs[2], peers); h.Status != SegmentOK || h.Missing != 0 {
		t.Fatalf("3 of 5 whole: %+v", h)
	}
	if h := p.Segment(now, segs[1], peers); h.Status != SegmentOK || h.Missing != 7 {
		t.Fatalf("10 of 30 with 7 lost: %+v", h)
	}
	plan, _, rep := p.PlanRepairs(now, segs, peers, Budget{Tokens: 1 << 40}, 0)
	if rep.OK != 2 || len(plan) != 3 {
		t.Fatalf("report %+v, plan %+v", rep, plan)
	}
	got := map[SegmentID]Repair{}
	for _, r := range plan {
		got[r.Segment] = r
	}
	if r := got[small.ID]; !slices.Equal(r.Make, []int{1}) || r.Margin != 1 || r.Bytes != 4*1000 {
		t.Fatalf("3 of 5 repair %+v", r)
	}
	if r := got[wideOK.ID]; len(r.Make) != 10 || r.Make[9] != 9 || r.Margin != 10 || r.Bytes != 20*100 {
		t.Fatalf("10 of 30 repair %+v", r)
	}
	if r := got[bogus.ID]; len(r.Make) != 11 || r.Margin != 9 {
		t.Fatalf("invalid code repair %+v", r)
	}
	if m := p.MissingIndexes(now, segs[0], peers, nil); !slices.Equal(m, []int{1}) {
		t.Fatalf("3 of 5 missing %v", m)
	}
}
