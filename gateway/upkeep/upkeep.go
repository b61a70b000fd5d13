// Package upkeep keeps the owner's stored data alive: it carries out the
// decisions of package policy against the catalog and the peers.
//
// RenewLeases renews every shard's lease, in one owner-signed batch per
// node, once less than policy.Config.RenewBefore of it remains, so that
// nodes, which delete shards whose lease lapsed more than a grace ago,
// keep the owner's data as long as the owner's daemon runs now and then.
//
// Audit challenges holders for random Merkle leaves of the shards due,
// with fresh nonces, within an audit byte budget, going round the catalog
// pass after pass; each shard's health (last audit, failures, re-check,
// lost) is kept in its segment record.
//
// Probe asks the holders nobody has tried lately whether they are still
// there (policy.ProbesDue), so that a holder that left is seen down, and
// one that came back seen up, within the offline grace.
//
// Repair rebuilds the segments whose healthy shards fell to the repair
// threshold, within a repair byte budget (see Repair).
package upkeep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// NodeClient is what upkeep asks of one node (node.Client does it).
type NodeClient interface {
	// RenewBatch renews leases on the node.
	RenewBatch(ctx context.Context, batch shard.RenewBatch) (node.RenewAnswer, error)
	// Proof answers an audit: a leaf of a shard and its Merkle proof,
	// signed by the node, checked against the challenge.
	Proof(ctx context.Context, id shard.ID, leaf uint64, nonce []byte) (node.Audit, error)
	// Hello checks that the node answers at its address with its key (a
	// probe).
	Hello(ctx context.Context) (shard.NodeRecord, error)
}

// Peers is how upkeep sees and reaches the owner's peers.
type Peers interface {
	// States returns the state of every peer known at now (a holder
	// missing from it counts as gone).
	States(now time.Time) map[policy.PeerID]policy.PeerState
	// Client returns a client of peer id, or nil if it is unknown.
	Client(id policy.PeerID) NodeClient
	// Penalize lowers the peer's reputation: it failed audits.
	Penalize(id policy.PeerID)
	// Contact records whether the peer answered a request (its liveness
	// history).
	Contact(id policy.PeerID, ok bool)
}

// answered reports whether err (of a request to a node) came from the
// node itself: it is reachable, whatever it said.
func answered(err error) bool {
	var ne *node.Error
	return err == nil || (errors.As(err, &ne) && ne.Code != node.ErrBadResponse.Code)
}

// Config configures an Upkeep. Zero fields take the defaults noted.
type Config struct {
	Policy policy.Config
	// Interval is the time between passes (with jitter); default 10 min.
	Interval time.Duration
	// RequestTimeout bounds one request to a node; default 30 s.
	RequestTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Shards, if set, is the segment store repair fetches and stores
	// shards with; nil: no repair.
	Shards Shards
	// Self is the owner's own node: repair places nothing there unless
	// AllowSelf. DistinctBlocks keeps a segment's shards in distinct
	// address blocks (address diversity).
	Self           policy.PeerID
	AllowSelf      bool
	DistinctBlocks bool
	// Released, if set, is called after a repair pass queued releases
	// of replaced shards (the gateway's WakeReleases), so they go out
	// now rather than at the release loop's next poll.
	Released func()
}

// Stats are what upkeep did since it started.
type Stats struct {
	Passes         int64
	LeasesRenewed  int64 // shards whose lease a node renewed
	NotHeld        int64 // shards a node said it does not hold (lost)
	RenewFailures  int64 // batches that failed (the node is retried next pass)
	Probes         int64 // holders probed
	ProbesFailed   int64 // probes not answered (by the holder's key)
	AuditsPassed   int64
	AuditsFailed   int64 // bad, missing or late proofs, and shards not held
	ShardsLost     int64 // shards found lost by audits
	Repairs        int64 // segments repaired
	ShardsRepaired int64 // shards rebuilt and placed
	BytesRepaired  int64 // bytes of those shards
	RepairFailures int64 // repairs that failed (planned again next pass)
}

// Upkeep renews the owner's leases (see the package doc).
type Upkeep struct {
	cfg   Config
	pol   policy.Policy
	db    *meta.DB
	owner shard.PrivateKey
	peers Peers
	log   *slog.Logger

	mu      sync.Mutex
	stats   Stats
	holders []policy.PeerID // of the stored shards, at the last renewal pass

	auditMu sync.Mutex // one audit pass at a time
	audit   auditState

	shards   Shards
	repairMu sync.Mutex // one repair pass at a time
	repair   repairState
}

