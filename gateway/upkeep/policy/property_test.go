package policy

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"ishtar/shard"
)

// randomWorld is a random mix of everything the policy judges.
func randomWorld(r *rand.Rand, now time.Time) ([]SegmentState, map[PeerID]PeerState) {
	peers := make(map[PeerID]PeerState)
	for i := range 30 {
		ps := upPeer(i)
		switch r.IntN(6) {
		case 0:
			ps.Reachable, ps.OfflineSince = false, now.Add(-time.Duration(r.Int64N(int64(3*time.Hour))))
		case 1:
			ps.Reputation = r.Float64()
		case 2:
			continue // gone
		}
		peers[peerID(i)] = ps
	}
	segs := make([]SegmentState, 1+r.IntN(40))
	for i := range segs {
		seg := SegmentState{ID: segID(r.IntN(1000)), ShardSize: 1 + r.Int64N(1<<20)}
		for j := range 5 + r.IntN(3) {
			s := ShardState{
				ID: shardID(i*100 + j), Index: r.IntN(6), Holder: peerID(r.IntN(32)), Size: seg.ShardSize,
				LastAudit: now.Add(-time.Duration(r.Int64N(int64(30 * day)))),
			}
			if r.IntN(4) == 0 {
				s.LeaseExpiry = now.Add(time.Duration(r.Int64N(int64(90*day))) - day)
			}
			switch r.IntN(10) {
			case 0:
				s.NotHeld = true
			case 1:
				s.AuditFailures = 1 + r.IntN(2)
			case 2:
				s.AuditFailures, s.RecheckAt = 1, now.Add(time.Duration(r.Int64N(int64(time.Hour)))-30*time.Minute)
			}
			seg.Shards = append(seg.Shards, s)
		}
		segs[i] = seg
	}
	return segs, peers
}

func TestPlanRepairsProperties(t *testing.T) {
	p := mustNew(t, testDefaults())
	r := rand.New(rand.NewPCG(11, 12))
	now := t0.Add(100 * day)
	for range 2000 {
		segs, peers := randomWorld(r, now)
		start := Budget{Tokens: float64(r.Int64N(20<<20)) - 1<<20}
		elapsed := time.Duration(r.Int64N(int64(20 * time.Minute)))
		plan, left, rep := p.PlanRepairs(now, segs, peers, start, elapsed)
		avail := p.RepairBudget(start, elapsed).Tokens
		var spent int64
		for k, rp := range plan {
			seg := segs[rp.Pos]
			h := p.Segment(now, seg, peers)
			if h.Status != SegmentRepair || len(rp.Make) != h.Missing || rp.Margin != h.Healthy-3 || rp.Segment != seg.ID {
				t.Fatalf("repair %+v of a segment %+v", rp, h)
			}
			if !slices.Equal(rp.Make, p.MissingIndexes(now, seg, peers, nil)) {
				t.Fatalf("make %v, missing %v", rp.Make, p.MissingIndexes(now, seg, peers, nil))
			}
			if rp.Bytes != int64(3+len(rp.Make))*seg.ShardSize {
				t.Fatalf("bytes %d", rp.Bytes)
			}
			if k > 0 && rp.Margin < plan[k-1].Margin {
				t.Fatal("not most endangered first")
			}
			if float64(spent) >= avail {
				t.Fatalf("repair %d started with the budget spent", k)
			}
			spent += rp.Bytes
		}
		if left.Tokens != avail-float64(spent) {
			t.Fatalf("left %v, want %v", left.Tokens, avail-float64(spent))
		}
		if rep.Deferred > 0 && left.Tokens > 0 {
			t.Fatal("deferred with budget left")
		}
		need := 0
		for _, seg := range segs {
			if p.Segment(now, seg, peers).Status == SegmentRepair {
				need++
			}
		}
		if need != rep.Planned+rep.Deferred || len(plan) != rep.Planned {
			t.Fatalf("need %d, report %+v", need, rep)
		}
	}
}

func TestChooseAuditsProperties(t *testing.T) {
	p := mustNew(t, testDefaults())
	r := rand.New(rand.NewPCG(13, 14))
	now := t0.Add(100 * day)
	for range 2000 {
		segs, peers := randomWorld(r, now)
		var shards []ShardState
		for _, seg := range segs {
			shards = append(shards, seg.Shards...)
		}
		start := Budget{Tokens: float64(r.Int64N(2<<20)) - 100<<10}
		elapsed := time.Duration(r.Int64N(int64(time.Minute)))
		audits, left := p.ChooseAudits(now, shards, peers, start, elapsed, r)
		avail := p.AuditBudget(start, elapsed).Tokens
		chosen := make(map[int]bool)
		var spent int64
		for _, a := range audits {
			s := shards[a.Pos]
			ps, ok := peers[s.Holder]
			if p.Shard(now, s, ps, ok).Health != Healthy {
				t.Fatalf("audit of a shard not healthy: %+v", s)
			}
			rep := ps.Reputation
			due, recheck := p.Due(s, rep)
			if due.After(now) || recheck != a.Recheck || a.Leaf >= shard.LeafCount(s.Size, p.c.LeafSize) || chosen[a.Pos] {
				t.Fatalf("audit %+v of %+v (due %v)", a, s, due)
			}
			if float64(spent) >= avail {
				t.Fatal("audit chosen with the budget spent")
			}
			chosen[a.Pos] = true
			spent += a.Bytes
		}
		if left.Tokens != avail-float64(spent) {
			t.Fatalf("left %v, want %v", left.Tokens, avail-float64(spent))
		}
		// Every due shard left out comes after every one chosen, and was
		// left out for want of budget.
		for i, s := range shards {
			ps, ok := peers[s.Holder]
			if chosen[i] || p.Shard(now, s, ps, ok).Health != Healthy {
				continue
			}
			if due, _ := p.Due(s, ps.Reputation); due.After(now) {
				continue
			}
			if left.Tokens > 0 {
				t.Fatalf("due shard %d left out with %v bytes left", i, left.Tokens)
			}
			if len(audits) > 0 {
				last := audits[len(audits)-1]
				lastDue, _ := p.Due(shards[last.Pos], peers[shards[last.Pos].Holder].Reputation)
				thisDue, recheck := p.Due(s, ps.Reputation)
				if recheck && !last.Recheck || recheck == last.Recheck && thisDue.Before(lastDue) {
					t.Fatalf("shard %d (due %v) left out, %d (due %v) chosen", i, thisDue, last.Pos, lastDue)
				}
			}
		}
	}
}
