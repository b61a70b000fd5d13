package policy

import (
	"math/bits"
	"time"

	"ishtar/shard"
)

// PeerID names a peer: its node key.
type PeerID = shard.PublicKey

// SegmentID names a segment: the bytes of meta.SegmentID.
type SegmentID [24]byte

// PeerState is what the policy needs to know of a peer, from the peer
// registry (peers.Peer) and the gateway's own view of it.
type PeerState struct {
	ID PeerID
	// Block is its address block (peers.AddressBlock), for RepairTargets.
	Block string
	// Reachable: the peer answers now (its last contact succeeded, it is
	// not in back-off).
	Reachable bool
	// OfflineSince, for a peer not Reachable, is its first failed contact
	// since its last success: it has been seen down since then. (Not the
	// registry's LastSeen, its last success, which may be hours before
	// anyone tried again: a peer rarely contacted would be lost at its
	// first failure.) Zero, for a peer not Reachable: down since now.
	OfflineSince time.Time
	// LastContact is the last time anyone tried the peer, whatever the
	// outcome (zero: never): ProbesDue probes holders not tried lately.
	LastContact time.Time
	// Reputation in (0, 1]: 1 for a peer never caught lying.
	Reputation float64
	// Placeable: fit for new shards (peers.Peer.Placeable).
	Placeable bool
}

// ShardState is what the catalog knows of one stored shard.
type ShardState struct {
	ID     shard.ID
	Index  int    // its index in the segment, 0 to N-1
	Holder PeerID // the node that stores it
	Size   int64  // bytes
	// LeaseExpiry is when its lease lapses (zero: unknown, never lapses).
	LeaseExpiry time.Time
	// LastAudit is the last completed audit; set it to the time the shard
	// was stored (its receipt proves storage then). Zero: audit at once.
	LastAudit time.Time
	// AuditFailures counts consecutive failed audits.
	AuditFailures int
	// NotHeld: the holder said it does not hold the shard.
	NotHeld bool
	// RecheckAt, if not zero, is when a failed audit is checked again.
	RecheckAt time.Time
}

// SegmentState is a segment and every shard record it has: at most one
// per index is usual, but a repaired index may keep its old record until
// the caller drops it, and an index never stored has none.
type SegmentState struct {
	ID SegmentID
	// K and N are its code; zero, or not a valid code: the policy's
	// (Config.K, Config.N). A segment of another code than the policy's
	// is repaired at RepairThresholdFor(K, N).
	K, N int
	// ShardSize is the size of each of its shards; zero: the largest
	// Size of Shards.
	ShardSize int64
	Shards    []ShardState
}

// Health is a shard's state.
type Health uint8

const (
	// Healthy: held by a reachable peer, nothing says it is gone.
	Healthy Health = iota
	// Away: held by a peer unreachable for less than OfflineGrace. It
	// counts as healthy and causes no repair, but cannot be read now.
	Away
	// Lost: not to be counted on any more (see LostReason).
	Lost
)

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Away:
		return "away"
	case Lost:
		return "lost"
	}
	return "health?"
}

// LostReason says why a shard is lost.
type LostReason uint8

const (
	NotLost      LostReason = iota
	NotHeld                 // its holder said it does not hold it
	AuditFailed             // FailuresToLose consecutive audits failed
	LeaseExpired            // its lease lapsed: the holder may delete it
	PeerGone                // the registry no longer knows its holder
	Offline                 // its holder has been unreachable for OfflineGrace or more
)

func (r LostReason) String() string {
	switch r {
	case NotLost:
		return "not lost"
	case NotHeld:
		return "not held"
	case AuditFailed:
		return "audit failed"
	case LeaseExpired:
		return "lease expired"
	case PeerGone:
		return "peer gone"
	case Offline:
		return "offline"
	}
	return "reason?"
}

// ShardHealth is a shard's Health and, if Lost, why.
type ShardHealth struct {
	Health Health
	Reason LostReason
}

