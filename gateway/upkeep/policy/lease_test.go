package policy

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"ishtar/shard"
)

func TestNeedsRenewalBoundary(t *testing.T) {
	p := mustNew(t, testDefaults()) // lease 90 d, renew before 30 d
	now := t0
	for _, tc := range []struct {
		left time.Duration
		want bool
	}{
		{90 * day, false},
		{30*day + 1, false},
		{30 * day, false}, // exactly a third left: not yet
		{30*day - 1, true},
		{day, true},
		{0, true},
		{-day, true},
	} {
		s := ShardState{LeaseExpiry: now.Add(tc.left)}
		if got := p.NeedsRenewal(now, s); got != tc.want {
			t.Errorf("%v left: %v, want %v", tc.left, got, tc.want)
		}
	}
	if p.NeedsRenewal(now, ShardState{}) {
		t.Error("zero expiry needs renewal")
	}
	// Stored at t0 with a full lease: first renewed just after 60 days.
	s := ShardState{LeaseExpiry: t0.Add(90 * day)}
	if p.NeedsRenewal(t0.Add(60*day), s) || !p.NeedsRenewal(t0.Add(60*day+1), s) {
		t.Error("renewal not at the 1/3 boundary")
	}
}

func TestRenewalsDue(t *testing.T) {
	p := mustNew(t, testDefaults())
	now := t0.Add(70 * day)
	peers := peersUp(0, 4)
	away := peers[peerID(2)]
	away.Reachable, away.OfflineSince = false, now.Add(-time.Minute)
	peers[peerID(2)] = away
	var shards []ShardState
	add := func(id, holder int, expiry time.Time, f func(*ShardState)) {
		s := ShardState{ID: shardID(id), Holder: peerID(holder), LeaseExpiry: expiry}
		if f != nil {
			f(&s)
		}
		shards = append(shards, s)
	}
	soon, later := t0.Add(90*day), now.Add(31*day)
	// Peer 1: 5000 due (two batches), in descending order, one twice,
	// one not due, one lost.
	for i := 4999; i >= 0; i-- {
		add(10000+i, 1, soon, nil)
	}
	add(10000, 1, soon, nil)
	add(99, 1, later, nil)
	add(98, 1, soon, func(s *ShardState) { s.AuditFailures = 2 })
	// Peer 0: two due. Peer 2 is away: skipped. Peer 3: expired, but
	// renewed still (its holder keeps it for a grace).
	add(7, 0, soon, nil)
	add(5, 0, soon, nil)
	add(6, 2, soon, nil)
	add(8, 3, now, nil)
	// Gone peer.
	add(9, 77, soon, nil)

	got := p.RenewalsDue(now, shards, peers)
	if len(got) != 4 {
		t.Fatalf("%d renewals", len(got))
	}
	if got[3].Holder != peerID(3) || !slices.Equal(got[3].Shards, []shard.ID{shardID(8)}) {
		t.Errorf("the lapsed lease: %+v", got[3])
	}
	exp := now.Add(90 * day)
	if got[0].Holder != peerID(0) || !slices.Equal(got[0].Shards, []shard.ID{shardID(5), shardID(7)}) || !got[0].Expiry.Equal(exp) {
		t.Errorf("renewal 0: %+v", got[0])
	}
	if got[1].Holder != peerID(1) || len(got[1].Shards) != shard.MaxRenewBatch || got[2].Holder != peerID(1) || len(got[2].Shards) != 5000-shard.MaxRenewBatch {
		t.Errorf("peer 1 batches: %d, %d", len(got[1].Shards), len(got[2].Shards))
	}
	all := append(slices.Clone(got[1].Shards), got[2].Shards...)
	if !slices.IsSortedFunc(all, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) }) || len(slices.Compact(slices.Clone(all))) != 5000 {
		t.Error("peer 1's IDs not ascending and unique")
	}
	got = got[:3]
	for _, r := range got {
		if len(r.Shards) > p.Config().RenewBatch {
			t.Errorf("batch of %d", len(r.Shards))
		}
	}
	// Smaller batches.
	c := testDefaults()
	c.RenewBatch = 1000
	if got := mustNew(t, c).RenewalsDue(now, shards, peers); len(got) != 1+5+1 {
		t.Errorf("batches of 1000: %d renewals", len(got))
	}
	if got := p.RenewalsDue(t0, shards, peers); len(got) != 0 {
		t.Errorf("nothing due at t0: %+v", got)
	}
}
