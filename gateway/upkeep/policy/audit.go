package policy

import (
	"math/bits"
	"math/rand/v2"
	"time"

	"ishtar/shard"
)

// Audit is one audit to run: ask Holder for a proof of leaf Leaf of
// Shard, with a fresh nonce.
type Audit struct {
	Shard   shard.ID
	Holder  PeerID
	Pos     int    // the shard's position in ChooseAudits' input
	Leaf    uint64 // uniformly random in [0, leaf count)
	Recheck bool   // a re-check of a failed audit
	Bytes   int64  // charged to the audit budget
}

// AuditCost is what auditing a shard of size bytes costs at most: its
// largest leaf, the longest Merkle path and AuditOverhead.
func (p Policy) AuditCost(size int64) int64 {
	if size < 0 {
		size = 0
	}
	leaves := shard.LeafCount(size, p.c.LeafSize)
	depth := int64(bits.Len64(leaves - 1)) // ceil(log2 leaves) >= the path
	return min(size, int64(p.c.LeafSize)) + 32*depth + p.c.AuditOverhead
}

// auditCand is a shard due for audit; smaller keys go first.
type auditCand struct {
	recheck bool      // re-checks before routine audits
	due     time.Time // then the longest overdue
	pos     int       // then input order
	cost    int64
}

func (a *auditCand) before(b *auditCand) bool {
	if a.recheck != b.recheck {
		return a.recheck
	}
	if c := a.due.Compare(b.due); c != 0 {
		return c < 0
	}
	return a.pos < b.pos
}

// candHeap is a max-heap (the last to go on top) of the candidates
// chosen so far, with the sum of their costs.
type candHeap struct {
	c   []auditCand
	sum int64
}

func (h *candHeap) push(c auditCand) {
	h.c = append(h.c, c)
	h.sum += c.cost
	for i := len(h.c) - 1; i > 0; {
		up := (i - 1) / 2
		if !h.c[up].before(&h.c[i]) {
			break
		}
		h.c[up], h.c[i] = h.c[i], h.c[up]
		i = up
	}
}

func (h *candHeap) pop() auditCand {
	top := h.c[0]
	last := len(h.c) - 1
	h.c[0] = h.c[last]
	h.c = h.c[:last]
	h.sum -= top.cost
	for i := 0; ; {
		l, big := 2*i+1, i
		if l < last && h.c[big].before(&h.c[l]) {
			big = l
		}
		if r := l + 1; r < last && h.c[big].before(&h.c[r]) {
			big = r
		}
		if big == i {
			break
		}
		h.c[i], h.c[big] = h.c[big], h.c[i]
		i = big
	}
	return top
}

// Due returns when shard s on a peer of reputation rep is next due for
// audit, and whether that is a re-check. A shard is due AuditInterval
// after its last audit (a quarter of it, SuspectSpeedup, if rep <=
// SuspectReputation); a pending re-check is due at RecheckAt instead.
func (p Policy) Due(s ShardState, rep float64) (time.Time, bool) {
	if !s.RecheckAt.IsZero() {
		return s.RecheckAt, true
	}
	iv := p.c.AuditInterval
	if rep <= p.c.SuspectReputation {
		iv /= SuspectSpeedup
	}
	return s.LastAudit.Add(iv), false
}