// Shard judges one shard at now. peer is its holder's state; known is
// false if the registry no longer knows the holder (then the shard is
// lost: PeerGone).
//
// The peer's reputation plays no part: a shard is lost on evidence about
// that shard (an admission, two failed audits, a lapsed lease) or its
// holder's long absence, never on what the peer did elsewhere. A low
// reputation makes its shards audited sooner (ChooseAudits), so real
// loss shows within days without a repair storm for each demerit.
func (p Policy) Shard(now time.Time, s ShardState, peer PeerState, known bool) ShardHealth {
	cls := classGone
	if known {
		cls = p.classify(now, &peer)
	}
	return p.shardWith(now, &s, cls)
}

// peerClass is what a holder's state means for its shards at one now.
type peerClass uint8

const (
	classGone    peerClass = iota // unknown to the registry
	classUp                       // reachable
	classSuspect                  // reachable, reputation at or below SuspectReputation
	classAway                     // unreachable for less than OfflineGrace
	classOffline                  // unreachable for OfflineGrace or more
)

func (p Policy) classify(now time.Time, ps *PeerState) peerClass {
	switch {
	case ps.Reachable && ps.Reputation <= p.c.SuspectReputation:
		return classSuspect
	case ps.Reachable:
		return classUp
	case !ps.OfflineSince.IsZero() && now.Sub(ps.OfflineSince) >= p.c.OfflineGrace:
		return classOffline
	}
	return classAway
}

// classes gives the class of each holder. For many shards it classifies
// every peer once (allClasses), so that each shard costs one small map
// lookup and no time arithmetic; for a few it looks each holder up
// (holderClasses).
type classes struct {
	m     map[PeerID]peerClass
	p     *Policy
	now   time.Time
	peers map[PeerID]PeerState
}

func (p *Policy) allClasses(now time.Time, peers map[PeerID]PeerState) classes {
	m := make(map[PeerID]peerClass, len(peers))
	for id, ps := range peers {
		m[id] = p.classify(now, &ps)
	}
	return classes{m: m}
}

func (p *Policy) holderClasses(now time.Time, peers map[PeerID]PeerState) classes {
	return classes{p: p, now: now, peers: peers}
}

func (c *classes) of(id PeerID) peerClass {
	if c.m != nil {
		if cls, ok := c.m[id]; ok {
			return cls
		}
		return classGone
	}
	if ps, ok := c.peers[id]; ok {
		return c.p.classify(c.now, &ps)
	}
	return classGone
}

func (p Policy) shardWith(now time.Time, s *ShardState, cls peerClass) ShardHealth {
	switch {
	case s.NotHeld:
		return ShardHealth{Lost, NotHeld}
	case s.AuditFailures >= FailuresToLose:
		return ShardHealth{Lost, AuditFailed}
	case !s.LeaseExpiry.IsZero() && !now.Before(s.LeaseExpiry):
		return ShardHealth{Lost, LeaseExpired}
	}
	switch cls {
	case classUp, classSuspect:
		return ShardHealth{Healthy, NotLost}
	case classAway:
		return ShardHealth{Away, NotLost}
	case classOffline:
		return ShardHealth{Lost, Offline}
	}
	return ShardHealth{Lost, PeerGone}
}

// SegmentStatus is what a segment needs.
type SegmentStatus uint8

const (
	// SegmentOK: more than RepairThreshold healthy shards.
	SegmentOK SegmentStatus = iota
	// SegmentRepair: RepairThreshold or fewer healthy shards, and at least
	// K readable now to rebuild from.
	SegmentRepair
	// SegmentWaiting: it needs repair, but fewer than K shards are
	// readable now. Nothing is attempted; away or offline holders may come
	// back. With Healthy < K as well it is lost unless they do.
	SegmentWaiting
)

func (s SegmentStatus) String() string {
	switch s {
	case SegmentOK:
		return "ok"
	case SegmentRepair:
		return "repair"
	case SegmentWaiting:
		return "waiting"
	}
	return "status?"
}