// chunk bounds the due shards gathered before their batches are sent.
const chunk = 1 << 16

// segmentsPage is how many segments a pass reads at a time.
const segmentsPage = 256

// New returns an Upkeep of the owner's segments in db.
func New(cfg Config, db *meta.DB, owner shard.PrivateKey, peers Peers, log *slog.Logger) (*Upkeep, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pol, err := policy.New(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("upkeep: %w", err)
	}
	if owner.IsZero() {
		return nil, errors.New("upkeep: no owner key")
	}
	return &Upkeep{cfg: cfg, pol: pol, db: db, owner: owner, peers: peers, log: log,
		audit: auditState{rng: newAuditRand()}, shards: cfg.Shards}, nil
}

// Stats returns what upkeep did so far.
func (u *Upkeep) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stats
}

// Run runs a pass at once, then one every Interval with jitter, until ctx
// ends.
func (u *Upkeep) Run(ctx context.Context) {
	for {
		if _, err := u.RenewLeases(ctx); err != nil && ctx.Err() == nil {
			u.log.WarnContext(ctx, "upkeep: renewing leases", "err", err)
		}
		u.Probe(ctx)
		if _, err := u.Audit(ctx); err != nil && ctx.Err() == nil {
			u.log.WarnContext(ctx, "upkeep: audits", "err", err)
		}
		if _, err := u.Repair(ctx); err != nil && ctx.Err() == nil {
			u.log.WarnContext(ctx, "upkeep: repair", "err", err)
		}
		wait := time.Duration(float64(u.cfg.Interval) * (0.8 + 0.4*rand.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// due is a shard whose lease needs renewal, and where it is recorded.
type due struct {
	state policy.ShardState
	seg   meta.SegmentID
}

// RenewLeases runs one pass over every segment: the leases that need
// renewal (policy.RenewalsDue) are renewed, a batch per node, and the new
// expiries recorded. It returns what this pass did; a batch that fails is
// counted and retried next pass, not an error. Shards a node says it does
// not hold are counted (repair will take them). It also notes the
// holders of every stored shard, for Probe.
func (u *Upkeep) RenewLeases(ctx context.Context) (Stats, error) {
	var pass Stats
	pass.Passes = 1
	var pending []due
	holders := make(map[policy.PeerID]struct{})
	var after meta.SegmentID
	for {
		segs, err := u.db.Segments(after, segmentsPage)
		if err != nil {
			return pass, err
		}
		now := u.cfg.Now()
		for _, s := range segs {
			for i, sh := range s.Shards {
				if !sh.Stored() {
					continue
				}
				st := shardState(&s, i)
				holders[st.Holder] = struct{}{}
				if u.pol.NeedsRenewal(now, st) {
					pending = append(pending, due{state: st, seg: s.ID})
				}
			}
		}
		if len(pending) >= chunk || len(segs) < segmentsPage {
			if err := u.renew(ctx, pending, &pass); err != nil {
				return pass, err
			}
			pending = pending[:0]
		}
		if len(segs) < segmentsPage {
			break
		}
		after = segs[len(segs)-1].ID
	}
	u.mu.Lock()
	u.holders = u.holders[:0]
	for h := range holders {
		u.holders = append(u.holders, h)
	}
	u.stats.Passes++
	u.stats.LeasesRenewed += pass.LeasesRenewed
	u.stats.NotHeld += pass.NotHeld
	u.stats.RenewFailures += pass.RenewFailures
	u.mu.Unlock()
	if pass.LeasesRenewed > 0 || pass.NotHeld > 0 || pass.RenewFailures > 0 {
		u.log.InfoContext(ctx, "upkeep: leases renewed", "shards", pass.LeasesRenewed, "not_held", pass.NotHeld, "failed_batches", pass.RenewFailures)
	}
	return pass, ctx.Err()
}

// renew sends the batches of the due shards and records their new
// expiries.
func (u *Upkeep) renew(ctx context.Context, pending []due, pass *Stats) error {
	if len(pending) == 0 {
		return nil
	}
	now := u.cfg.Now()
	states := make([]policy.ShardState, len(pending))
	where := make(map[shard.ID][]meta.SegmentID, len(pending))
	for i, d := range pending {
		states[i] = d.state
		where[d.state.ID] = append(where[d.state.ID], d.seg)
	}
	for _, r := range u.pol.RenewalsDue(now, states, u.peers.States(now)) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c := u.peers.Client(r.Holder)
		if c == nil {
			pass.RenewFailures++
			continue
		}
		b := shard.RenewBatch{Node: r.Holder, LeaseExpiry: r.Expiry.Unix(), Time: now.UnixNano(), Shards: r.Shards}
		b.Sign(u.owner)
		rctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
		ans, err := c.RenewBatch(rctx, b)
		cancel()
		if ctx.Err() == nil {
			u.peers.Contact(r.Holder, answered(err))
		}
		if err != nil {
			pass.RenewFailures++
			u.log.DebugContext(ctx, "upkeep: renew batch failed", "node", r.Holder.String(), "shards", len(r.Shards), "err", err)
			continue
		}
		if err := u.record(r.Holder, b.LeaseExpiry, ans.Renewed, ans.NotHeld, where); err != nil {
			return err
		}
		pass.LeasesRenewed += int64(len(ans.Renewed))
		pass.NotHeld += int64(len(ans.NotHeld))
		if len(ans.NotHeld) > 0 {
			u.log.WarnContext(ctx, "upkeep: a node does not hold shards it acknowledged", "node", r.Holder.String(), "shards", len(ans.NotHeld))
		}
	}
	return nil
}

// record sets, in one catalog update, the lease expiry of the renewed
// shards held by holder in their segments (an expiry never goes down),
// and marks those it does not hold lost; segments deleted meanwhile are
// skipped.
func (u *Upkeep) record(holder policy.PeerID, expiry int64, renewed, notHeld []shard.ID, where map[shard.ID][]meta.SegmentID) error {
	bySeg := make(map[meta.SegmentID]map[shard.ID]bool) // shard -> renewed (else not held)
	mark := func(ids []shard.ID, ok bool) {
		for _, id := range ids {
			for _, s := range where[id] {
				if bySeg[s] == nil {
					bySeg[s] = make(map[shard.ID]bool)
				}
				bySeg[s][id] = ok
			}
		}
	}
	mark(renewed, true)
	mark(notHeld, false)
	if len(bySeg) == 0 {
		return nil
	}
	return u.db.Update(func(b *meta.Batch) error {
		for sid, ids := range bySeg {
			seg, err := b.Segment(sid)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			changed := false
			for i := range seg.Shards {
				sh := &seg.Shards[i]
				ok, listed := ids[shard.ID(sh.ID)]
				switch {
				case !listed || shard.PublicKey(sh.Node) != holder:
				case ok && sh.LeaseExpiry < expiry:
					sh.LeaseExpiry, changed = expiry, true
				case !ok && sh.Health.Lost == 0:
					sh.Health.Lost, changed = uint8(policy.NotHeld), true
				}
			}
			if changed {
				if err := b.PutSegment(seg); err != nil {
					return err
				}
			}
		}
		return nil
	}, meta.Quiet()) // bookkeeping: backed up with the next change
}

// probesInFlight bounds the probes sent at once.
const probesInFlight = 8

// Probe probes the holders (noted by the last RenewLeases pass) that
// nobody has tried for policy.Config.ProbeAfter, a few at a time, each
// bounded by RequestTimeout, and records each outcome in the peer's
// history (Contact): answering with its key at its address is a success,
// anything else a failure. It returns how many it probed and how many
// failed.
func (u *Upkeep) Probe(ctx context.Context) (probed, failed int) {
	now := u.cfg.Now()
	u.mu.Lock()
	holders := slices.Clone(u.holders)
	u.mu.Unlock()
	due := u.pol.ProbesDue(now, holders, u.peers.States(now))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, probesInFlight)
	for _, id := range due {
		c := u.peers.Client(id)
		if c == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
			rec, err := c.Hello(rctx)
			cancel()
			if ctx.Err() != nil {
				return // the loop is stopping: no verdict
			}
			ok := err == nil && rec.Node == id
			u.peers.Contact(id, ok)
			mu.Lock()
			probed++
			if !ok {
				failed++
				u.log.DebugContext(ctx, "upkeep: a holder did not answer a probe", "node", id.String(), "err", err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	u.mu.Lock()
	u.stats.Probes += int64(probed)
	u.stats.ProbesFailed += int64(failed)
	u.mu.Unlock()
	return probed, failed
}
