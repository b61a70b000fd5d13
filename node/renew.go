package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// RenewAnswer is a node's answer to a shard.RenewBatch (POST /v1/renew):
// every shard ID of the batch, in the batch's order, in exactly one list.
// A renewed holding's lease now expires at the batch's LeaseExpiry or
// later (a renew never shortens a lease); a shard the node does not hold
// for the owner (never stored, deleted, or expired) is not held, and is
// not stored again by a renew.
type RenewAnswer struct {
	Renewed []shard.ID `json:"renewed"`
	NotHeld []shard.ID `json:"not_held"`
}

// decodeRenewBatch parses and verifies a renew batch from a request body.
func decodeRenewBatch(body []byte) (shard.RenewBatch, error) {
	var rb shard.RenewBatch
	if err := json.Unmarshal(body, &rb); err != nil {
		return rb, errorf(ErrBadRequest, "body is not a renew batch: %v", err)
	}
	if len(rb.Shards) > shard.MaxRenewBatch {
		return rb, errorf(ErrTooLarge, "renew batch of %d shards, at most %d", len(rb.Shards), shard.MaxRenewBatch)
	}
	if err := rb.Verify(); err != nil {
		return rb, fromShardError(err, "renew batch")
	}
	return rb, nil
}

// handleRenewBatch extends an owner's leases on many shards at once:
// POST /v1/renew, body a shard.RenewBatch, answer a RenewAnswer.
func (s *Server) handleRenewBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	rb, err := decodeRenewBatch(c.body)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	if rb.Node != s.self {
		return errorf(ErrMisdirected, "renew batch is for node %s, not this one", rb.Node)
	}
	if skew := time.Duration(now.UnixNano() - rb.Time).Abs(); skew > s.cfg.ClockWindow {
		return errorf(ErrClockSkew, "renew batch time is %v from this node's clock", skew.Round(time.Second))
	}
	if rb.LeaseExpiry > now.Add(s.cfg.MaxLease).Unix() {
		return errorf(ErrBadRequest, "lease expiry beyond the maximum of %v", s.cfg.MaxLease)
	}
	ans, delegated, err := s.renewBatch(rb, now.Add(-s.cfg.LeaseGrace).Unix())
	if err != nil {
		return err
	}
	s.renewAt(r.Context(), delegated, rb.LeaseExpiry)
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// renewBatch applies a verified batch in one meta batch: each holding of
// the owner named is extended to the batch's expiry unless it already
// lasts longer. A holding whose lease lapsed before gone (unix seconds:
// more than LeaseGrace ago) is not held, whether the sweep has removed it
// yet or not. It needs no shard lock: the record is read and written in
// one Update, and nothing is released.
//
// It also returns where the delegated shards renewed went, to renew them
// there.
func (s *Server) renewBatch(rb shard.RenewBatch, gone int64) (RenewAnswer, []meta.Delegation, error) {
	var ans RenewAnswer
	var delegated []meta.Delegation
	err := s.db.Update(func(b *meta.Batch) error {
		ans = RenewAnswer{Renewed: make([]shard.ID, 0, len(rb.Shards)), NotHeld: []shard.ID{}}
		delegated = delegated[:0]
		for _, id := range rb.Shards {
			rec, err := b.HeldShard(id)
			if errors.Is(err, meta.ErrNotFound) {
				ans.NotHeld = append(ans.NotHeld, id)
				continue
			}
			if err != nil {
				return err
			}
			hd, ok := rec.Holding(rb.Owner)
			if !ok || hd.LeaseExpiry < gone {
				ans.NotHeld = append(ans.NotHeld, id)
				continue
			}
			ans.Renewed = append(ans.Renewed, id)
			if rec.Location == meta.LocationDelegated {
				if d, err := b.Delegation(id); err == nil {
					delegated = append(delegated, d)
				}
			}
			if rb.LeaseExpiry <= hd.LeaseExpiry {
				continue // never shortened; a replay changes nothing
			}
			hd.LeaseExpiry = rb.LeaseExpiry
			rec.SetHolding(hd)
			if err := b.PutHeldShard(rec); err != nil {
				return err
			}
		}
		return nil
	})
	return ans, delegated, err
}

// RenewBatch sends the owner's batch to the peer, which must be the
// batch's Node, and returns its answer, checked to list every shard of
// the batch once. A shard in NotHeld is lost at that peer.
func (c *Client) RenewBatch(ctx context.Context, batch shard.RenewBatch) (RenewAnswer, error) {
	var ans RenewAnswer
	peer, err := c.PeerID(ctx)
	if err != nil {
		return ans, err
	}
	if batch.Node != peer {
		return ans, errorf(ErrMisdirected, "renew batch for node %s sent to %s", batch.Node, peer)
	}
	rq := request{method: http.MethodPost, path: "/v1/renew"}
	if err := c.doJSON(ctx, rq, batch, &ans, maxAnswerBody); err != nil {
		return ans, err
	}
	if err := checkRenewAnswer(ans, batch.Shards); err != nil {
		return RenewAnswer{}, err
	}
	return ans, nil
}

// checkRenewAnswer checks that the two lists of ans split the sorted
// shards: both in order, disjoint, nothing missing, nothing else.
func checkRenewAnswer(ans RenewAnswer, shards []shard.ID) error {
	i, j := 0, 0
	for _, id := range shards {
		switch {
		case i < len(ans.Renewed) && ans.Renewed[i] == id:
			i++
		case j < len(ans.NotHeld) && ans.NotHeld[j] == id:
			j++
		default:
			return errorf(ErrBadResponse, "renew answer does not account for shard %s", id)
		}
	}
	if i != len(ans.Renewed) || j != len(ans.NotHeld) {
		return errorf(ErrBadResponse, "renew answer lists %d shards, the batch has %d", len(ans.Renewed)+len(ans.NotHeld), len(shards))
	}
	return nil
}
