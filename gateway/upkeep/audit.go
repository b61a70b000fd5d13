package upkeep

import (
	"context"
	crand "crypto/rand"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// auditParallel bounds the audits in flight at once: a hung peer costs
// one slot for RequestTimeout, not the loop.
const auditParallel = 8

// auditState is what the audit loop keeps between passes.
type auditState struct {
	budget policy.Budget
	last   time.Time      // the last pass (zero: none yet)
	cursor meta.SegmentID // where the next pass starts reading
	rng    *rand.Rand
}

func newAuditRand() *rand.Rand {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic("upkeep: no randomness: " + err.Error())
	}
	return rand.New(rand.NewChaCha8(seed))
}

// sinceLast returns the time since *last, a budget's refill (a full burst
// window the first time), and sets *last to now.
func (u *Upkeep) sinceLast(last *time.Time, now time.Time) time.Duration {
	elapsed := u.pol.Config().BurstWindow
	if !last.IsZero() {
		elapsed = now.Sub(*last)
	}
	*last = now
	return elapsed
}

// shardState is the policy's view of a segment's stored shard i.
func shardState(seg *meta.Segment, i int) policy.ShardState {
	sh := &seg.Shards[i]
	st := policy.ShardState{ID: shard.ID(sh.ID), Index: i, Holder: shard.PublicKey(sh.Node),
		AuditFailures: sh.Health.AuditFailures,
		NotHeld:       policy.LostReason(sh.Health.Lost) == policy.NotHeld}
	// shard.ShardSize, without its panic on a record's bad parameters.
	k := int64(max(seg.K, 1))
	st.Size = max(1, (max(seg.SealedSize, 0)+k-1)/k)
	if sh.LeaseExpiry != 0 {
		st.LeaseExpiry = time.Unix(sh.LeaseExpiry, 0)
	}
	if sh.Health.LastAudit != 0 {
		st.LastAudit = time.Unix(sh.Health.LastAudit, 0)
	} else {
		st.LastAudit = time.Unix(0, sh.Time) // stored then: its receipt proves it
	}
	if sh.Health.RecheckAt != 0 {
		st.RecheckAt = time.Unix(sh.Health.RecheckAt, 0)
	}
	if st.AuditFailures >= policy.FailuresToLose && policy.LostReason(sh.Health.Lost) == policy.AuditFailed {
		st.AuditFailures = policy.FailuresToLose
	}
	return st
}

// chosen is one audit to run and where its shard is recorded.
type chosen struct {
	a     policy.Audit
	state policy.ShardState
	seg   meta.SegmentID
}

// Audit runs one pass of audits: it chooses, within the audit budget
// accrued since the last pass, the shards due (policy.ChooseAudits) from
// a cursor that goes round the catalog, challenges each holder for a
// random leaf with a fresh nonce, and records every outcome
// (policy.AuditResult): a failure is re-checked once, a second one makes
// the shard lost and lowers its holder's reputation.
func (u *Upkeep) Audit(ctx context.Context) (Stats, error) {
	u.auditMu.Lock()
	defer u.auditMu.Unlock()
	now := u.cfg.Now()
	as := &u.audit
	as.budget = u.pol.AuditBudget(as.budget, u.sinceLast(&as.last, now))
	peers := u.peers.States(now)
	var todo []chosen
	start, wrapped := as.cursor, false
	for as.budget.Tokens > 0 {
		segs, err := u.db.Segments(as.cursor, segmentsPage)
		if err != nil {
			return Stats{}, err
		}
		full := len(segs) == segmentsPage
		done := false
		if wrapped { // the round's second half: up to start, inclusive
			segs, done = upTo(segs, start)
		}
		var states []policy.ShardState
		var where []*meta.Segment
		for si := range segs {
			if segs[si].BlockSize <= 0 {
				continue // no leaves to ask for (a corrupt record)
			}
			for i := range segs[si].Shards {
				if segs[si].Shards[i].Stored() {
					states = append(states, shardState(&segs[si], i))
					where = append(where, &segs[si])
				}
			}
		}
		var audits []policy.Audit
		audits, as.budget = u.pol.ChooseAudits(now, states, peers, as.budget, 0, as.rng)
		for _, a := range audits {
			// The leaf is drawn for the policy's leaf size; a segment
			// coded with another block size has its own leaf count.
			a.Leaf %= shard.LeafCount(states[a.Pos].Size, where[a.Pos].BlockSize)
			todo = append(todo, chosen{a: a, state: states[a.Pos], seg: where[a.Pos].ID})
		}
		switch {
		case done:
			as.cursor = start
		case full:
			as.cursor = segs[len(segs)-1].ID
			continue
		case wrapped || start == (meta.SegmentID{}):
			as.cursor = meta.SegmentID{} // the whole catalog was read
		default:
			as.cursor, wrapped = meta.SegmentID{}, true // on from the first, up to start
			continue
		}
		break
	}
	return u.runAudits(ctx, now, todo)
}

