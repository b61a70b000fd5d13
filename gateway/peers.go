package gateway

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"ishtar/node"
	"ishtar/shard"
)

var _ Peer = (*node.Client)(nil)

// Peer is what the gateway needs of one storage node; *node.Client
// satisfies it. Implementations must honour ctx, and report a shard the
// node does not hold with an error matching ErrShardNotFound (or
// node.ErrNotFound) and a refusal for lack of space with one matching
// ErrPeerFull (or node.ErrInsufficientStorage).
type Peer interface {
	// PutShard stores size bytes of body as shard id under the owner's
	// store grant and returns the node's signed receipt.
	PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error)
	// GetShard returns n bytes of shard id from offset off (n < 0: to the
	// end). Nothing it returns is trusted.
	GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error)
	// DeleteShard releases the owner's hold on shard id under a delete
	// grant.
	DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error
}

// receiptVerifier is implemented by peers whose PutShard returns only
// receipts whose signature it has verified against the node's pinned ID
// (*node.Client does); the gateway then skips verifying the signature a
// second time, and still checks what the receipt says.
type receiptVerifier interface {
	VerifiesReceipts() bool
}

var _ receiptVerifier = (*node.Client)(nil)

// PeerInfo is one storage node the gateway may use.
type PeerInfo struct {
	ID   shard.PublicKey
	Addr string // base URL, for logs and address diversity
	Free int64  // bytes, as last advertised (weights placement); <= 0 unknown
	Peer Peer
}

// Directory tells the gateway which storage peers exist. Discovery will
// come with the network; until then cmd builds a StaticDirectory.
type Directory interface {
	Peers() []PeerInfo // a snapshot; the gateway tracks health itself
}

// StaticDirectory is a fixed list of peers.
type StaticDirectory []PeerInfo

// Peers returns the list.
func (d StaticDirectory) Peers() []PeerInfo { return d }

// peerIndex maps node IDs to the directory's current peers.
func (g *Gateway) peerIndex() map[shard.PublicKey]PeerInfo {
	ps := g.dir.Peers()
	m := make(map[shard.PublicKey]PeerInfo, len(ps))
	for _, p := range ps {
		if p.Peer != nil && !p.ID.IsZero() {
			m[p.ID] = p
		}
	}
	return m
}

// health tracks each peer's recent behaviour: consecutive failures put a
// peer in exponential back-off (no placement, tried last for reads), a
// success clears it; a refusal for lack of space keeps a peer out of
// placement for a while without counting as a failure.
type health struct {
	mu        sync.Mutex
	peers     map[shard.PublicKey]*peerState
	base, max time.Duration
	now       func() time.Time
	log       *slog.Logger
}

type peerState struct {
	failures  int // consecutive
	until     time.Time
	fullUntil time.Time
	lastOK    time.Time
	lastFail  time.Time
	lastErr   string
	ok, fail  int64 // totals
}

func newHealth(base, max time.Duration, now func() time.Time, log *slog.Logger) *health {
	return &health{peers: make(map[shard.PublicKey]*peerState), base: base, max: max, now: now, log: log}
}

func (h *health) state(id shard.PublicKey) *peerState {
	s := h.peers[id]
	if s == nil {
		s = &peerState{}
		h.peers[id] = s
	}
	return s
}

// backedOff reports whether id is in failure back-off.
func (h *health) backedOff(id shard.PublicKey) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.peers[id]
	return s != nil && h.now().Before(s.until)
}

// placeable reports whether id may receive new shards now.
func (h *health) placeable(id shard.PublicKey) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.peers[id]
	if s == nil {
		return true
	}
	now := h.now()
	return !now.Before(s.until) && !now.Before(s.fullUntil)
}

// success records an answer from id.
func (h *health) success(id shard.PublicKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state(id)
	if s.failures > 0 {
		h.log.Info("gateway: peer answers again", "peer", id, "after_failures", s.failures)
	}
	s.failures, s.until = 0, time.Time{}
	s.lastOK = h.now()
	s.ok++
}

// failure records a failed request to id and extends its back-off. Only
// the transition into back-off is logged, so an offline peer does not
// flood the log.
func (h *health) failure(id shard.PublicKey, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state(id)
	now := h.now()
	s.failures++
	s.fail++
	s.lastFail, s.lastErr = now, err.Error()
	d := h.base << min(s.failures-1, 30)
	if d > h.max || d <= 0 {
		d = h.max
	}
	s.until = now.Add(d)
	if s.failures == 1 {
		h.log.Warn("gateway: peer failed, backing off", "peer", id, "backoff", d, "err", err)
	}
}

// full records that id refused a shard for lack of space.
func (h *health) full(id shard.PublicKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.state(id)
	s.fullUntil = h.now().Add(h.max)
	s.lastOK = h.now()
}

// snapshot returns a copy of id's state.
func (h *health) snapshot(id shard.PublicKey) peerState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.peers[id]; s != nil {
		return *s
	}
	return peerState{}
}

// observe records the outcome of one request to id made under ctx: a
// cancellation by the gateway itself (ctx done: the answer was no longer
// needed) says nothing about the peer.
func (g *Gateway) observe(ctx context.Context, id shard.PublicKey, err error) {
	switch {
	case err == nil:
		g.health.success(id)
	case ctx.Err() != nil:
	case isPeerFull(err):
		g.health.full(id)
	case isShardNotFound(err):
		g.health.success(id) // it answered
	default:
		g.health.failure(id, err)
	}
}
