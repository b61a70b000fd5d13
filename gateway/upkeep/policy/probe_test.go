package policy

import (
	"slices"
	"testing"
	"time"
)

func TestProbeAfterDefault(t *testing.T) {
	c := testDefaults()
	c.OfflineGrace = 8 * time.Second
	if got := mustNew(t, c).Config().ProbeAfter; got != 2*time.Second {
		t.Fatalf("ProbeAfter %v, want OfflineGrace/4", got)
	}
	c.ProbeAfter = 3 * time.Second
	if got := mustNew(t, c).Config().ProbeAfter; got != 3*time.Second {
		t.Fatalf("ProbeAfter %v, want the one set", got)
	}
}

func TestProbesDue(t *testing.T) {
	c := testDefaults() // grace 1 h: probe after 15 min
	c.MaxProbes = 3
	p := mustNew(t, c)
	now := t0.Add(24 * time.Hour)
	peer := func(n int, since time.Duration, reachable bool) PeerState {
		ps := upPeer(n)
		ps.Reachable = reachable
		if since >= 0 {
			ps.LastContact = now.Add(-since)
		}
		return ps
	}
	for _, tc := range []struct {
		name    string
		peers   []PeerState
		holders []int
		want    []int
	}{
		{"contacted lately", []PeerState{peer(1, time.Minute, true)}, []int{1}, nil},
		{"exactly ProbeAfter ago", []PeerState{peer(1, 15*time.Minute, true)}, []int{1}, []int{1}},
		{"just under ProbeAfter", []PeerState{peer(1, 15*time.Minute-time.Second, true)}, []int{1}, nil},
		{"never contacted", []PeerState{peer(1, -1, true)}, []int{1}, []int{1}},
		// A holder down (in back-off) is probed still: it may be back.
		{"down, in back-off", []PeerState{peer(1, 20*time.Minute, false)}, []int{1}, []int{1}},
		{"unknown holder", nil, []int{1}, nil},
		{"not a holder", []PeerState{peer(1, time.Hour, true)}, nil, nil},
		{"holder listed twice", []PeerState{peer(1, time.Hour, true)}, []int{1, 1}, []int{1}},
		// Longest untried first, at most MaxProbes.
		{"oldest first, capped", []PeerState{peer(1, 20*time.Minute, true), peer(2, 2*time.Hour, true),
			peer(3, -1, false), peer(4, time.Hour, true), peer(5, time.Minute, true)},
			[]int{1, 2, 3, 4, 5}, []int{3, 2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := make(map[PeerID]PeerState)
			for _, ps := range tc.peers {
				peers[ps.ID] = ps
			}
			var holders, want []PeerID
			for _, h := range tc.holders {
				holders = append(holders, peerID(h))
			}
			for _, h := range tc.want {
				want = append(want, peerID(h))
			}
			if got := p.ProbesDue(now, holders, peers); !slices.Equal(got, want) {
				t.Fatalf("probes %v, want %v", got, want)
			}
		})
	}
}

// A holder that fails a probe and comes back is tried again, and seen,
// before its grace runs out: probes at ProbeAfter intervals fit about
// four times into OfflineGrace.
func TestProbesSeeReturnWithinGrace(t *testing.T) {
	p := mustNew(t, testDefaults())
	grace := p.Config().OfflineGrace
	h := peerID(1)
	ps := upPeer(1)
	ps.LastContact = t0
	now := t0
	down := t0.Add(time.Minute) // leaves a minute in; back 50 min later
	back := down.Add(50 * time.Minute)
	tries := 0
	for step := time.Minute; now.Before(t0.Add(2 * grace)); now = now.Add(step) {
		if len(p.ProbesDue(now, []PeerID{h}, map[PeerID]PeerState{h: ps})) == 0 {
			continue
		}
		tries++
		ps.LastContact = now
		if now.After(down) && now.Before(back) {
			if ps.Reachable {
				ps.Reachable, ps.OfflineSince = false, now
			}
		} else {
			ps.Reachable, ps.OfflineSince = true, time.Time{}
		}
		if !ps.Reachable && now.Sub(ps.OfflineSince) >= grace {
			t.Fatalf("at %v the holder is lost though back at %v", now.Sub(t0), back.Sub(t0))
		}
	}
	if !ps.Reachable || tries < 7 {
		t.Fatalf("after 2 graces: reachable %v, %d probes", ps.Reachable, tries)
	}
}
