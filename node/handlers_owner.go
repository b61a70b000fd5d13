package node

import (
	"context"
	"errors"
	"net/http"

	"ishtar/meta"
	"ishtar/shard"
)

// ownerOp applies an owner's renew or delete grant to the shard's record,
// under the shard's lock and in one meta batch. It refuses (in this order)
// a shard not held (ErrNotFound), an owner without a holding
// (ErrForbidden), a grant for another size (ErrForbidden) and a grant not
// newer than the owner's last (ErrStaleGrant). apply edits rec and reports
// whether the shard's bytes are to be released.
func (s *Server) ownerOp(r *http.Request, g shard.Grant, apply func(rec *meta.HeldShard, hd meta.Holding) (release bool)) (meta.HeldShard, bool, error) {
	id := g.Shard
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	var rec meta.HeldShard
	var gone []released // delegated: to release at the next node
	release, released := false, false
	err := s.db.Update(func(b *meta.Batch) error {
		var err error
		rec, err = b.HeldShard(id)
		if errors.Is(err, meta.ErrNotFound) {
			return errorf(ErrNotFound, "shard %s not held", id)
		}
		if err != nil {
			return err
		}
		hd, ok := rec.Holding(g.Owner)
		if !ok {
			return errorf(ErrForbidden, "shard %s is not held for owner %s", id, g.Owner)
		}
		if g.Size != rec.Size {
			return errorf(ErrForbidden, "grant covers %d bytes, shard has %d", g.Size, rec.Size)
		}
		if last, err := b.LastGrant(id, g.Owner); err != nil {
			return err
		} else if g.Time <= last {
			return ErrStaleGrant
		}
		release = apply(&rec, hd)
		if _, still := rec.Holding(g.Owner); !still {
			if err := s.dropHolding(b, g.Owner, rec.Size); err != nil {
				return err
			}
		}
		if release && rec.Location == meta.LocationDelegated {
			rl, err := dropDelegated(b, rec)
			gone, released = append(gone[:0], rl), true
			if err != nil {
				return err
			}
		} else if release {
			if bd, ok := s.st.(batchDeleter); ok {
				// Inline bytes go in the same batch as their index.
				if released, err = bd.deleteIn(b, id); err != nil {
					return err
				}
			}
			if err := b.DeleteHeldShard(id); err != nil {
				return err
			}
			if _, err := b.AddCounter(meta.CounterUsedBytes, -rec.Size); err != nil {
				return err
			}
		} else if err := b.PutHeldShard(rec); err != nil {
			return err
		}
		return b.SetLastGrant(id, g.Owner, g.Time)
	})
	if err != nil {
		return rec, false, err
	}
	s.release(context.WithoutCancel(r.Context()), gone)
	if release && !released {
		if err := s.st.Delete(r.Context(), id); err != nil && !errors.Is(err, ErrNotFound) {
			return rec, true, err
		}
	}
	return rec, release, nil
}

// addHolding counts a new holding of a shard of size bytes for owner: in
// the owner's totals, and its catalog entries against the capacity (the
// shard's bytes count once, with its first holding). With the owner's
// first holding, the owner's foreign root becomes an ordinary one.
func addHolding(b *meta.Batch, owner shard.PublicKey, size int64) error {
	o, err := b.AddOwnerHeld(owner, 1, size+meta.HoldingOverhead)
	if err != nil {
		return err
	}
	if _, err := b.AddCounter(meta.CounterUsedBytes, meta.HoldingOverhead); err != nil || o.Shards > 1 {
		return err
	}
	return adoptRoot(b, owner)
}

// dropHolding takes a released holding of size bytes off owner's totals;
// with the owner's last one, the owner's root becomes foreign or goes
// (orphanRoot).
func (s *Server) dropHolding(b *meta.Batch, owner shard.PublicKey, size int64) error {
	o, err := b.AddOwnerHeld(owner, -1, -(size + meta.HoldingOverhead))
	if err != nil {
		return err
	}
	if _, err := b.AddCounter(meta.CounterUsedBytes, -meta.HoldingOverhead); err != nil || o.Shards > 0 {
		return err
	}
	return s.orphanRoot(b, owner)
}

// handleRenew extends an owner's lease: POST /v1/shards/{id}/renew.
func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	g, err := s.grant(r, shard.OpRenew, id, now)
	if err != nil {
		return err
	}
	if err := s.checkLease(g, now); err != nil {
		return err
	}
	var renewed meta.Holding
	rec, _, err := s.ownerOp(r, g, func(rec *meta.HeldShard, hd meta.Holding) bool {
		hd.LeaseExpiry = max(hd.LeaseExpiry, g.LeaseExpiry)
		rec.SetHolding(hd)
		renewed = hd
		return false
	})
	if err != nil {
		return err
	}
	if rec.Location == meta.LocationDelegated {
		if d, err := s.db.Delegation(id); err == nil {
			s.renewAt(r.Context(), []meta.Delegation{d}, renewed.LeaseExpiry)
		}
	}
	writeJSON(w, http.StatusOK, s.receipt(id, rec.Size, renewed, now))
	return nil
}

// handleDeleteShard releases an owner's holding, and the bytes with the
// last one: DELETE /v1/shards/{id}.
func (s *Server) handleDeleteShard(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	g, err := s.grant(r, shard.OpDelete, id, s.cfg.Now())
	if err != nil {
		return err
	}
	_, _, err = s.ownerOp(r, g, func(rec *meta.HeldShard, hd meta.Holding) bool {
		rec.RemoveHolding(hd.Owner)
		return len(rec.Holders) == 0
	})
	if err != nil {
		return err
	}
	if err := s.settleCredit(g.Owner); err != nil {
		s.log.WarnContext(r.Context(), "settling an owner's credit", "err", err) // the next refresh does
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
