package policy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"ishtar/shard"
)

const day = 24 * time.Hour

func TestAuditCost(t *testing.T) {
	p := mustNew(t, testDefaults())
	for _, tc := range []struct {
		size int64
		want int64
	}{
		{0, 1024},
		{1, 1 + 1024},
		{64 << 10, 64<<10 + 1024},
		{64<<10 + 1, 64<<10 + 32 + 1024},
		{1 << 20, 64<<10 + 4*32 + 1024},
		{1<<20 + 1, 64<<10 + 5*32 + 1024},
	} {
		if got := p.AuditCost(tc.size); got != tc.want {
			t.Errorf("AuditCost(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

func auditFleet(n int, size int64) ([]ShardState, map[PeerID]PeerState) {
	shards := make([]ShardState, n)
	for i := range shards {
		shards[i] = ShardState{ID: shardID(i), Index: i % 5, Holder: peerID(i % 10), Size: size, LastAudit: t0}
	}
	return shards, peersUp(0, 10)
}

func TestChooseAuditsDue(t *testing.T) {
	p := mustNew(t, testDefaults())
	now := t0.Add(20 * day)
	shards, peers := auditFleet(12, 1<<20)
	// 0: audited recently, not due. 1: due 6 days ago. 2: due 1 day ago.
	// 3: re-check due. 4: re-check not due yet. 5: never audited.
	// 6: lost (two failures). 7: holder away. 8: holder suspect, audited 5
	// days ago. 9: not held. 10: lease expired. 11: due 6 days ago too.
	shards[0].LastAudit = now.Add(-day)
	shards[1].LastAudit = now.Add(-20 * day)
	shards[2].LastAudit = now.Add(-15 * day)
	shards[3].LastAudit, shards[3].AuditFailures, shards[3].RecheckAt = now.Add(-time.Hour), 1, now.Add(-time.Minute)
	shards[4].LastAudit, shards[4].AuditFailures, shards[4].RecheckAt = now.Add(-30*day), 1, now.Add(time.Minute)
	shards[5].LastAudit = time.Time{}
	shards[6].LastAudit, shards[6].AuditFailures = now.Add(-30*day), 2
	shards[7].LastAudit = now.Add(-30 * day)
	shards[8].LastAudit = now.Add(-5 * day)
	shards[9].LastAudit, shards[9].NotHeld = now.Add(-30*day), true
	shards[10].LastAudit, shards[10].LeaseExpiry = now.Add(-30*day), now
	shards[11].LastAudit = now.Add(-20 * day)
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11} {
		shards[i].Holder = peerID(0)
	}
	shards[8].Holder = peerID(8)
	shards[7].Holder = peerID(7)
	away := peers[peerID(7)]
	away.Reachable, away.OfflineSince = false, now.Add(-time.Minute)
	peers[peerID(7)] = away
	sus := peers[peerID(8)]
	sus.Reputation = 0.5
	peers[peerID(8)] = sus

	audits, b := p.ChooseAudits(now, shards, peers, Budget{Tokens: 1e9}, 0, rand.New(rand.NewPCG(1, 2)))
	var pos []int
	for _, a := range audits {
		pos = append(pos, a.Pos)
		if a.Shard != shards[a.Pos].ID || a.Holder != shards[a.Pos].Holder || a.Bytes != p.AuditCost(1<<20) || a.Leaf >= 16 {
			t.Errorf("audit %+v", a)
		}
		if a.Recheck != (a.Pos == 3) {
			t.Errorf("audit %d: recheck %v", a.Pos, a.Recheck)
		}
	}
	// re-check, never audited, then most overdue (suspect: due 5 - 3.5 =
	// 1.5 days ago), input order on ties.
	if want := []int{3, 5, 1, 11, 8, 2}; !slices.Equal(pos, want) {
		t.Fatalf("audited %v, want %v", pos, want)
	}
	if want := p.AuditBudget(Budget{Tokens: 1e9}, 0).Tokens - 6*float64(p.AuditCost(1<<20)); b.Tokens != want {
		t.Errorf("budget left %v, want %v", b.Tokens, want)
	}
}

func TestChooseAuditsBudgetPrefix(t *testing.T) {
	// With a budget for a few, the choice is the first few of the full
	// order, whatever the input order.
	p := mustNew(t, testDefaults())
	now := t0.Add(30 * day)
	shards, peers := auditFleet(200, 1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range shards {
		shards[i].LastAudit = t0.Add(time.Duration(r.Int64N(int64(30 * day))))
	}
	all, _ := p.ChooseAudits(now, shards, peers, Budget{Tokens: 1e12}, 0, rand.New(rand.NewPCG(1, 1)))
	cost := float64(p.AuditCost(1 << 20))
	for _, tokens := range []float64{0, 1, cost - 1, cost, cost + 1, 10 * cost, 10*cost + 0.5} {
		got, b := p.ChooseAudits(now, shards, peers, Budget{Tokens: tokens}, 0, rand.New(rand.NewPCG(1, 1)))
		want := 0
		for spent := 0.0; spent < tokens && want < len(all); want++ {
			spent += cost
		}
		if len(got) != want {
			t.Fatalf("tokens %v: %d audits, want %d", tokens, len(got), want)
		}
		for i := range got {
			if got[i].Pos != all[i].Pos {
				t.Fatalf("tokens %v: audit %d is shard %d, want %d", tokens, i, got[i].Pos, all[i].Pos)
			}
		}
		if b.Tokens != tokens-float64(want)*cost {
			t.Fatalf("tokens %v: left %v", tokens, b.Tokens)
		}
	}
}

func TestChooseAuditsDeterministicLeaves(t *testing.T) {
	p := mustNew(t, testDefaults())
	now := t0.Add(30 * day)
	shards, peers := auditFleet(1000, 1<<20+1) // 17 leaves
	a1, _ := p.ChooseAudits(now, shards, peers, Budget{Tokens: 1e12}, 0, rand.New(rand.NewPCG(7, 7)))
	a2, _ := p.ChooseAudits(now, shards, peers, Budget{Tokens: 1e12}, 0, rand.New(rand.NewPCG(7, 7)))
	if !slices.Equal(a1, a2) {
		t.Fatal("same inputs, different audits")
	}
	seen := make(map[uint64]int)
	for _, a := range a1 {
		if a.Leaf >= shard.LeafCount(1<<20+1, shard.DefaultBlockSize) {
			t.Fatalf("leaf %d out of range", a.Leaf)
		}
		seen[a.Leaf]++
	}
	if len(seen) != 17 {
		t.Fatalf("leaves drawn: %v", seen)
	}
	a3, _ := p.ChooseAudits(now, shards, peers, Budget{Tokens: 1e12}, 0, rand.New(rand.NewPCG(8, 8)))
	if slices.Equal(a1, a3) {
		t.Fatal("another seed, same leaves")
	}
}

func TestAuditResult(t *testing.T) {
	p := mustNew(t, testDefaults())
	now := t0.Add(day)
	fresh := ShardState{ID: shardID(1), LastAudit: t0}
	failedOnce := ShardState{ID: shardID(1), LastAudit: t0, AuditFailures: 1, RecheckAt: now}
	for _, tc := range []struct {
		name string
		s    ShardState
		o    AuditOutcome
		want AuditDecision
	}{
		{"pass", fresh, AuditPassed, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now}}},
		{"pass after a failure resets", failedOnce, AuditPassed, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now}}},
		{"bad proof: re-check", fresh, AuditBadProof, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, AuditFailures: 1, RecheckAt: now.Add(15 * time.Minute)}, Recheck: true}},
		{"no proof: re-check", fresh, AuditNoProof, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, AuditFailures: 1, RecheckAt: now.Add(15 * time.Minute)}, Recheck: true}},
		{"time-out: re-check", fresh, AuditTimedOut, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, AuditFailures: 1, RecheckAt: now.Add(15 * time.Minute)}, Recheck: true}},
		{"second failure: lost, penalize", failedOnce, AuditBadProof, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, AuditFailures: 2}, Lost: true, Reason: AuditFailed, Penalize: true}},
		{"second failure by time-out", failedOnce, AuditTimedOut, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, AuditFailures: 2}, Lost: true, Reason: AuditFailed, Penalize: true}},
		{"not held: lost at once, penalized", fresh, AuditNotHeld, AuditDecision{Shard: ShardState{ID: shardID(1), LastAudit: now, NotHeld: true}, Lost: true, Reason: NotHeld, Penalize: true}},
		{"unreachable: nothing", failedOnce, AuditUnreachable, AuditDecision{Shard: failedOnce}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.AuditResult(now, tc.s, tc.o); got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestAuditRecheckThenLost(t *testing.T) {
	// A shard whose holder dropped it: the audit fails, the re-check is
	// chosen first once due, fails again: lost, peer penalized, the
	// segment needs repair, and the shard is not audited again.
	p := mustNew(t, testDefaults())
	now := t0.Add(15 * day)
	seg := segment(1, 0, 5, 1<<20)
	peers := peersUp(0, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	audits, _ := p.ChooseAudits(now, seg.Shards, peers, Budget{Tokens: 1e9}, 0, rng)
	if len(audits) != 5 {
		t.Fatalf("%d audits", len(audits))
	}
	d := p.AuditResult(now, seg.Shards[2], AuditBadProof)
	if !d.Recheck || d.Lost || d.Penalize {
		t.Fatalf("first failure %+v", d)
	}
	seg.Shards[2] = d.Shard
	for i := range seg.Shards {
		if i != 2 {
			seg.Shards[i] = p.AuditResult(now, seg.Shards[i], AuditPassed).Shard
		}
	}
	if h := p.Segment(now, seg, peers); h.Status != SegmentOK {
		t.Fatalf("one failure already repairs: %+v", h)
	}
	// Not due yet.
	now = now.Add(10 * time.Minute)
	if audits, _ := p.ChooseAudits(now, seg.Shards, peers, Budget{Tokens: 1e9}, 0, rng); len(audits) != 0 {
		t.Fatalf("audits before the re-check is due: %+v", audits)
	}
	now = now.Add(5 * time.Minute)
	audits, _ = p.ChooseAudits(now, seg.Shards, peers, Budget{Tokens: 1e9}, 0, rng)
	if len(audits) != 1 || audits[0].Pos != 2 || !audits[0].Recheck {
		t.Fatalf("re-check: %+v", audits)
	}
	d = p.AuditResult(now, seg.Shards[2], AuditNoProof)
	if !d.Lost || d.Reason != AuditFailed || !d.Penalize || d.Recheck {
		t.Fatalf("second failure %+v", d)
	}
	seg.Shards[2] = d.Shard
	if h := p.Segment(now, seg, peers); h.Status != SegmentRepair || h.Missing != 1 {
		t.Fatalf("after loss: %+v", h)
	}
	if audits, _ := p.ChooseAudits(now.Add(60*day), seg.Shards, peers, Budget{Tokens: 1e9}, 0, rng); len(audits) != 4 {
		t.Fatalf("the lost shard is audited again: %+v", audits)
	}
}
