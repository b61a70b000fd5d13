package policy

import (
	"math/rand/v2"
	"testing"
	"time"

	"ishtar/shard"
)

// network is a small simulated network driven by the policy, as the
// gateway's upkeep loop would: audits pass while holders are up, leases
// are renewed, planned repairs are carried out at once.
type network struct {
	p       Policy
	now     time.Time
	peers   map[PeerID]PeerState
	segs    []SegmentState
	next    int // next new peer for repairs
	audit   Budget
	repair  Budget
	rng     *rand.Rand
	repairs int // repairs carried out
	waiting int // segment-steps reported waiting
	audited int
	expired int // leases found lapsed
}

func newNetwork(p Policy, segs, peersN int, seed uint64) *network {
	n := &network{p: p, now: t0, peers: peersUp(0, peersN), next: 1000, rng: rand.New(rand.NewPCG(seed, seed))}
	for i := range segs {
		seg := segment(i, 0, 5, 4<<20)
		for j := range seg.Shards {
			seg.Shards[j].Holder = peerID((i + j) % peersN)
			seg.Shards[j].LastAudit = t0.Add(-time.Duration(n.rng.Int64N(int64(14 * day))))
			seg.Shards[j].LeaseExpiry = t0.Add(day + time.Duration(n.rng.Int64N(int64(89*day))))
		}
		n.segs = append(n.segs, seg)
	}
	return n
}

func (n *network) setPeer(id int, up bool) {
	ps := n.peers[peerID(id)]
	if up {
		ps.Reachable, ps.OfflineSince = true, time.Time{}
	} else if ps.Reachable {
		ps.Reachable, ps.OfflineSince = false, n.now
	}
	n.peers[peerID(id)] = ps
}

// step advances the clock by d and runs one upkeep round.
func (n *network) step(d time.Duration) {
	n.now = n.now.Add(d)
	// Audits: everything chosen passes.
	var all []ShardState
	var where [][2]int
	for i := range n.segs {
		for j := range n.segs[i].Shards {
			all = append(all, n.segs[i].Shards[j])
			where = append(where, [2]int{i, j})
		}
	}
	audits, b := n.p.ChooseAudits(n.now, all, n.peers, n.audit, d, n.rng)
	n.audit = b
	for _, a := range audits {
		w := where[a.Pos]
		n.segs[w[0]].Shards[w[1]] = n.p.AuditResult(n.now, all[a.Pos], AuditPassed).Shard
		n.audited++
	}
	// Leases: count the lapsed, renew what is due.
	at := make(map[shard.ID][2]int, len(all))
	for k, s := range all {
		at[s.ID] = where[k]
		if !s.LeaseExpiry.After(n.now) {
			n.expired++
		}
	}
	for _, r := range n.p.RenewalsDue(n.now, all, n.peers) {
		for _, id := range r.Shards {
			w := at[id]
			n.segs[w[0]].Shards[w[1]].LeaseExpiry = r.Expiry
		}
	}
	// Repairs: carried out at once on fresh peers.
	plan, rb, rep := n.p.PlanRepairs(n.now, n.segs, n.peers, n.repair, d)
	n.repair = rb
	n.waiting += len(rep.Waiting)
	for _, r := range plan {
		seg := &n.segs[r.Pos]
		for _, idx := range r.Make {
			n.peers[peerID(n.next)] = upPeer(n.next)
			seg.Shards = append(seg.Shards, ShardState{
				ID: shardID(1e6 + n.next), Index: idx, Holder: peerID(n.next), Size: seg.ShardSize,
				LeaseExpiry: n.now.Add(n.p.Config().Lease), LastAudit: n.now,
			})
			n.next++
		}
		// Drop the lost records, as the gateway would.
		kept := seg.Shards[:0]
		for _, s := range seg.Shards {
			if ps, ok := n.peers[s.Holder]; n.p.Shard(n.now, s, ps, ok).Health != Lost {
				kept = append(kept, s)
			}
		}
		seg.Shards = kept
		n.repairs++
	}
}