// runAudits challenges the holders of todo, auditParallel at a time, and
// records the outcomes.
func (u *Upkeep) runAudits(ctx context.Context, now time.Time, todo []chosen) (Stats, error) {
	var pass Stats
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, auditParallel)
	decisions := make([]policy.AuditDecision, len(todo))
	for i := range todo {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			o := u.challenge(ctx, todo[i])
			d := u.pol.AuditResult(now, todo[i].state, o)
			decisions[i] = d
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case policy.AuditPassed:
				pass.AuditsPassed++
			case policy.AuditUnreachable:
			default:
				pass.AuditsFailed++
			}
			if d.Lost {
				pass.ShardsLost++
			}
			if d.Penalize {
				u.peers.Penalize(todo[i].a.Holder)
			}
		})
	}
	wg.Wait()
	if err := u.recordAudits(todo, decisions); err != nil {
		return pass, err
	}
	u.mu.Lock()
	u.stats.AuditsPassed += pass.AuditsPassed
	u.stats.AuditsFailed += pass.AuditsFailed
	u.stats.ShardsLost += pass.ShardsLost
	u.mu.Unlock()
	if pass.AuditsFailed > 0 || pass.ShardsLost > 0 {
		u.log.WarnContext(ctx, "upkeep: audits failed", "passed", pass.AuditsPassed, "failed", pass.AuditsFailed, "lost", pass.ShardsLost)
	}
	return pass, ctx.Err()
}

// challenge audits one shard and classifies the outcome.
func (u *Upkeep) challenge(ctx context.Context, c chosen) policy.AuditOutcome {
	cl := u.peers.Client(c.a.Holder)
	if cl == nil {
		return policy.AuditUnreachable
	}
	var nonce [32]byte
	if _, err := crand.Read(nonce[:]); err != nil {
		return policy.AuditUnreachable
	}
	rctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
	defer cancel()
	a, err := cl.Proof(rctx, c.a.Shard, c.a.Leaf, nonce[:])
	if ctx.Err() == nil {
		u.peers.Contact(c.a.Holder, answered(err) || errors.Is(err, node.ErrBadResponse))
	}
	switch {
	case err == nil && a.Size != c.state.Size:
		return policy.AuditBadProof // a proof of another shard size
	case err == nil:
		return policy.AuditPassed
	case ctx.Err() != nil:
		return policy.AuditUnreachable // shutting down: no verdict
	case errors.Is(err, node.ErrNotFound):
		return policy.AuditNotHeld
	case errors.Is(err, node.ErrBadResponse):
		return policy.AuditBadProof
	case errors.Is(err, context.DeadlineExceeded):
		return policy.AuditTimedOut
	case errors.Is(err, node.ErrBusy):
		return policy.AuditUnreachable // a refusal is not a verdict
	}
	var ne *node.Error
	if errors.As(err, &ne) {
		return policy.AuditNoProof // it answered, without a proof
	}
	return policy.AuditUnreachable
}

// recordAudits writes the shards' new health into their segments in one
// catalog update; segments gone or changed meanwhile are skipped.
func (u *Upkeep) recordAudits(todo []chosen, decisions []policy.AuditDecision) error {
	if len(todo) == 0 {
		return nil
	}
	return u.db.Update(func(b *meta.Batch) error {
		segs := make(map[meta.SegmentID]*meta.Segment)
		for i, c := range todo {
			seg := segs[c.seg]
			if seg == nil {
				s, err := b.Segment(c.seg)
				if errors.Is(err, meta.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				seg = &s
				segs[c.seg] = seg
			}
			idx := c.state.Index
			if idx >= len(seg.Shards) || shard.ID(seg.Shards[idx].ID) != c.state.ID || shard.PublicKey(seg.Shards[idx].Node) != c.a.Holder {
				continue // repaired meanwhile
			}
			d := decisions[i]
			h := &seg.Shards[idx].Health
			h.LastAudit = d.Shard.LastAudit.Unix()
			h.AuditFailures = d.Shard.AuditFailures
			h.RecheckAt = 0
			if !d.Shard.RecheckAt.IsZero() {
				h.RecheckAt = d.Shard.RecheckAt.Unix()
			}
			if d.Lost {
				h.Lost = uint8(d.Reason)
			}
		}
		for _, seg := range segs {
			if err := b.PutSegment(*seg); err != nil {
				return err
			}
		}
		return nil
	}, meta.Quiet()) // bookkeeping: backed up with the next change
}

// upTo keeps the segments up to start, inclusive, and reports whether
// start was reached.
func upTo(segs []meta.Segment, start meta.SegmentID) ([]meta.Segment, bool) {
	for i := range segs {
		if string(segs[i].ID[:]) > string(start[:]) {
			return segs[:i], true
		}
		if segs[i].ID == start {
			return segs[:i+1], true
		}
	}
	return segs, false
}
