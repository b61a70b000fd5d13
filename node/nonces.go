package node

import (
	"hash/maphash"
	"sync"
	"time"

	"ishtar/shard"
)

// nonceStore remembers the (node, nonce) pairs of the signed requests
// accepted within the clock window, so that none is accepted twice. Its
// memory is bounded by max entries whatever the callers' rate:
//
//   - Pairs are kept as 64-bit keyed hashes (maphash with a random seed,
//     so nobody can aim for a collision; a chance collision refuses one
//     request as a replay), grouped by the second their request is
//     stamped with. A replay carries the same signed stamp, so it is
//     looked up in one group; groups leave with the window.
//   - Under pressure (three quarters full) requests stamped more than
//     minAhead seconds ahead of the node's clock are refused: only fast
//     clocks and attackers stamp ahead, and pairs stamped in the future
//     would pin memory longest.
//   - When full, the oldest second is forgotten and requests stamped at
//     or before it are refused from then on (floor): the window shrinks
//     from its old end. A caller's own requests arrive within seconds of
//     being signed, so honest callers are unaffected unless the store
//     fills within minKeep seconds, far beyond the signatures a node can
//     verify in that time, and the rate limits refuse heavy callers long
//     before. If it does, new requests are refused until room returns.
//
// A refusal for lack of room is ErrBusy: the caller signs again later.
type nonceStore struct {
	mu     sync.Mutex
	window int64 // seconds
	max    int
	seed   maphash.Seed
	secs   map[int64]map[uint64]struct{}
	n      int
	lo     int64 // no second below lo holds pairs
	floor  int64 // requests stamped at or before floor are refused
	ahead  int64 // how far ahead of the clock a new stamp may be
}

const (
	minAhead = 2 // seconds ahead accepted under pressure
	minKeep  = 5 // the newest seconds are never forgotten
)

func newNonceStore(window time.Duration, max int) *nonceStore {
	w := int64(window / time.Second)
	return &nonceStore{window: w, max: max, seed: maphash.MakeSeed(),
		secs: make(map[int64]map[uint64]struct{}), ahead: w}
}

// add records the nonce of a request stamped ts (unix seconds, already
// checked to be within the window of now); it fails if the pair was seen
// (ErrReplayed) or there is no room for it (ErrBusy).
func (c *nonceStore) add(now time.Time, ts int64, node shard.PublicKey, nonce [nonceLen]byte) error {
	h := maphash.Comparable(c.seed, nonceKey{node, nonce})
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now.Unix()
	c.expire(t - c.window)
	switch {
	case c.n >= c.max*3/4:
		c.ahead = minAhead
	case c.n < c.max/2:
		c.ahead = c.window
	}
	switch {
	case ts > t+c.ahead:
		return busyFor(0, "under load, requests stamped more than %d s ahead of this node's clock are refused", c.ahead)
	case ts <= c.floor:
		return busyFor(0, "under load, this node remembers requests stamped after %d only; sign again", c.floor)
	}
	m := c.secs[ts]
	if _, seen := m[h]; seen {
		return ErrReplayed
	}
	if c.n >= c.max && !c.forgetOldest(t-minKeep) {
		return busyFor(0, "too many requests in the replay window")
	}
	if m == nil {
		m = make(map[uint64]struct{})
		c.secs[ts] = m
		c.lo = min(c.lo, ts)
		if c.n == 0 {
			c.lo = ts
		}
	}
	m[h] = struct{}{}
	c.n++
	return nil
}

type nonceKey struct {
	node  shard.PublicKey
	nonce [nonceLen]byte
}

// expire drops the seconds before oldest.
func (c *nonceStore) expire(oldest int64) {
	if c.n == 0 {
		return
	}
	if oldest-c.lo > int64(len(c.secs)) {
		// A long idle time: fewer groups than seconds to step through.
		for s, m := range c.secs {
			if s < oldest {
				c.n -= len(m)
				delete(c.secs, s)
			}
		}
		c.lo = max(c.lo, oldest)
		return
	}
	for ; c.lo < oldest; c.lo++ {
		if m, ok := c.secs[c.lo]; ok {
			c.n -= len(m)
			delete(c.secs, c.lo)
		}
	}
}

// forgetOldest drops the oldest second that holds pairs, if it is before
// keep, and raises the floor to it.
func (c *nonceStore) forgetOldest(keep int64) bool {
	for ; c.lo < keep; c.lo++ {
		if m, ok := c.secs[c.lo]; ok {
			c.n -= len(m)
			delete(c.secs, c.lo)
			c.floor = max(c.floor, c.lo)
			c.lo++
			return true
		}
	}
	return false
}

// size returns the number of pairs remembered.
func (c *nonceStore) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