func TestFlappingPeerCausesNoRepair(t *testing.T) {
	// Peer 0 goes down again and again, each time for up to 55 minutes,
	// up for 5 to 30 minutes between: over 90 days, no repair, no segment
	// waiting, no lease lapsed (every lease comes up for renewal), and its
	// shards still audited.
	p := mustNew(t, testDefaults())
	n := newNetwork(p, 50, 10, 1)
	flap := rand.New(rand.NewPCG(9, 9))
	downs := 0
	const tick = 5 * time.Minute
	for n.now.Before(t0.Add(90 * day)) {
		down := time.Duration(1+flap.IntN(11)) * tick
		n.setPeer(0, false)
		downs++
		for elapsed := time.Duration(0); elapsed < down; elapsed += tick {
			n.step(tick)
		}
		n.setPeer(0, true)
		up := time.Duration(1+flap.IntN(6)) * tick
		for elapsed := time.Duration(0); elapsed < up; elapsed += tick {
			n.step(tick)
		}
	}
	if n.repairs != 0 || n.waiting != 0 || n.expired != 0 {
		t.Fatalf("%d downs: %d repairs, %d waiting, %d lapsed", downs, n.repairs, n.waiting, n.expired)
	}
	if n.audited < 250*5 {
		t.Fatalf("only %d audits in 90 days", n.audited)
	}
	for _, seg := range n.segs {
		for _, s := range seg.Shards {
			if s.Holder == peerID(0) && n.now.Sub(s.LastAudit) > 15*day {
				t.Fatalf("shard on the flapping peer last audited %v ago", n.now.Sub(s.LastAudit))
			}
		}
	}
	t.Logf("%d downs over 90 days, %d audits, 0 repairs", downs, n.audited)

	// The same peer down past the grace once: its shards are repaired.
	n.setPeer(0, false)
	for range 13 {
		n.step(tick)
	}
	if n.repairs == 0 {
		t.Fatal("a peer offline past the grace caused no repair")
	}
}

func TestBudgetOverADay(t *testing.T) {
	// A backlog far larger than a day's budget: over a simulated day of
	// irregular rounds, repairs and audits each spend their rate x day,
	// within a burst and one item, never more.
	c := testDefaults()
	c.RepairBytesPerSecond = 50 << 10
	c.AuditBytesPerSecond = 8 << 10
	p := mustNew(t, c)
	peers := peersUp(0, 20)
	offlinePeer(peers, 0, t0) // every segment has its shard 0 there
	var segs []SegmentState
	var shards []ShardState
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 5000 {
		seg := segment(i, 0, 5, int64(64<<10+r.IntN(1<<20)))
		for j := range seg.Shards {
			seg.Shards[j].Holder = peerID(j + 5*(i%4))
			if j == 0 {
				seg.Shards[j].Holder = peerID(0)
			}
			seg.Shards[j].LastAudit = t0.Add(-time.Duration(r.Int64N(int64(60 * day))))
		}
		segs = append(segs, seg)
		shards = append(shards, seg.Shards...)
	}
	now := t0
	var rb, ab Budget
	var repaired, audited, maxRepair, maxAudit int64
	done := make([]bool, len(segs))
	for now.Before(t0.Add(day)) {
		d := time.Duration(1+r.IntN(300)) * time.Second
		now = now.Add(d)
		plan, b, _ := p.PlanRepairs(now, segs, peers, rb, d)
		rb = b
		for _, rp := range plan {
			if done[rp.Pos] {
				t.Fatalf("segment %d repaired twice", rp.Pos)
			}
			done[rp.Pos] = true
			segs[rp.Pos].Shards[0].Holder = peerID(1) // repaired
			repaired += rp.Bytes
			maxRepair = max(maxRepair, rp.Bytes)
		}
		audits, b2 := p.ChooseAudits(now, shards, peers, ab, d, r)
		ab = b2
		for _, a := range audits {
			shards[a.Pos] = p.AuditResult(now, shards[a.Pos], AuditPassed).Shard
			audited += a.Bytes
			maxAudit = max(maxAudit, a.Bytes)
		}
	}
	elapsed := now.Sub(t0).Seconds()
	check := func(what string, spent, maxItem int64, rate float64) {
		ceiling := rate*elapsed + float64(maxItem) // starting empty: no burst saved
		floor := rate*elapsed - rate*c.BurstWindow.Seconds() - float64(maxItem)
		t.Logf("%s: %d bytes over %.0f s: %.1f%% of rate x time", what, spent, elapsed, 100*float64(spent)/(rate*elapsed))
		if float64(spent) > ceiling || float64(spent) < floor {
			t.Errorf("%s: spent %d, want [%.0f, %.0f]", what, spent, floor, ceiling)
		}
	}
	check("repair", repaired, maxRepair, c.RepairBytesPerSecond)
	check("audit", audited, maxAudit, c.AuditBytesPerSecond)
}
