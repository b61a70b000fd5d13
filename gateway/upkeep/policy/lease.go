package policy

import (
	"bytes"
	"slices"
	"time"

	"ishtar/shard"
)

// Renewal is one batch of leases to renew on one holder: the shards of
// one shard.RenewBatch, ascending and unique, at most RenewBatch of them,
// renewed to Expiry.
type Renewal struct {
	Holder PeerID
	Shards []shard.ID
	Expiry time.Time // now + Lease
}

// NeedsRenewal reports whether s's lease should be renewed at now: less
// than RenewBefore of it remains (an expiry exactly RenewBefore away is
// not yet due). A zero LeaseExpiry never needs renewal.
func (p Policy) NeedsRenewal(now time.Time, s ShardState) bool {
	return !s.LeaseExpiry.IsZero() && s.LeaseExpiry.Sub(now) < p.c.RenewBefore
}

// RenewalsDue returns the renewals to send at now: the shards that need
// renewal (NeedsRenewal), grouped by holder in batches of at most
// RenewBatch, holders in ascending key order. Lost shards are skipped
// (they are repaired, not kept), and so are those whose holder is away:
// it cannot be reached now, and OfflineGrace < RenewBefore leaves it time
// to come back and be renewed before the lease lapses. A shard whose
// lease lapsed is renewed still: its holder keeps it for a grace (and
// answers "not held" once it is gone), and a late renewal is cheaper
// than a repair.
func (p Policy) RenewalsDue(now time.Time, shards []ShardState, peers map[PeerID]PeerState) []Renewal {
	byHolder := make(map[PeerID][]shard.ID)
	cls := p.allClasses(now, peers)
	for i := range shards {
		s := &shards[i]
		if !p.NeedsRenewal(now, *s) {
			continue
		}
		live := *s
		live.LeaseExpiry = time.Time{} // lapsed or not: see above
		if p.shardWith(now, &live, cls.of(s.Holder)).Health != Healthy {
			continue
		}
		byHolder[s.Holder] = append(byHolder[s.Holder], s.ID)
	}
	holders := make([]PeerID, 0, len(byHolder))
	for h := range byHolder {
		holders = append(holders, h)
	}
	slices.SortFunc(holders, func(a, b PeerID) int { return bytes.Compare(a[:], b[:]) })
	expiry := now.Add(p.c.Lease)
	var out []Renewal
	for _, h := range holders {
		ids := byHolder[h]
		slices.SortFunc(ids, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) })
		ids = slices.Compact(ids)
		for len(ids) > 0 {
			n := min(len(ids), p.c.RenewBatch)
			out = append(out, Renewal{Holder: h, Shards: ids[:n:n], Expiry: expiry})
			ids = ids[n:]
		}
	}
	return out
}
