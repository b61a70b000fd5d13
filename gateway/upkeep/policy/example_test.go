package policy_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"ishtar/gateway/upkeep/policy"
)

// One round of an upkeep loop: the caller keeps the budgets and the
// random source between rounds, gathers the state, and carries out what
// the policy returns.
func Example() {
	p, err := policy.New(policy.DefaultsFor(3, 5))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	stored := now.Add(-20 * 24 * time.Hour)

	peers := map[policy.PeerID]policy.PeerState{}
	seg := policy.SegmentState{ID: policy.SegmentID{1}, ShardSize: 1 << 20}
	for i := range 5 {
		id := policy.PeerID{byte(i + 1)}
		peers[id] = policy.PeerState{ID: id, Reachable: true, Reputation: 1, Placeable: true}
		seg.Shards = append(seg.Shards, policy.ShardState{
			ID: [32]byte{byte(i + 1)}, Index: i, Holder: id, Size: 1 << 20,
			LeaseExpiry: stored.Add(90 * 24 * time.Hour), LastAudit: stored,
		})
	}
	// The holder of shard 4 has been unreachable for two days.
	gone := peers[policy.PeerID{5}]
	gone.Reachable, gone.OfflineSince = false, now.Add(-48*time.Hour)
	peers[gone.ID] = gone

	var auditBudget, repairBudget policy.Budget // kept between rounds
	rng := rand.New(rand.NewPCG(1, 2))
	elapsed := time.Minute // since the last round

	audits, auditBudget := p.ChooseAudits(now, seg.Shards, peers, auditBudget, elapsed, rng)
	for _, a := range audits {
		// Ask a.Holder for a proof of leaf a.Leaf of a.Shard; then store
		// p.AuditResult(now, shard, outcome).Shard and act on the decision.
		fmt.Printf("audit shard %d leaf %d (%d bytes)\n", a.Pos, a.Leaf, a.Bytes)
	}
	plan, repairBudget, report := p.PlanRepairs(now, []policy.SegmentState{seg}, peers, repairBudget, elapsed)
	for _, r := range plan {
		fmt.Printf("repair segment %x: make %v, margin %d, %d bytes\n", r.Segment[:1], r.Make, r.Margin, r.Bytes)
	}
	fmt.Printf("waiting %d, deferred %d\n", len(report.Waiting), report.Deferred)
	fmt.Printf("write with 4 stored: %+v\n", p.Write(4))
	_, _ = auditBudget, repairBudget
	// Output:
	// audit shard 0 leaf 0 (66688 bytes)
	// audit shard 1 leaf 12 (66688 bytes)
	// audit shard 2 leaf 8 (66688 bytes)
	// audit shard 3 leaf 10 (66688 bytes)
	// repair segment 01: make [4], margin 1, 4194304 bytes
	// waiting 0, deferred 0
	// write with 4 stored: {Commit:true Degraded:true Missing:1}
}