// ChooseAudits returns the audits to run now, as many as the audit budget
// allows (b refilled for elapsed, spent while positive: see Budget), and
// the budget left. Of the shards not lost whose holder is reachable (an
// away holder's shards wait: an audit cannot reach it), those due (Due)
// go first pending re-checks, then the longest overdue, then input
// order. Each gets a leaf drawn from rng. When the budget cannot cover
// every shard once per AuditInterval, the oldest audits go first, so the
// interval stretches evenly.
//
// A shard that is not due costs a time comparison and no peer lookup;
// memory grows with what the budget buys, not with len(shards).
func (p Policy) ChooseAudits(now time.Time, shards []ShardState, peers map[PeerID]PeerState, b Budget, elapsed time.Duration, rng *rand.Rand) ([]Audit, Budget) {
	b = p.AuditBudget(b, elapsed)
	if b.Tokens <= 0 {
		return nil, b
	}
	// Budget in whole bytes; the heap keeps the shortest prefix, in
	// order, whose cost reaches it.
	tokens := int64(b.Tokens)
	if float64(tokens) < b.Tokens {
		tokens++
	}
	cls := p.allClasses(now, peers)
	suspects := false
	for _, c := range cls.m {
		suspects = suspects || c == classSuspect
	}
	// A shard last audited less than earliest ago is not due, whoever
	// holds it; less than AuditInterval ago, only on a suspect peer.
	earliest := p.c.AuditInterval
	if suspects {
		earliest /= SuspectSpeedup
	}
	h := &candHeap{}
	for i := range shards {
		s := &shards[i]
		if s.RecheckAt.IsZero() {
			if now.Sub(s.LastAudit) < earliest {
				continue // not due: no lookup
			}
		} else if now.Before(s.RecheckAt) {
			continue
		}
		c := cls.of(s.Holder)
		if p.shardWith(now, s, c).Health != Healthy {
			continue
		}
		rep := 1.0
		if c == classSuspect {
			rep = 0
		}
		due, recheck := p.Due(*s, rep)
		if now.Before(due) {
			continue
		}
		cand := auditCand{recheck: recheck, due: due, pos: i, cost: p.AuditCost(s.Size)}
		if h.sum >= tokens && !cand.before(&h.c[0]) {
			continue // the budget is spent before its turn
		}
		h.push(cand)
		for len(h.c) > 1 && h.sum-h.c[0].cost >= tokens {
			h.pop() // the others spend the budget before the top's turn
		}
	}
	// Pop gives the last first: fill the result from its end.
	out := make([]Audit, len(h.c))
	for j := len(out) - 1; j >= 0; j-- {
		c := h.pop()
		s := &shards[c.pos]
		out[j] = Audit{Shard: s.ID, Holder: s.Holder, Pos: c.pos, Recheck: c.recheck, Bytes: c.cost}
	}
	// Leaves are drawn in result order, so the draws do not depend on the
	// heap's internals.
	for j := range out {
		s := &shards[out[j].Pos]
		out[j].Leaf = rng.Uint64N(shard.LeafCount(max(s.Size, 0), p.c.LeafSize))
		b.Tokens -= float64(out[j].Bytes)
	}
	return out, b
}

// AuditOutcome is how an audit ended.
type AuditOutcome uint8

const (
	// AuditPassed: a valid proof of the asked leaf, signed by the holder.
	AuditPassed AuditOutcome = iota
	// AuditBadProof: a proof or leaf that does not verify, a wrong leaf,
	// a bad signature.
	AuditBadProof
	// AuditNoProof: the holder answered, but with no proof (an error).
	AuditNoProof
	// AuditTimedOut: the holder accepted the request but did not answer
	// in time.
	AuditTimedOut
	// AuditNotHeld: the holder said it does not hold the shard.
	AuditNotHeld
	// AuditUnreachable: the holder could not be reached at all. This is
	// not a failure of the shard: the caller reports the failed contact
	// to the registry, and OfflineGrace decides.
	AuditUnreachable
)

func (o AuditOutcome) String() string {
	switch o {
	case AuditPassed:
		return "passed"
	case AuditBadProof:
		return "bad proof"
	case AuditNoProof:
		return "no proof"
	case AuditTimedOut:
		return "timed out"
	case AuditNotHeld:
		return "not held"
	case AuditUnreachable:
		return "unreachable"
	}
	return "outcome?"
}

// AuditDecision is what to do after an audit.
type AuditDecision struct {
	// Shard is the shard's new state, to store.
	Shard ShardState
	// Lost: the shard is now lost, for Reason (NotHeld or AuditFailed).
	Lost   bool
	Reason LostReason
	// Recheck: a re-check is scheduled at Shard.RecheckAt.
	Recheck bool
	// Penalize: the holder's reputation should drop (the registry's
	// Lied): it failed the same shard FailuresToLose times in a row, or
	// said it no longer holds it.
	Penalize bool
}

// AuditResult applies an audit's outcome at now to s. A pass resets the
// failures. A failure (bad proof, no proof, time-out) schedules one
// re-check after RecheckAfter; the FailuresToLose-th consecutive one
// makes the shard lost and penalizes its holder. An admission (not held)
// makes it lost at once and penalizes its holder too: a node that lost
// what it acknowledged, whether it says so or not, is less fit to hold
// more (saying so spares it the re-check). Unreachable changes nothing.
func (p Policy) AuditResult(now time.Time, s ShardState, o AuditOutcome) AuditDecision {
	d := AuditDecision{Shard: s}
	switch o {
	case AuditUnreachable:
		return d
	case AuditPassed:
		d.Shard.LastAudit = now
		d.Shard.AuditFailures = 0
		d.Shard.RecheckAt = time.Time{}
		return d
	case AuditNotHeld:
		d.Shard.LastAudit = now
		d.Shard.NotHeld = true
		d.Shard.RecheckAt = time.Time{}
		d.Lost, d.Reason, d.Penalize = true, NotHeld, true
		return d
	}
	d.Shard.LastAudit = now
	d.Shard.AuditFailures++
	if d.Shard.AuditFailures >= FailuresToLose {
		d.Shard.RecheckAt = time.Time{}
		d.Lost, d.Reason, d.Penalize = true, AuditFailed, true
		return d
	}
	d.Shard.RecheckAt = now.Add(p.c.RecheckAfter)
	d.Recheck = true
	return d
}
