package upkeep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/shard"
)

// Shards is what repair needs of the segment store (segstore.Store).
type Shards interface {
	// PeerIndex maps node IDs to the directory's current peers.
	PeerIndex() map[shard.PublicKey]segstore.PeerInfo
	// FetchShard fetches a whole shard and verifies it against its ID,
	// into a buffer to give back with PutBuffer.
	FetchShard(ctx context.Context, p segstore.PeerInfo, id shard.ID, size int64, blockSize int) ([]byte, error)
	PutBuffer(b []byte)
	// StoreShard stores a shard on p under a fresh grant and returns the
	// checked receipt; the caller journals it first.
	StoreShard(ctx context.Context, p segstore.PeerInfo, id shard.ID, data []byte) (shard.Receipt, error)
}

// maxRepairCandidates bounds the segments judged for one repair plan.
const maxRepairCandidates = 4096

// repairState is what the repair loop keeps between passes.
type repairState struct {
	budget policy.Budget
	last   time.Time
}

// Repair runs one pass of lazy repair: the segments whose healthy shards
// fell to the repair threshold (a shard is lost after two failed audits,
// an admission, or its holder's absence past the offline grace; an away
// holder causes nothing) are repaired, most endangered first, within the
// repair budget: any k verified shards are fetched, the missing ones
// rebuilt and stored on new peers (distinct address blocks, not the
// owner's node unless allowed), journaled before they are sent, and the
// segment switches to them in one catalog batch that also queues the old
// holders' releases. A crash before that batch leaves the journal, whose
// shards the gateway releases when it opens; the segment is planned
// again.
func (u *Upkeep) Repair(ctx context.Context) (Stats, error) {
	var pass Stats
	if u.shards == nil {
		return pass, nil
	}
	u.repairMu.Lock()
	defer u.repairMu.Unlock()
	now := u.cfg.Now()
	rs := &u.repair
	elapsed := u.sinceLast(&rs.last, now)
	peers := u.peers.States(now)
	var cands []policy.SegmentState
	var after meta.SegmentID
	for len(cands) < maxRepairCandidates {
		segs, err := u.db.Segments(after, segmentsPage)
		if err != nil {
			return pass, err
		}
		for i := range segs {
			if !u.repairable(&segs[i]) {
				continue
			}
			st := segmentState(&segs[i])
			if u.pol.Segment(now, st, peers).Status == policy.SegmentRepair {
				cands = append(cands, st)
			}
		}
		if len(segs) < segmentsPage {
			break
		}
		after = segs[len(segs)-1].ID
	}
	plan, budget, _ := u.pol.PlanRepairs(now, cands, peers, rs.budget, elapsed)
	rs.budget = budget
	var firstErr error
	for _, r := range plan {
		if ctx.Err() != nil {
			break
		}
		made, size, err := u.repairOne(ctx, now, meta.SegmentID(r.Segment), r.Make, peers)
		switch {
		case err != nil && ctx.Err() == nil:
			pass.RepairFailures++
			if firstErr == nil {
				firstErr = fmt.Errorf("segment %x: %w", r.Segment[:], err)
			}
		case made > 0:
			pass.Repairs++
			pass.ShardsRepaired += int64(made)
			pass.BytesRepaired += int64(made) * size
		}
	}
	u.mu.Lock()
	u.stats.Repairs += pass.Repairs
	u.stats.ShardsRepaired += pass.ShardsRepaired
	u.stats.BytesRepaired += pass.BytesRepaired
	u.stats.RepairFailures += pass.RepairFailures
	u.mu.Unlock()
	if pass.Repairs > 0 {
		u.log.InfoContext(ctx, "upkeep: segments repaired", "segments", pass.Repairs, "shards", pass.ShardsRepaired, "bytes", pass.BytesRepaired)
	}
	if len(plan) > 0 && u.cfg.Released != nil {
		u.cfg.Released() // the replaced shards, and those stored in vain
	}
	if firstErr != nil { // one line a pass, however many failed
		u.log.WarnContext(ctx, "upkeep: repairs failed; planned again next pass", "segments", pass.RepairFailures, "first", firstErr)
	}
	return pass, ctx.Err()
}

