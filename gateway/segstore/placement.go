package segstore

import (
	"math"
	"sync"

	"ishtar/meta"
	"ishtar/node/peers"
	"ishtar/shard"
)

// Placement is weighted rendezvous hashing (highest random weight): for
// shard i of segment s, every peer p gets the score w_p / -ln(u), where u
// in (0, 1) comes from SHA-256(p || s || i) and w_p is the peer's free
// space. The highest score wins; this draws each peer with probability
// proportional to its weight, needs no shared state, and moves only the
// shards of a peer that comes or goes. The N shards of a segment go to N
// distinct peers (and, with AddressDiversity, N distinct address blocks),
// so one operator posing as many peers on one network cannot hold K of
// them.

// Peers are ranked by standing first (see peerHealth): Usable peers by
// score, creditors (PeerInfo.Creditor) before the others, then, only when too few usable ones are left for a segment, busy
// peers, peers with too little room and peers in back-off, in that order.
// A peer's reputation multiplies its weight, so a peer caught lying gets
// fewer shards but is never shut out; so does its uptime, when the
// directory knows it, so peers online more often hold more.

// candidate is a peer eligible for a segment's shards.
type candidate struct {
	info   PeerInfo
	weight float64
	group  string // address block, for diversity
}

// placer hands out the peers of one segment's shards. It is safe for
// concurrent use by the segment's shard uploads.
type placer struct {
	seg       meta.SegmentID
	size      int64 // bytes per shard
	diversity bool
	health    *peerHealth

	mu     sync.Mutex
	cands  []candidate
	tried  map[shard.PublicKey]bool
	groups map[string]int // groups holding or being offered a shard
}

// newPlacer ranks the directory's peers for the shards of segment seg,
// size bytes each: never Self unless AllowSelf.
func (s *Store) newPlacer(seg meta.SegmentID, size int64) *placer {
	infos := s.cfg.Directory.Peers()
	pl := &placer{seg: seg, size: size, diversity: s.cfg.AddressDiversity, health: s.health,
		tried: make(map[shard.PublicKey]bool), groups: make(map[string]int)}
	seen := make(map[shard.PublicKey]bool, len(infos))
	var known float64
	var nKnown int
	for _, p := range infos {
		if p.Peer == nil || p.ID.IsZero() || p.Unplaceable || seen[p.ID] || (p.ID == s.cfg.Self && !s.cfg.AllowSelf) {
			continue
		}
		seen[p.ID] = true
		c := candidate{info: p, group: peers.AddressBlock(p.Addr)}
		if p.Free > 0 {
			c.weight = float64(p.Free)
			known += c.weight
			nKnown++
		}
		pl.cands = append(pl.cands, c)
	}
	// Peers that did not say how much room they have weigh as the average.
	avg := 1.0
	if nKnown > 0 {
		avg = known / float64(nKnown)
	}
	for i := range pl.cands {
		if pl.cands[i].weight == 0 {
			pl.cands[i].weight = avg
		}
		pl.cands[i].weight = Weight(pl.cands[i].weight, s.health.reputation(pl.cands[i].info.ID), pl.cands[i].info.Uptime)
	}
	return pl
}

// best returns the best untried candidate for shard index whose address
// group holds no other shard of the segment, and its standing; -1 if
// none. The caller holds mu.
func (pl *placer) best(index int) (int, Standing) {
	best, bestSt, bestCr, bestScore := -1, Usable, false, math.Inf(-1)
	for i, c := range pl.cands {
		if pl.tried[c.info.ID] || (pl.diversity && pl.groups[c.group] > 0) {
			continue
		}
		st, cr := pl.health.standing(c.info, pl.size), c.info.Creditor
		if best >= 0 && (st > bestSt || (st == bestSt && bestCr && !cr)) {
			continue
		}
		if s := Score(c.info.ID, pl.seg, index, c.weight); best < 0 || st < bestSt || cr != bestCr || s > bestScore {
			best, bestSt, bestCr, bestScore = i, st, cr, s
		}
	}
	return best, bestSt
}

// take marks candidate i taken.
func (pl *placer) take(i int) PeerInfo {
	c := pl.cands[i]
	pl.tried[c.info.ID] = true
	pl.groups[c.group]++
	return c.info
}

// pick returns the best untried peer for shard index and marks it taken.
func (pl *placer) pick(index int) (PeerInfo, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	i, _ := pl.best(index)
	if i < 0 {
		return PeerInfo{}, false
	}
	return pl.take(i), true
}

// next returns the peer to try shard index on after an attempt on failed:
// the best untried one, or failed again if it was busy (again) and no
// untried peer is better than a busy one. failed frees its address group
// unless it is tried again.
func (pl *placer) next(index int, failed PeerInfo, again bool) (PeerInfo, bool) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	group := peers.AddressBlock(failed.Addr)
	pl.groups[group]--
	i, st := pl.best(index)
	if again && (i < 0 || st > BusyNow) {
		pl.groups[group]++
		return failed, true
	}
	if i < 0 {
		return PeerInfo{}, false
	}
	return pl.take(i), true
}

// Groups returns how many distinct places the directory offers a shard of
// size bytes now: address blocks with AddressDiversity, else peers; never
// Self unless AllowSelf, and no peer known to lack the room. A segment of
// N shards needs N of them; the gateway picks a segment's code by it.
func (s *Store) Groups(size int64) int {
	pl := s.newPlacer(meta.SegmentID{}, size)
	groups := make(map[string]bool, len(pl.cands))
	for _, c := range pl.cands {
		if s.health.standing(c.info, size) == NoRoom {
			continue
		}
		g := c.group
		if !s.cfg.AddressDiversity {
			g = string(c.info.ID[:])
		}
		groups[g] = true
	}
	return len(groups)
}