// SegmentHealth counts a segment's shards by index.
type SegmentHealth struct {
	Status SegmentStatus
	// Healthy counts the indexes with a Healthy or Away shard.
	Healthy int
	// Readable counts the indexes with a Healthy shard: what a repair or
	// read can use now.
	Readable int
	// Away counts the indexes held only by Away shards.
	Away int
	// Lost counts the shard records that are Lost.
	Lost int
	// Missing is N - Healthy: the shards a repair makes to restore N.
	Missing int
}

// Margin is how many more shards the segment can lose and still be
// rebuilt: Healthy - K (negative: it cannot be now).
func (h SegmentHealth) Margin(k int) int { return h.Healthy - k }

// indexSet is a set of shard indexes (N <= shard.MaxShards = 256).
type indexSet [shard.MaxShards / 64]uint64

func (s *indexSet) add(i int)          { s[i>>6] |= 1 << (i & 63) }
func (s *indexSet) has(i int) bool     { return s[i>>6]&(1<<(i&63)) != 0 }
func (s *indexSet) or(t *indexSet)     { s[0] |= t[0]; s[1] |= t[1]; s[2] |= t[2]; s[3] |= t[3] }
func (s *indexSet) andNot(t *indexSet) { s[0] &^= t[0]; s[1] &^= t[1]; s[2] &^= t[2]; s[3] &^= t[3] }
func popcount(x uint64) int            { return bits.OnesCount64(x) }

func (s *indexSet) count() int {
	return popcount(s[0]) + popcount(s[1]) + popcount(s[2]) + popcount(s[3])
}

// segCode is a segment's code and the healthy count it is repaired at.
type segCode struct{ k, n, threshold int }

// codeOf returns seg's code: the policy's for a segment of that code or
// none (or an invalid one), else RepairThresholdFor's threshold.
func (p Policy) codeOf(seg *SegmentState) segCode {
	k, n := seg.K, seg.N
	if k == p.c.K && n == p.c.N || k < 1 || n <= k || n > shard.MaxShards {
		return segCode{p.c.K, p.c.N, p.c.RepairThreshold}
	}
	return segCode{k, n, RepairThresholdFor(k, n)}
}

// assess judges seg's shards; healthy and readable are the index sets.
func (p Policy) assess(now time.Time, seg *SegmentState, cls *classes) (h SegmentHealth, healthy indexSet) {
	c := p.codeOf(seg)
	var readable, away indexSet
	for i := range seg.Shards {
		s := &seg.Shards[i]
		if s.Index < 0 || s.Index >= c.n {
			continue // not a shard of this code: ignored
		}
		switch p.shardWith(now, s, cls.of(s.Holder)).Health {
		case Healthy:
			readable.add(s.Index)
		case Away:
			away.add(s.Index)
		default:
			h.Lost++
		}
	}
	healthy = readable
	healthy.or(&away)
	away.andNot(&readable)
	h.Healthy = healthy.count()
	h.Readable = readable.count()
	h.Away = away.count()
	h.Missing = c.n - h.Healthy
	switch {
	case h.Healthy > c.threshold:
		h.Status = SegmentOK
	case h.Readable >= c.k:
		h.Status = SegmentRepair
	default:
		h.Status = SegmentWaiting
	}
	return h, healthy
}

// Segment judges a segment at now; peers holds the state of every holder
// the registry knows (a holder missing from it is PeerGone).
func (p Policy) Segment(now time.Time, seg SegmentState, peers map[PeerID]PeerState) SegmentHealth {
	cls := p.holderClasses(now, peers)
	h, _ := p.assess(now, &seg, &cls)
	return h
}

// MissingIndexes appends to dst, ascending, the indexes of seg with no
// healthy (or away) shard: those a repair makes.
func (p Policy) MissingIndexes(now time.Time, seg SegmentState, peers map[PeerID]PeerState, dst []int) []int {
	cls := p.holderClasses(now, peers)
	_, healthy := p.assess(now, &seg, &cls)
	return appendMissing(dst, &healthy, p.codeOf(&seg).n)
}

func appendMissing(dst []int, healthy *indexSet, n int) []int {
	for i := range n {
		if !healthy.has(i) {
			dst = append(dst, i)
		}
	}
	return dst
}
