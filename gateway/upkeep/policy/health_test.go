package policy

import (
	"testing"
	"time"
)

func TestShardHealth(t *testing.T) {
	p := mustNew(t, testDefaults())
	now := t0.Add(24 * time.Hour)
	up := upPeer(1)
	down := func(d time.Duration) PeerState {
		ps := upPeer(1)
		ps.Reachable, ps.OfflineSince = false, now.Add(-d)
		return ps
	}
	base := ShardState{ID: shardID(1), Holder: peerID(1), Size: 100, LeaseExpiry: now.Add(time.Hour), LastAudit: t0}
	with := func(f func(*ShardState)) ShardState { s := base; f(&s); return s }
	for _, tc := range []struct {
		name  string
		s     ShardState
		peer  PeerState
		known bool
		want  ShardHealth
	}{
		{"healthy", base, up, true, ShardHealth{Healthy, NotLost}},
		{"low reputation is still healthy", base, PeerState{Reachable: true, Reputation: 0.01}, true, ShardHealth{Healthy, NotLost}},
		{"away just now", base, down(0), true, ShardHealth{Away, NotLost}},
		{"away just under grace", base, down(time.Hour - 1), true, ShardHealth{Away, NotLost}},
		{"offline at grace", base, down(time.Hour), true, ShardHealth{Lost, Offline}},
		{"offline long", base, down(30 * 24 * time.Hour), true, ShardHealth{Lost, Offline}},
		{"peer gone", base, PeerState{}, false, ShardHealth{Lost, PeerGone}},
		{"down since unknown: away", base, PeerState{Reputation: 1}, true, ShardHealth{Away, NotLost}},
		{"not held", with(func(s *ShardState) { s.NotHeld = true }), up, true, ShardHealth{Lost, NotHeld}},
		{"one audit failure", with(func(s *ShardState) { s.AuditFailures = 1; s.RecheckAt = now }), up, true, ShardHealth{Healthy, NotLost}},
		{"two audit failures", with(func(s *ShardState) { s.AuditFailures = 2 }), up, true, ShardHealth{Lost, AuditFailed}},
		{"lease expires now", with(func(s *ShardState) { s.LeaseExpiry = now }), up, true, ShardHealth{Lost, LeaseExpired}},
		{"lease expires in 1ns", with(func(s *ShardState) { s.LeaseExpiry = now.Add(1) }), up, true, ShardHealth{Healthy, NotLost}},
		{"no lease known", with(func(s *ShardState) { s.LeaseExpiry = time.Time{} }), up, true, ShardHealth{Healthy, NotLost}},
		{"not held beats away", with(func(s *ShardState) { s.NotHeld = true }), down(time.Minute), true, ShardHealth{Lost, NotHeld}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Shard(now, tc.s, tc.peer, tc.known); got != tc.want {
				t.Fatalf("got %v/%v, want %v/%v", got.Health, got.Reason, tc.want.Health, tc.want.Reason)
			}
		})
	}
}

