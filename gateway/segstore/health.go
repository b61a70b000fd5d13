package segstore

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"ishtar/node"
	"ishtar/shard"
)

// Peer health. Every answer of a peer is put in one class (classify), and
// each class has its own consequence; none of them blocks work on its own:
//
//   - full (507, ErrPeerFull): the peer has less room than the shard it
//     refused. Shards that large go elsewhere until the directory shows a
//     newer record of the peer (PeerInfo.Seen; its Free counts then) or
//     Config.FullHold passes; smaller shards still go. A stored shard ends
//     it.
//   - busy (503 busy, ErrPeerBusy, 429): set aside for its Retry-After hint
//     (1 s without one), at most Config.BusyMax. Never a failure, never
//     exponential.
//   - unreachable (refused or reset connections, timeouts, other 5xx and
//     refusals): back-off from Config.Backoff, doubling with each failure
//     after one ended, up to Config.BackoffMax; any proper answer or a
//     newer directory record ends it.
//   - lying (bytes that do not match the shard, bad receipts, malformed
//     answers): a demerit, which lowers the peer's reputation; reputation
//     weighs placement and orders reads after honest peers. Demerits halve
//     every lieHalfLife.
//
// Placement ranks peers by standing and falls back on the best of the
// others when too few are usable; reads and releases go to avoided peers
// last. peerHealth is meant to move into a peer registry: its interface
// is record (one answer), lied (a lie found later, by a read or an
// audit), standing, avoid, reputation, busyLeft, downLeft and stats.

// verdict is the class of one answer of a peer.
type verdict int8

const (
	verdictOK          verdict = iota // a good answer, or a plain "not here"
	verdictFull                       // no room for the shard
	verdictBusy                       // try again shortly
	verdictUnreachable                // no answer, or a failure
	verdictLying                      // an answer that is not what was asked
)

func (v verdict) String() string {
	return [...]string{"ok", "full", "busy", "unreachable", "lying"}[v]
}

// ErrPeerBusy: the node is too busy for the request now (node.ErrBusy is
// recognised too); it is asked again after a short while, never counted as
// a failure.
var ErrPeerBusy = errors.New("segstore: peer busy; try again shortly")

// classify returns the class of err, the outcome of one request to a peer,
// and for a busy peer the delay it asked for (0: none given).
func classify(err error) (verdict, time.Duration) {
	var ne *node.Error
	switch {
	case err == nil, isShardNotFound(err), isNotHeldForOwner(err):
		return verdictOK, 0
	case isPeerFull(err):
		return verdictFull, 0
	case errors.Is(err, ErrPeerBusy), errors.Is(err, node.ErrBusy),
		errors.As(err, &ne) && ne.Status == http.StatusTooManyRequests:
		if errors.As(err, &ne) {
			return verdictBusy, ne.RetryAfter
		}
		return verdictBusy, 0
	case errors.Is(err, errBadReceipt), errors.Is(err, node.ErrBadResponse),
		errors.Is(err, node.ErrCorrupt), errors.Is(err, shard.ErrCorrupt):
		return verdictLying, 0
	}
	return verdictUnreachable, 0
}

// Standing is how fit a peer is for new work now, best first.
type Standing int8

const (
	Usable  Standing = iota
	BusyNow          // asked to come back in a moment
	NoRoom           // too little room for the shard, as far as is known
	Down             // in back-off after failures
)

const (
	// busyDefault is how long a busy peer that gave no hint is set aside.
	busyDefault = time.Second
	// lieHalfLife is how fast demerits fade.
	lieHalfLife = time.Hour
	// suspectAt is the demerit weight from which a peer's lies are logged
	// again and its reads come after honest peers'.
	suspectAt = 0.1
)

// healthConfig are the durations of peerHealth (see Config).
type healthConfig struct {
	backoff, backoffMax, fullHold, busyMax time.Duration
}

// peerHealth tracks what each peer's answers said. It is safe for
// concurrent use and logs only changes of state.
type peerHealth struct {
	cfg   healthConfig
	now   func() time.Time
	log   *slog.Logger
	mu    sync.Mutex
	peers map[shard.PublicKey]*peerState
}

