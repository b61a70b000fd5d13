package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

const benchShards = 1_000_000

// benchFleet is 200,000 segments of 5 shards on 10,000 peers, audits
// spread over the last overdue days, one peer in 20 offline past the
// grace and one in 50 away.
func benchFleet(overdue time.Duration) (now time.Time, segs []SegmentState, shards []ShardState, peers map[PeerID]PeerState) {
	now = t0.Add(60 * day)
	r := rand.New(rand.NewPCG(1, 1))
	const nPeers = 10000
	peers = peersUp(0, nPeers)
	for i := range nPeers {
		switch {
		case i%20 == 0:
			offlinePeer(peers, i, now)
		case i%50 == 1:
			ps := peers[peerID(i)]
			ps.Reachable, ps.OfflineSince = false, now.Add(-time.Minute)
			peers[peerID(i)] = ps
		}
	}
	segs = make([]SegmentState, benchShards/5)
	shards = make([]ShardState, 0, benchShards)
	for i := range segs {
		segs[i] = SegmentState{ID: segID(i), ShardSize: 4 << 20, Shards: make([]ShardState, 5)}
		for j := range 5 {
			segs[i].Shards[j] = ShardState{
				ID: shardID(i*5 + j), Index: j, Holder: peerID(r.IntN(nPeers)), Size: 4 << 20,
				LeaseExpiry: now.Add(time.Duration(r.Int64N(int64(90 * day)))),
				LastAudit:   now.Add(-time.Duration(r.Int64N(int64(overdue)))),
			}
		}
		shards = append(shards, segs[i].Shards...)
	}
	return now, segs, shards, peers
}

func benchAudits(b *testing.B, overdue time.Duration, elapsed time.Duration) {
	p := mustNew(b, testDefaults())
	now, _, shards, peers := benchFleet(overdue)
	rng := rand.New(rand.NewPCG(2, 2))
	var n int
	b.ResetTimer()
	for b.Loop() {
		a, _ := p.ChooseAudits(now, shards, peers, Budget{}, elapsed, rng)
		n = len(a)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchShards, "ns/shard")
	b.ReportMetric(float64(n), "audits")
}

// BenchmarkChooseAudits: a minute's budget (64 KiB/s) over 1,000,000
// shards. Steady: last audits spread over one interval, few due.
// Backlog: spread over four intervals, 3/4 overdue.
func BenchmarkChooseAuditsSteady(b *testing.B)  { benchAudits(b, 15*day, time.Minute) }
func BenchmarkChooseAuditsBacklog(b *testing.B) { benchAudits(b, 56*day, time.Minute) }

// BenchmarkPlanRepairs: 200,000 segments (1,000,000 shards), about one
// in five needing repair, a minute of the repair budget (1 MiB/s).
func BenchmarkPlanRepairs(b *testing.B) {
	p := mustNew(b, testDefaults())
	now, segs, _, peers := benchFleet(14 * day)
	var rep RepairReport
	b.ResetTimer()
	for b.Loop() {
		_, _, rep = p.PlanRepairs(now, segs, peers, Budget{}, time.Minute)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchShards, "ns/shard")
	b.ReportMetric(float64(rep.Planned+rep.Deferred), "need-repair")
	b.ReportMetric(float64(rep.Planned), "planned")
}

// BenchmarkRenewalsDue: 1,000,000 shards, leases spread over 90 days
// (a third due).
func BenchmarkRenewalsDue(b *testing.B) {
	p := mustNew(b, testDefaults())
	now, _, shards, peers := benchFleet(14 * day)
	var n int
	b.ResetTimer()
	for b.Loop() {
		n = len(p.RenewalsDue(now, shards, peers))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchShards, "ns/shard")
	b.ReportMetric(float64(n), "batches")
}