func TestSegmentHealth(t *testing.T) {
	p := mustNew(t, testDefaults()) // 3 of 5, threshold 4
	now := t0.Add(time.Hour)
	type peerFate int
	const (
		up peerFate = iota
		away
		offline
		gone
	)
	for _, tc := range []struct {
		name  string
		fates []peerFate // shard i on peer i
		extra func(*SegmentState)
		want  SegmentHealth
	}{
		{"all healthy", []peerFate{up, up, up, up, up}, nil, SegmentHealth{Status: SegmentOK, Healthy: 5, Readable: 5}},
		{"two away: no repair", []peerFate{up, up, up, away, away}, nil, SegmentHealth{Status: SegmentOK, Healthy: 5, Readable: 3, Away: 2}},
		{"threshold exactly reached: repair", []peerFate{up, up, up, up, offline}, nil, SegmentHealth{Status: SegmentRepair, Healthy: 4, Readable: 4, Lost: 1, Missing: 1}},
		{"threshold + 1: none", []peerFate{up, up, up, up, up}, nil, SegmentHealth{Status: SegmentOK, Healthy: 5, Readable: 5}},
		{"K readable: repair", []peerFate{up, up, up, gone, offline}, nil, SegmentHealth{Status: SegmentRepair, Healthy: 3, Readable: 3, Lost: 2, Missing: 2}},
		{"lost and away, K readable", []peerFate{up, up, up, away, offline}, nil, SegmentHealth{Status: SegmentRepair, Healthy: 4, Readable: 3, Away: 1, Lost: 1, Missing: 1}},
		{"fewer than K readable: waiting", []peerFate{up, up, away, away, offline}, nil, SegmentHealth{Status: SegmentWaiting, Healthy: 4, Readable: 2, Away: 2, Lost: 1, Missing: 1}},
		{"fewer than K healthy: waiting", []peerFate{up, up, offline, offline, gone}, nil, SegmentHealth{Status: SegmentWaiting, Healthy: 2, Readable: 2, Lost: 3, Missing: 3}},
		{"degraded write, never stored", []peerFate{up, up, up, up}, nil, SegmentHealth{Status: SegmentRepair, Healthy: 4, Readable: 4, Missing: 1}},
		{"index held twice counts once", []peerFate{up, up, up, up}, func(s *SegmentState) {
			d := s.Shards[0]
			d.ID, d.Holder = shardID(999), peerID(9)
			s.Shards = append(s.Shards, d)
		}, SegmentHealth{Status: SegmentRepair, Healthy: 4, Readable: 4, Missing: 1}},
		{"replaced index: old lost, new healthy", []peerFate{up, up, up, up, offline}, func(s *SegmentState) {
			d := s.Shards[4]
			d.ID, d.Holder = shardID(999), peerID(9)
			s.Shards = append(s.Shards, d)
		}, SegmentHealth{Status: SegmentOK, Healthy: 5, Readable: 5, Lost: 1}},
		{"away and healthy copy of one index", []peerFate{up, up, up, up, away}, func(s *SegmentState) {
			d := s.Shards[4]
			d.ID, d.Holder = shardID(999), peerID(9)
			s.Shards = append(s.Shards, d)
		}, SegmentHealth{Status: SegmentOK, Healthy: 5, Readable: 5}},
		{"index out of range ignored", []peerFate{up, up, up, up, up}, func(s *SegmentState) {
			s.Shards[4].Index = 7
		}, SegmentHealth{Status: SegmentRepair, Healthy: 4, Readable: 4, Missing: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seg := segment(1, 0, len(tc.fates), 1000)
			peers := peersUp(0, 10)
			for i, f := range tc.fates {
				ps := peers[peerID(i)]
				switch f {
				case away:
					ps.Reachable, ps.OfflineSince = false, now.Add(-time.Minute)
				case offline:
					ps.Reachable, ps.OfflineSince = false, now.Add(-2*time.Hour)
				}
				peers[peerID(i)] = ps
				if f == gone {
					delete(peers, peerID(i))
				}
			}
			if tc.extra != nil {
				tc.extra(&seg)
			}
			if got := p.Segment(now, seg, peers); got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			miss := p.MissingIndexes(now, seg, peers, nil)
			if len(miss) != tc.want.Missing {
				t.Fatalf("missing indexes %v, want %d", miss, tc.want.Missing)
			}
		})
	}
}

func TestThresholdBoundary(t *testing.T) {
	// 10 of 16, threshold 12: healthy 12 repairs, 13 does not.
	c := DefaultsFor(10, 16)
	c.RepairThreshold = 12
	p := mustNew(t, c)
	now := t0
	for healthy := 16; healthy >= 9; healthy-- {
		seg := segment(1, 0, healthy, 10)
		h := p.Segment(now, seg, peersUp(0, 16))
		want := SegmentOK
		switch {
		case healthy < 10:
			want = SegmentWaiting
		case healthy <= 12:
			want = SegmentRepair
		}
		if h.Status != want || h.Missing != 16-healthy {
			t.Errorf("healthy %d: %+v, want %v", healthy, h, want)
		}
	}
}
