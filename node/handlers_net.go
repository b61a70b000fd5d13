package node

import (
	"net/http"
	"time"

	"ishtar/shard"
)

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
		Owner:    s.cfg.Owner,
		OwnerSig: s.cfg.OwnerSig,
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
