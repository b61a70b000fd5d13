package segstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"ishtar/node"
	"ishtar/shard"
)

// testHealth returns a peerHealth with the default durations, on a clock
// the test moves, and a peer unknown to it.
func testHealth(t *testing.T) (*peerHealth, *time.Time, PeerInfo) {
	t.Helper()
	var cfg Config
	cfg.Defaults()
	now := time.Unix(1_000_000, 0)
	h := newPeerHealth(healthConfig{backoff: cfg.Backoff, backoffMax: cfg.BackoffMax, fullHold: cfg.FullHold, busyMax: cfg.BusyMax},
		func() time.Time { return now }, slog.New(slog.DiscardHandler))
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return h, &now, PeerInfo{ID: k.Public(), Addr: "http://10.0.0.1:7000", Peer: &fakePeer{}}
}

// busyErr is a node's busy answer with a Retry-After hint.
func busyErr(hint time.Duration) error {
	return fmt.Errorf("node: store: %w", &node.Error{Code: node.ErrBusy.Code, Status: node.ErrBusy.Status, RetryAfter: hint})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want verdict
		hint time.Duration
	}{
		{nil, verdictOK, 0},
		{fmt.Errorf("x: %w", ErrShardNotFound), verdictOK, 0},
		{fmt.Errorf("x: %w", node.ErrNotFound), verdictOK, 0},
		{node.ErrForbidden, verdictOK, 0},
		{fmt.Errorf("x: %w", node.ErrInsufficientStorage), verdictFull, 0},
		{fmt.Errorf("x: %w", ErrPeerFull), verdictFull, 0},
		{busyErr(3 * time.Second), verdictBusy, 3 * time.Second},
		{fmt.Errorf("x: %w", ErrPeerBusy), verdictBusy, 0},
		{&node.Error{Code: "http_429", Status: 429, RetryAfter: time.Second}, verdictBusy, time.Second},
		{errOffline, verdictUnreachable, 0},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), verdictUnreachable, 0},
		{fmt.Errorf("x: %w", io.ErrUnexpectedEOF), verdictUnreachable, 0},
		{node.ErrInternal, verdictUnreachable, 0},
		{&node.Error{Code: "http_503", Status: 503}, verdictUnreachable, 0},
		{node.ErrClockSkew, verdictUnreachable, 0},
		{fmt.Errorf("x: %w", node.ErrBadResponse), verdictLying, 0},
		{node.ErrCorrupt, verdictLying, 0},
		{fmt.Errorf("x: %w: y", errBadReceipt), verdictLying, 0},
		{fmt.Errorf("x: %w", shard.ErrCorrupt), verdictLying, 0},
	} {
		if v, hint := classify(tc.err); v != tc.want || hint != tc.hint {
			t.Errorf("classify(%v) = %v, %v; want %v, %v", tc.err, v, hint, tc.want, tc.hint)
		}
	}
}

// TestObserveIgnoresOwnCancellation: a request the store gave up says
// nothing about the peer.
func TestObserveIgnoresOwnCancellation(t *testing.T) {
	peers := somePeers(1, distinctAddr, noFree)
	store := placementStore(t, peers, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	store.observe(ctx, peers[0], 0, context.Canceled)
	if store.health.standing(peers[0], 1) != Usable {
		t.Fatal("own cancellation counted against the peer")
	}
	store.observe(context.Background(), peers[0], 0, context.DeadlineExceeded)
	if store.health.standing(peers[0], 1) != Down {
		t.Fatal("request timeout not counted")
	}
}

// TestHealthClasses: each class of answer has its own consequence, for
// its own time. The answers of a row come each once the consequence of
// the one before is over, unless in a burst.
func TestHealthClasses(t *testing.T) {
	const big = 1 << 20
	var cfg Config
	cfg.Defaults()
	for _, tc := range []struct {
		name       string
		err        error
		times      int      // answers
		burst      bool     // all at once
		now, small Standing // for a shard of big bytes, of big/2
		failures   int      // consecutive
		lies       int
		lasts      time.Duration // then Usable again without any answer
	}{
		{"full", fmt.Errorf("x: %w", node.ErrInsufficientStorage), 3, false, NoRoom, Usable, 0, 0, cfg.FullHold},
		{"busy with a hint, never exponential", busyErr(2 * time.Second), 3, false, BusyNow, BusyNow, 0, 0, 2 * time.Second},
		{"busy, hint over the cap", busyErr(time.Hour), 1, false, BusyNow, BusyNow, 0, 0, cfg.BusyMax},
		{"busy without a hint", ErrPeerBusy, 1, false, BusyNow, BusyNow, 0, 0, busyDefault},
		{"429", &node.Error{Code: "http_429", Status: 429}, 1, false, BusyNow, BusyNow, 0, 0, busyDefault},
		{"unreachable, exponential", errOffline, 3, false, Down, Down, 3, 0, 4 * cfg.Backoff},
		{"unreachable, a burst counts once", errOffline, 5, true, Down, Down, 1, 0, cfg.Backoff},
		{"lying never blocks", node.ErrBadResponse, 2, false, Usable, Usable, 0, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, now, p := testHealth(t)
			for k := range tc.times {
				h.record(p, big, tc.err)
				if k < tc.times-1 && !tc.burst {
					*now = now.Add(over(h, p, *now))
				}
			}
			if st, small := h.standing(p, big), h.standing(p, big/2); st != tc.now || small != tc.small {
				t.Fatalf("standing %v (big), %v (small); want %v, %v", st, small, tc.now, tc.small)
			}
			var ps PeerStats
			h.stats(p, &ps)
			failed := 0
			if tc.now == Down {
				failed = tc.times
			}
			if ps.Failures != tc.failures || ps.Lies != int64(tc.lies) || ps.Failed != int64(failed) {
				t.Fatalf("stats %+v, want %d failures in a row, %d in all, %d lies", ps, tc.failures, failed, tc.lies)
			}
			if want := 1 / (1 + float64(tc.lies)); math.Abs(ps.Reputation-want) > 1e-9 || h.reputation(p.ID) != ps.Reputation {
				t.Fatalf("reputation %v, want %v", ps.Reputation, want)
			}
			switch tc.now {
			case NoRoom:
				if ps.FullUntil.IsZero() || ps.Room != big-1 {
					t.Fatalf("stats of a full peer: %+v", ps)
				}
			case BusyNow:
				if ps.BusyUntil.IsZero() || h.busyLeft(p.ID) != tc.lasts {
					t.Fatalf("stats of a busy peer: %+v, busy for %v", ps, h.busyLeft(p.ID))
				}
			case Down:
				if ps.BackoffUntil.IsZero() || !h.avoid(p) {
					t.Fatalf("stats of an unreachable peer: %+v", ps)
				}
			}
			*now = now.Add(tc.lasts - 1)
			if st := h.standing(p, big); st != tc.now {
				t.Fatalf("%v before its time is up: %v", tc.now, st)
			}
			*now = now.Add(1)
			if st := h.standing(p, big); st != Usable {
				t.Fatalf("after %v: %v, want Usable", tc.lasts, st)
			}
		})
	}
}

