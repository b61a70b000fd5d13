package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"ishtar/meta"
	"ishtar/shard"
)

// MaxPeerRecords bounds the records of one peer-exchange request or answer.
const MaxPeerRecords = 1000

// Record returns the node's current signed record.
func (s *Server) Record() (shard.NodeRecord, error) {
	free, err := s.free()
	if err != nil {
		return shard.NodeRecord{}, err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	s.seq = max(s.seq+1, uint64(now.UnixNano()))
	seq := s.seq
	s.mu.Unlock()
	rec := shard.NodeRecord{
		Address:  s.cfg.Address,
		Capacity: s.cfg.Capacity,
		Free:     free,
		Version:  s.cfg.Version,
		Seq:      seq,
		Time:     now.Unix(),
	}
	rec.Sign(s.cfg.Key)
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

// handleGetPeers answers GET /v1/peers with the known node records.
func (s *Server) handleGetPeers(w http.ResponseWriter, r *http.Request, c *call) error {
	peers, err := s.db.Peers([32]byte{}, MaxPeerRecords)
	if err != nil {
		return err
	}
	recs := make([]json.RawMessage, 0, len(peers))
	for _, p := range peers {
		recs = append(recs, p.Record)
	}
	writeJSON(w, http.StatusOK, recs)
	return nil
}

// peersAnswer is the answer to POST /v1/peers.
type peersAnswer struct {
	Accepted int `json:"accepted"` // records newer than the ones known
}

// handlePostPeers takes signed node records: POST /v1/peers. Any invalid
// record refuses the whole request; a record replaces a known one only
// with a higher Seq.
func (s *Server) handlePostPeers(w http.ResponseWriter, r *http.Request, c *call) error {
	var recs []shard.NodeRecord
	if err := json.Unmarshal(c.body, &recs); err != nil {
		return errorf(ErrBadRequest, "body is not a list of node records: %v", err)
	}
	if len(recs) > MaxPeerRecords {
		return errorf(ErrTooLarge, "%d records, at most %d", len(recs), MaxPeerRecords)
	}
	for i, rec := range recs {
		if err := rec.Verify(); err != nil {
			return fromShardError(err, fmt.Sprintf("record %d", i))
		}
	}
	now := s.cfg.Now().UnixNano()
	accepted := 0
	err := s.db.Update(func(b *meta.Batch) error {
		accepted = 0
		for _, rec := range recs {
			if rec.Node == s.self {
				continue
			}
			old, err := b.Peer(rec.Node)
			if err == nil && old.Seq >= rec.Seq {
				continue
			}
			if err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("node: encode record: %w", err)
			}
			if err := b.PutPeer(meta.Peer{ID: rec.Node, Seq: rec.Seq, Seen: now, Record: raw}); err != nil {
				return err
			}
			accepted++
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, peersAnswer{Accepted: accepted})
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
	err = s.db.Update(func(b *meta.Batch) error {
		old, err := b.Root(owner)
		if err == nil && old.Seq >= rec.Seq {
			return errorf(ErrConflict, "have seq %d, got %d", old.Seq, rec.Seq)
		}
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
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