// peerState is what is known of one peer.
type peerState struct {
	failures  int // consecutive (unreachable)
	downUntil time.Time
	lastFail  time.Time
	lastErr   string
	busyUntil time.Time
	fullAt    time.Time // zero: not full
	room      int64     // bytes free at most, while full
	demerits  float64   // as of demerAt
	demerAt   time.Time
	lastOK    time.Time // last answer of any kind but a failure

	ok, fail, refused, lies int64 // totals
}

func newPeerHealth(cfg healthConfig, now func() time.Time, log *slog.Logger) *peerHealth {
	return &peerHealth{cfg: cfg, now: now, log: log, peers: make(map[shard.PublicKey]*peerState)}
}

func (h *peerHealth) state(id shard.PublicKey) *peerState {
	s := h.peers[id]
	if s == nil {
		s = &peerState{}
		h.peers[id] = s
	}
	return s
}

// record notes one answer of p: err is its outcome, stored the size of the
// shard it was asked to store (0 for any other request).
func (h *peerHealth) record(p PeerInfo, stored int64, err error) {
	v, hint := classify(err)
	h.mu.Lock()
	defer h.mu.Unlock()
	s, now := h.state(p.ID), h.now()
	if v == verdictOK || v == verdictFull || v == verdictBusy {
		// A proper answer, even a refusal: the peer is reachable.
		h.answered(p.ID, s, "answer")
		s.lastOK = now
	}
	switch v {
	case verdictOK:
		if stored > 0 && !s.fullAt.IsZero() {
			h.log.Info("segstore: peer has room again", "peer", p.ID, "stored", stored)
			s.fullAt = time.Time{}
		}
		s.busyUntil = time.Time{}
		s.ok++
	case verdictFull:
		h.full(p, s, stored, err)
	case verdictBusy:
		d := hint
		if d <= 0 {
			d = busyDefault
		}
		d = min(d, h.cfg.busyMax)
		if !now.Before(s.busyUntil) {
			h.log.Debug("segstore: peer busy, setting it aside", "peer", p.ID, "for", d, "err", err)
		}
		s.busyUntil = now.Add(d)
		s.refused++
	case verdictUnreachable:
		h.failed(p.ID, s, err)
	case verdictLying:
		h.lie(p.ID, s, err)
	}
}

// lied records that p's answer was found false after the fact (a shard
// that does not match its ID, an audit failed).
func (h *peerHealth) lied(id shard.PublicKey, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lie(id, h.state(id), err)
}

// answered ends an unreachable peer's back-off; why is logged.
func (h *peerHealth) answered(id shard.PublicKey, s *peerState, why string) {
	if s.failures > 0 {
		h.log.Info("segstore: peer answers again", "peer", id, "after_failures", s.failures, "seen_by", why)
	}
	s.failures, s.downUntil = 0, time.Time{}
}

// failed puts an unreachable peer in back-off, or doubles it if the last
// one was over: failures of requests made meanwhile (sent before, or to
// the peer as a last resort) tell nothing new, so a burst of them counts
// once and a peer back after an outage is taken back within about the
// outage's length. Only the first failure is logged, so an offline peer
// does not flood the log.
func (h *peerHealth) failed(id shard.PublicKey, s *peerState, err error) {
	now := h.now()
	s.fail++
	s.lastFail, s.lastErr = now, err.Error()
	if now.Before(s.downUntil) {
		return
	}
	s.failures++
	d := h.cfg.backoff << min(s.failures-1, 30)
	if d > h.cfg.backoffMax || d <= 0 {
		d = h.cfg.backoffMax
	}
	s.downUntil = now.Add(d)
	if s.failures == 1 {
		h.log.Warn("segstore: peer failed, backing off", "peer", id, "backoff", d, "err", err)
	}
}

// full notes that p refused a shard of size bytes for lack of room: it has
// fewer than size bytes free, and no more than its record says.
func (h *peerHealth) full(p PeerInfo, s *peerState, size int64, err error) {
	now := h.now()
	room := max(size-1, 0)
	if free, known := recordRoom(p); known {
		room = min(room, free)
	}
	if h.isFull(s, now) {
		room = min(room, s.room)
	} else {
		h.log.Warn("segstore: peer full, larger shards go elsewhere", "peer", p.ID, "room", room, "err", err)
	}
	s.fullAt, s.room = now, room
	s.refused++
}

func (h *peerHealth) isFull(s *peerState, now time.Time) bool {
	return !s.fullAt.IsZero() && now.Sub(s.fullAt) < h.cfg.fullHold
}

