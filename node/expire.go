package node

import (
	"context"
	"errors"

	"ishtar/meta"
	"ishtar/shard"
)

// expirePage is how many lapsed leases one batch of a sweep handles: the
// shard locks it takes (their stripes) are held for one synced batch and
// the file deletions after it, so stores wait at most that long.
const expirePage = 256

// Expired is what one lease sweep (ExpireLeases) removed.
type Expired struct {
	Holdings int   // owners' holdings whose lease lapsed more than LeaseGrace ago
	Shards   int   // shards whose bytes went with their last holding
	Freed    int64 // capacity given back: bytes, holdings' overhead, roots dropped
}

func (e *Expired) add(o Expired) {
	e.Holdings += o.Holdings
	e.Shards += o.Shards
	e.Freed += o.Freed
}

// ExpireLeases deletes the holdings whose lease expired more than
// Config.LeaseGrace ago, and the bytes of a shard with its last holding,
// as a delete would (the owner's totals follow, and with its last
// holding the owner's root becomes foreign or goes, see orphanRoot). It
// works through the lease index a page at a time, each page in one meta
// batch, until nothing lapsed is left or ctx ends. Maintain runs it; it
// is exported for tests and tools.
func (s *Server) ExpireLeases(ctx context.Context) (Expired, error) {
	var total Expired
	cutoff := s.cfg.Now().Add(-s.cfg.LeaseGrace).Unix()
	var after *meta.Lease // the page's entries are deleted: never scan them again
	for ctx.Err() == nil {
		leases, err := s.db.LapsedLeases(after, cutoff, expirePage)
		if err != nil || len(leases) == 0 {
			return total, err
		}
		n, err := s.expirePage(ctx, leases, cutoff)
		total.add(n)
		if err != nil || len(leases) < expirePage {
			return total, err
		}
		after = &leases[len(leases)-1]
	}
	return total, ctx.Err()
}

// expirePage removes the lapsed holdings of one page of the lease index,
// under the locks of their shards. Every entry of the page leaves the
// index, so a sweep always moves on: a holding renewed since the page was
// read keeps its own, newer entry.
func (s *Server) expirePage(ctx context.Context, leases []meta.Lease, cutoff int64) (Expired, error) {
	var stripes [256]bool // s.lock: striped by the ID's first byte
	for _, l := range leases {
		stripes[l.Shard[0]] = true
	}
	for i, on := range stripes { // in order: no two sweeps or stores deadlock
		if on {
			s.locks[i].Lock()
			defer s.locks[i].Unlock()
		}
	}
	var ex Expired
	var files []shard.ID // bytes to delete once the batch is durable
	var gone []released  // delegated shards to release at their next nodes
	err := s.db.Update(func(b *meta.Batch) error {
		ex, files, gone = Expired{}, files[:0], gone[:0]
		usedBefore, err := b.Counter(meta.CounterUsedBytes)
		if err != nil {
			return err
		}
		for _, l := range leases {
			if err := b.DropLease(l); err != nil {
				return err
			}
			rec, err := b.HeldShard(l.Shard)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			hd, ok := rec.Holding(l.Owner)
			if !ok || hd.LeaseExpiry >= cutoff {
				continue // released, or renewed since
			}
			rec.RemoveHolding(l.Owner)
			if err := s.dropHolding(b, l.Owner, rec.Size); err != nil {
				return err
			}
			ex.Holdings++
			if len(rec.Holders) > 0 {
				if err := b.PutHeldShard(rec); err != nil {
					return err
				}
				continue
			}
			ex.Shards++
			if rec.Location == meta.LocationDelegated {
				rl, err := dropDelegated(b, rec)
				if err != nil {
					return err
				}
				gone = append(gone, rl)
				continue
			}
			released := false
			if bd, ok := s.st.(batchDeleter); ok {
				// Inline bytes go in the same batch as their index.
				if released, err = bd.deleteIn(b, l.Shard); err != nil {
					return err
				}
			}
			if !released {
				files = append(files, l.Shard)
			}
			if err := b.DeleteHeldShard(l.Shard); err != nil {
				return err
			}
			if _, err := b.AddCounter(meta.CounterUsedBytes, -rec.Size); err != nil {
				return err
			}
		}
		usedAfter, err := b.Counter(meta.CounterUsedBytes)
		ex.Freed = usedBefore - usedAfter
		return err
	})
	if err != nil {
		return Expired{}, err
	}
	ctx = context.WithoutCancel(ctx) // the index no longer has them
	s.release(ctx, gone)
	for _, id := range files {
		if err := s.st.Delete(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			// Unindexed bytes: Sweep removes them at the next start.
			s.log.ErrorContext(ctx, "cannot remove the bytes of an expired shard", "shard", id.String(), "err", err)
		}
	}
	return ex, nil
}