// over returns how long the consequence of p's last answer lasts still.
func over(h *peerHealth, p PeerInfo, now time.Time) time.Duration {
	var ps PeerStats
	h.stats(p, &ps)
	var d time.Duration
	for _, until := range []time.Time{ps.BackoffUntil, ps.BusyUntil, ps.FullUntil} {
		if !until.IsZero() {
			d = max(d, until.Sub(now))
		}
	}
	return d
}

// Demerits fade: a lie weighs half after lieHalfLife.
func TestReputationFades(t *testing.T) {
	h, now, p := testHealth(t)
	h.lied(p.ID, errors.New("bad bytes"))
	if r := h.reputation(p.ID); r != 0.5 {
		t.Fatalf("reputation after one lie %v", r)
	}
	*now = now.Add(lieHalfLife)
	if r := h.reputation(p.ID); math.Abs(r-1/1.5) > 1e-9 {
		t.Fatalf("reputation a half-life later %v, want %v", r, 1/1.5)
	}
}

// TestHealthRecovery: a peer is taken back as soon as it answers again
// or the directory shows a newer record, without waiting out a back-off.
func TestHealthRecovery(t *testing.T) {
	const big = 1 << 20
	for _, tc := range []struct {
		name       string
		first      error
		then       func(h *peerHealth, p *PeerInfo, now time.Time)
		big, small Standing
	}{
		{"unreachable, then a good answer", errOffline,
			func(h *peerHealth, p *PeerInfo, _ time.Time) { h.record(*p, 0, nil) }, Usable, Usable},
		{"unreachable, then a busy answer", errOffline,
			func(h *peerHealth, p *PeerInfo, _ time.Time) { h.record(*p, 0, busyErr(time.Second)) }, BusyNow, BusyNow},
		{"unreachable, then a newer record", errOffline,
			func(h *peerHealth, p *PeerInfo, now time.Time) { p.Seen, p.Free = now, 10*big }, Usable, Usable},
		{"unreachable, an older record", errOffline,
			func(h *peerHealth, p *PeerInfo, now time.Time) { p.Seen, p.Free = now.Add(-2*time.Millisecond), 10*big }, Down, Down},
		{"a record without room", nil,
			func(h *peerHealth, p *PeerInfo, now time.Time) { p.Seen, p.Free = now, 0 }, NoRoom, NoRoom},
		{"full, a newer record with room", ErrPeerFull,
			func(h *peerHealth, p *PeerInfo, now time.Time) { p.Seen, p.Free = now, 10*big }, Usable, Usable},
		{"full, a newer record without room", ErrPeerFull,
			func(h *peerHealth, p *PeerInfo, now time.Time) { p.Seen, p.Free = now, big/2 }, NoRoom, Usable},
		{"full, a shard stored", ErrPeerFull,
			func(h *peerHealth, p *PeerInfo, _ time.Time) { h.record(*p, big/2, nil) }, Usable, Usable},
		{"full, a read answered", ErrPeerFull,
			func(h *peerHealth, p *PeerInfo, _ time.Time) { h.record(*p, 0, nil) }, NoRoom, Usable},
		{"busy, a good answer", busyErr(time.Second),
			func(h *peerHealth, p *PeerInfo, _ time.Time) { h.record(*p, 0, nil) }, Usable, Usable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, now, p := testHealth(t)
			h.record(p, big, tc.first)
			*now = now.Add(time.Millisecond)
			tc.then(h, &p, *now)
			if st, small := h.standing(p, big), h.standing(p, big/2); st != tc.big || small != tc.small {
				t.Fatalf("standing %v (big), %v (small); want %v, %v", st, small, tc.big, tc.small)
			}
		})
	}
}