// lie adds a demerit.
func (h *peerHealth) lie(id shard.PublicKey, s *peerState, err error) {
	now := h.now()
	d := decay(s.demerits, s.demerAt, now)
	if d < suspectAt {
		h.log.Warn("segstore: peer answered falsely, lowering its reputation", "peer", id, "err", err)
	}
	s.demerits, s.demerAt = d+1, now
	s.lies++
}

// decay returns demerits d as of at, faded to now.
func decay(d float64, at, now time.Time) float64 {
	if d == 0 {
		return 0
	}
	return d * math.Exp2(-float64(now.Sub(at))/float64(lieHalfLife))
}

// recordRoom returns the free space p's directory record advertises, and
// whether it is known: a record seen says it, else Free > 0 does.
func recordRoom(p PeerInfo) (int64, bool) {
	return p.Free, p.Free > 0 || !p.Seen.IsZero()
}

// refresh applies a directory record newer than what s knows: the peer
// answered it, so a back-off ends, and its free space replaces the room
// last inferred from a refusal.
func (h *peerHealth) refresh(p PeerInfo, s *peerState) {
	if p.Seen.IsZero() {
		return
	}
	if s.failures > 0 && p.Seen.After(s.lastFail) {
		h.answered(p.ID, s, "directory")
	}
	if !s.fullAt.IsZero() && p.Seen.After(s.fullAt) {
		if p.Free > s.room {
			h.log.Info("segstore: peer has room again", "peer", p.ID, "free", p.Free)
		}
		s.fullAt = time.Time{}
	}
}

// standing returns how fit p is now for a shard of size bytes (0: for a
// read or a delete).
func (h *peerHealth) standing(p PeerInfo, size int64) Standing {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	s := h.peers[p.ID]
	if s != nil {
		h.refresh(p, s)
	}
	room, known := recordRoom(p)
	if s != nil && h.isFull(s, now) {
		room, known = s.room, true
	}
	switch {
	case s != nil && now.Before(s.downUntil):
		return Down
	case known && size > room:
		return NoRoom
	case s != nil && now.Before(s.busyUntil):
		return BusyNow
	}
	return Usable
}

// avoid reports whether reads and deletes should go to p only when no
// other peer will do: it is in back-off or busy.
func (h *peerHealth) avoid(p PeerInfo) bool {
	st := h.standing(p, 0)
	return st == Down || st == BusyNow
}

// reputation returns a weight in (0, 1]: 1 for a peer that never lied,
// 1/(1+d) for one with d demerits (each lie one, halving every
// lieHalfLife).
func (h *peerHealth) reputation(id shard.PublicKey) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.peers[id]
	if s == nil {
		return 1
	}
	return 1 / (1 + decay(s.demerits, s.demerAt, h.now()))
}

// downLeft returns how long p's back-off lasts still.
func (h *peerHealth) downLeft(p PeerInfo) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.peers[p.ID]
	if s == nil {
		return 0
	}
	h.refresh(p, s)
	return max(s.downUntil.Sub(h.now()), 0)
}

// busyLeft returns how long id asked to be left alone still.
func (h *peerHealth) busyLeft(id shard.PublicKey) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.peers[id]; s != nil {
		return max(s.busyUntil.Sub(h.now()), 0)
	}
	return 0
}

// stats fills the health fields of ps, p's entry in Stats.
func (h *peerHealth) stats(p PeerInfo, ps *PeerStats) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ps.Reputation = 1
	s := h.peers[p.ID]
	if s == nil {
		return
	}
	h.refresh(p, s)
	now := h.now()
	ps.Failures, ps.LastOK, ps.LastError = s.failures, s.lastOK, s.lastErr
	ps.OK, ps.Failed, ps.Refused, ps.Lies = s.ok, s.fail, s.refused, s.lies
	ps.Reputation = 1 / (1 + decay(s.demerits, s.demerAt, now))
	if now.Before(s.downUntil) {
		ps.BackoffUntil = s.downUntil
	}
	if now.Before(s.busyUntil) {
		ps.BusyUntil = s.busyUntil
	}
	if h.isFull(s, now) {
		ps.FullUntil, ps.Room = s.fullAt.Add(h.cfg.fullHold), s.room
	}
}