// repairable reports whether seg's record is whole: a valid code (any
// code: the policy judges each segment by its own) and a shard entry per
// index.
func (u *Upkeep) repairable(seg *meta.Segment) bool {
	p := shard.Params{K: seg.K, N: seg.N, BlockSize: seg.BlockSize}
	return len(seg.Shards) == seg.N && p.Validate() == nil
}

// repairOne rebuilds the shards remake of segment id and stores them on new
// peers; it returns how many it placed and the shard size.
func (u *Upkeep) repairOne(ctx context.Context, now time.Time, id meta.SegmentID, remake []int, peers map[policy.PeerID]policy.PeerState) (int, int64, error) {
	seg, err := u.db.Segment(id)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, 0, nil // deleted since planned
	}
	if err != nil {
		return 0, 0, err
	}
	if !u.repairable(&seg) {
		return 0, 0, nil
	}
	params := shard.Params{K: seg.K, N: seg.N, BlockSize: seg.BlockSize}
	size := shard.ShardSize(params, seg.SealedSize)
	idx := u.shards.PeerIndex()
	shards, err := u.fetchK(ctx, now, &seg, params, size, idx, peers, remake)
	fetched := slices.Clone(shards) // the store's buffers, to give back
	defer func() {
		for _, b := range fetched {
			if b != nil {
				u.shards.PutBuffer(b)
			}
		}
	}()
	if err != nil {
		return 0, size, err
	}
	for _, i := range remake {
		shards[i] = nil
	}
	if err := shard.Rebuild(params, shards, seg.SealedSize); err != nil {
		return 0, size, err
	}
	ids := make([]shard.ID, len(remake))
	for j, i := range remake {
		ids[j] = shard.ComputeID(shards[i], seg.BlockSize)
		if old := seg.Shards[i]; old.Stored() && shard.ID(old.ID) != ids[j] {
			return 0, size, fmt.Errorf("rebuilt shard %d is %s, the segment says %x", i, ids[j], old.ID)
		}
	}
	targets := u.targets(now, &seg, peers, idx, ids, len(remake))
	if len(targets) == 0 {
		return 0, size, errors.New("no peer to place the rebuilt shards on")
	}
	remake, ids = remake[:len(targets)], ids[:len(targets)]
	pending := make([]meta.PendingShard, len(ids))
	for j := range ids {
		pending[j] = meta.PendingShard{Shard: ids[j], Node: targets[j], Size: size}
	}
	if err := u.db.Update(func(b *meta.Batch) error {
		return b.PutJournal(meta.Journal{Segment: id, Created: now.UnixNano(), Shards: pending})
	}); err != nil {
		return 0, size, err
	}
	u.log.InfoContext(ctx, "upkeep: repairing a segment", "segment", fmt.Sprintf("%x", id[:8]), "shards", len(targets))
	receipts := make([]*shard.Receipt, len(targets))
	var wg sync.WaitGroup
	for j := range targets {
		wg.Go(func() {
			r, err := u.shards.StoreShard(ctx, idx[targets[j]], ids[j], shards[remake[j]])
			if err == nil {
				receipts[j] = &r
			}
		})
	}
	wg.Wait()
	placed := 0
	err = u.db.Update(func(b *meta.Batch) error {
		if err := b.DeleteJournal(id); err != nil {
			return err
		}
		cur, err := b.Segment(id)
		gone := errors.Is(err, meta.ErrNotFound)
		if err != nil && !gone {
			return err
		}
		release := func(sid, node [32]byte) error {
			t := now.UnixNano()
			return b.PutRelease(meta.Release{Shard: sid, Node: node, Size: size, Enqueued: t, NotBefore: t})
		}
		for j, r := range receipts {
			if r == nil || gone || segstore.HeldWith(cur.Shards, remake[j], *r) >= 0 {
				// Not stored (the node may hold part of it), no longer
				// needed, or delegated to a holder of another shard of
				// the segment: released.
				if err := release(ids[j], targets[j]); err != nil {
					return err
				}
				continue
			}
			i := remake[j]
			if old := cur.Shards[i]; old.Stored() {
				if err := release(old.ID, old.Node); err != nil {
					return err
				}
			}
			cur.Shards[i] = meta.SegmentShard{ID: ids[j], Node: r.Node, Holder: r.Holder, LeaseExpiry: r.LeaseExpiry,
				Time: r.Time, Sig: r.Sig, Health: meta.ShardHealth{LastAudit: now.Unix()}}
			placed++
		}
		if gone {
			placed = 0
			return nil
		}
		return b.PutSegment(cur)
	})
	if err != nil {
		return 0, size, err
	}
	if placed < len(remake) {
		return placed, size, fmt.Errorf("%d of %d rebuilt shards stored", placed, len(remake))
	}
	return placed, size, nil
}

