package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// MaxRootRecord bounds a root record as kept (its JSON form).
const MaxRootRecord = 16 << 10

// recordRefresh is how long the node's record is handed out before it is
// signed again with the same content: well within the records' 24 h.
const recordRefresh = time.Hour

// Record returns the node's current signed record. It is signed again
// (with a higher Seq) only when its content changes (free space, as
// shards come and go) or after recordRefresh, so that peers exchanging
// records see a new version only when there is news.
func (s *Server) Record() (shard.NodeRecord, error) {
	free, err := s.free()
	if err != nil {
		return shard.NodeRecord{}, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.rec
	if !old.Node.IsZero() && old.Free == free && now.Unix()-old.Time < int64(recordRefresh/time.Second) &&
		now.Unix() >= old.Time {
		return old, nil
	}
	s.seq = max(s.seq+1, uint64(now.UnixNano()))
	rec := shard.NodeRecord{
		Address:  s.cfg.Address,
		Capacity: s.cfg.Capacity,
		Free:     free,
		Version:  s.cfg.Version,
		Seq:      s.seq,
		Time:     now.Unix(),
	}
	rec.Sign(s.cfg.Key)
	s.rec = rec
	return rec, nil
}

// handleInfo answers GET /v1/info with the node's signed record.
func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request, c *call) error {
	rec, err := s.Record()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// handleGetRoot answers GET /v1/roots/{owner} with the highest root record.
func (s *Server) handleGetRoot(w http.ResponseWriter, r *http.Request, c *call) error {
	owner, err := pathID(r, "owner")
	if err != nil {
		return err
	}
	root, err := s.db.Root(owner)
	if errors.Is(err, meta.ErrNotFound) {
		return errorf(ErrNotFound, "no root for owner %s", owner)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, json.RawMessage(root.Record))
	return nil
}

// handlePostRoot keeps an owner's root record if its Seq is the highest:
// POST /v1/roots/{owner}.
func (s *Server) handlePostRoot(w http.ResponseWriter, r *http.Request, c *call) error {
	owner, err := pathID(r, "owner")
	if err != nil {
		return err
	}
	var rec shard.RootRecord
	if err := json.Unmarshal(c.body, &rec); err != nil {
		return errorf(ErrBadRequest, "body is not a root record: %v", err)
	}
	if rec.Owner != shard.PublicKey(owner) {
		return errorf(ErrBadRequest, "record of owner %s posted for %s", rec.Owner, owner)
	}
	if err := rec.Verify(); err != nil {
		return fromShardError(err, "root record")
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("node: encode root record: %w", err)
	}
	if int64(len(raw)) > MaxRootRecord {
		return errorf(ErrTooLarge, "root record of %d bytes, at most %d", len(raw), MaxRootRecord)
	}
	err = s.db.Update(func(b *meta.Batch) error {
		// A root is kept only for an owner this node holds shards for,
		// and counts against the capacity: strangers cannot make the
		// node keep records for free.
		if held, err := b.OwnerHeld(owner); err != nil {
			return err
		} else if held.Shards == 0 {
			return errorf(ErrForbidden, "this node holds no shard of owner %s", owner)
		}
		old, err := b.Root(owner)
		if err == nil && old.Seq >= rec.Seq {
			return errorf(ErrConflict, "have seq %d, got %d", old.Seq, rec.Seq)
		}
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		if _, err := b.AddCounter(meta.CounterUsedBytes, int64(len(raw)-len(old.Record))); err != nil {
			return err
		}
		return b.PutRoot(meta.Root{Owner: owner, Seq: rec.Seq, Record: raw})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