// fetchK fetches k verified shards of seg from its healthy holders (the
// most reliable first), skipping the indexes to remake; the result has a
// nil entry for every index not fetched.
func (u *Upkeep) fetchK(ctx context.Context, now time.Time, seg *meta.Segment, params shard.Params, size int64,
	idx map[shard.PublicKey]segstore.PeerInfo, peers map[policy.PeerID]policy.PeerState, remake []int) ([][]byte, error) {
	type src struct {
		i int
		p segstore.PeerInfo
	}
	var srcs []src
	for i := range seg.Shards {
		if !seg.Shards[i].Stored() || slices.Contains(remake, i) {
			continue
		}
		st := shardState(seg, i)
		ps, known := peers[st.Holder]
		p, ok := idx[st.Holder]
		if !ok || u.pol.Shard(now, st, ps, known).Health != policy.Healthy {
			continue
		}
		srcs = append(srcs, src{i, p})
	}
	slices.SortStableFunc(srcs, func(a, b src) int { return cmp.Compare(b.p.Uptime, a.p.Uptime) })
	shards := make([][]byte, params.N)
	got := 0
	for _, s := range srcs {
		if got == params.K {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
		b, err := u.shards.FetchShard(rctx, s.p, shard.ID(seg.Shards[s.i].ID), size, seg.BlockSize)
		cancel()
		if err != nil {
			continue
		}
		shards[s.i] = b[:size]
		got++
	}
	if got < params.K {
		return shards, fmt.Errorf("%d of the %d shards needed to rebuild could be fetched", got, params.K)
	}
	return shards, nil
}

// targets chooses up to need peers for a segment's rebuilt shards ids:
// the directory's placeable peers with no release of those IDs queued,
// the most reliable and roomiest first,
// filtered by the policy (no holder of the segment, not this node unless
// allowed, distinct address blocks if address diversity is on).
func (u *Upkeep) targets(now time.Time, seg *meta.Segment, peers map[policy.PeerID]policy.PeerState, idx map[shard.PublicKey]segstore.PeerInfo, ids []shard.ID, need int) []policy.PeerID {
	// A rebuilt shard has its old ID: a peer with a release of one of
	// them still queued (a repair cut short by a crash) could have it
	// deleted right after storing it.
	b := u.db.NewBatch()
	defer b.Close()
	releasing := func(node shard.PublicKey) bool {
		for _, id := range ids {
			if _, err := b.Release(id, node); err == nil {
				return true
			}
		}
		return false
	}
	var infos []segstore.PeerInfo
	for _, p := range idx {
		if !p.Unplaceable && !releasing(p.ID) {
			infos = append(infos, p)
		}
	}
	slices.SortFunc(infos, func(a, b segstore.PeerInfo) int {
		if c := cmp.Compare(b.Uptime, a.Uptime); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Free, a.Free); c != 0 {
			return c
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	cands := make([]policy.PeerState, 0, len(infos))
	for _, p := range infos {
		ps, ok := peers[p.ID]
		if !ok || !ps.Reachable {
			continue
		}
		ps.Placeable = true
		cands = append(cands, ps)
	}
	self := u.cfg.Self
	if u.cfg.AllowSelf {
		self = policy.PeerID{}
	}
	return u.pol.RepairTargets(now, segmentState(seg), peers, cands, self, u.cfg.DistinctBlocks, need)
}
