package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// RecordTTL is how long a node record is kept and handed out after its
// node signed it: a node that stops refreshing its record drops out.
const RecordTTL = 24 * time.Hour

// peerTable bounds the node records a node keeps for whoever announces
// them (POST /v1/peers). Records are public and each is signed by its
// node, but every one costs the keeper catalog space, so the table holds
// at most Limits.Peers records, at most Limits.PeersPerBlock advertising
// addresses in one address block, and at most Limits.PeersPerSource that
// came first from one announcing address block. A record replaces its
// node's older one (higher Seq); a full table takes no newcomer, so a
// flood never pushes out the records already kept; records expire
// RecordTTL after they were signed. The records live in the catalog; the
// counts are kept here, rebuilt at start.
type peerTable struct {
	load    sync.Once
	loadErr error

	mu        sync.Mutex
	byID      map[shard.PublicKey]peerEntry
	perBlock  map[string]int
	perSource map[string]int
}

type peerEntry struct {
	seq    uint64
	time   int64 // the record's signing time, unix seconds
	block  string
	source string
}

// table returns the peer table, counting the catalog's records the first
// time.
func (s *Server) table() (*peerTable, error) {
	t := s.peers
	t.load.Do(func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.loadErr = t.reload(s.db)
	})
	return t, t.loadErr
}

// reload counts the records in db afresh; the caller holds mu.
func (t *peerTable) reload(db *meta.DB) error {
	t.byID = make(map[shard.PublicKey]peerEntry)
	t.perBlock = make(map[string]int)
	t.perSource = make(map[string]int)
	var after [32]byte
	for {
		page, err := db.Peers(after, 1024)
		if err != nil {
			return fmt.Errorf("node: load peer records: %w", err)
		}
		for _, p := range page {
			var rec shard.NodeRecord
			if err := json.Unmarshal(p.Record, &rec); err != nil {
				return fmt.Errorf("node: peer record %x: %w", p.ID[:4], err)
			}
			t.add(rec.Node, peerEntry{seq: rec.Seq, time: rec.Time, block: AddressBlock(rec.Address), source: p.Source})
		}
		if len(page) < 1024 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// add counts e as id's entry, replacing any; the caller holds mu (or owns
// t alone).
func (t *peerTable) add(id shard.PublicKey, e peerEntry) {
	t.remove(id)
	t.byID[id] = e
	t.perBlock[e.block]++
	t.perSource[e.source]++
}

func (t *peerTable) remove(id shard.PublicKey) {
	old, ok := t.byID[id]
	if !ok {
		return
	}
	delete(t.byID, id)
	if t.perBlock[old.block]--; t.perBlock[old.block] <= 0 {
		delete(t.perBlock, old.block)
	}
	if t.perSource[old.source]--; t.perSource[old.source] <= 0 {
		delete(t.perSource, old.source)
	}
}

// admit reports why rec, announced from source, is not kept ("" if it
// is): an old sequence number, or a bound. The caller holds mu.
func (t *peerTable) admit(rec shard.NodeRecord, source string, lim *Limits) string {
	old, known := t.byID[rec.Node]
	block := AddressBlock(rec.Address)
	switch {
	case known && old.seq >= rec.Seq:
		return "stale"
	case !known && len(t.byID) >= lim.Peers:
		return "table full"
	case (!known || old.block != block) && t.perBlock[block] >= lim.PeersPerBlock:
		return "address block full"
	case !known && t.perSource[source] >= lim.PeersPerSource:
		return "source full"
	}
	return ""
}

// peersAnswer is the answer to POST /v1/peers.
type peersAnswer struct {
	Accepted int `json:"accepted"` // records kept
	Refused  int `json:"refused"`  // valid records not kept: stale, expired, future-dated or over a bound
}

// acceptPeers keeps what it may of recs (signatures verified), announced
// from address block source, and returns how many it kept and refused.
func (s *Server) acceptPeers(recs []shard.NodeRecord, source string) (peersAnswer, error) {
	now := s.cfg.Now()
	var ans peersAnswer
	t, err := s.table()
	if err != nil {
		return ans, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	kept := make(map[shard.PublicKey]peerEntry)
	err = s.db.Update(func(b *meta.Batch) error {
		for _, rec := range recs {
			why := ""
			switch {
			case rec.Node == s.self:
				why = "self"
			case rec.Time > now.Add(s.cfg.ClockWindow).Unix():
				why = "future"
			case rec.Time <= now.Add(-RecordTTL).Unix():
				why = "expired"
			default:
				why = t.admit(rec, source, &s.cfg.Limits)
			}
			if prev, dup := kept[rec.Node]; why == "" && dup && prev.seq >= rec.Seq {
				why = "stale"
			}
			if why != "" {
				ans.Refused++
				s.refused.add("record_" + why)
				continue
			}
			e := peerEntry{seq: rec.Seq, time: rec.Time, block: AddressBlock(rec.Address), source: source}
			if old, known := t.byID[rec.Node]; known {
				e.source = old.source // counted where it first came from
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("node: encode record: %w", err)
			}
			if err := b.PutPeer(meta.Peer{ID: rec.Node, Seq: rec.Seq, Seen: now.UnixNano(), Record: raw, Source: e.source}); err != nil {
				return err
			}
			t.add(rec.Node, e) // counted now, so the rest of recs sees the bounds
			kept[rec.Node] = e
			ans.Accepted++
		}
		return nil
	})
	if err != nil {
		// Nothing was written: count the catalog's records again.
		return peersAnswer{}, errors.Join(err, t.reload(s.db))
	}
	return ans, nil
}

// expirePeers deletes the records signed more than RecordTTL ago and
// returns how many.
func (s *Server) expirePeers() (int, error) {
	cutoff := s.cfg.Now().Add(-RecordTTL).Unix()
	t, err := s.table()
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []shard.PublicKey
	for id, e := range t.byID {
		if e.time <= cutoff {
			old = append(old, id)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	err = s.db.Update(func(b *meta.Batch) error {
		for _, id := range old {
			if err := b.DeletePeer(id); err != nil {
				return err
			}
		}
		return nil
	}, meta.NoSync())
	if err != nil {
		return 0, fmt.Errorf("node: expire peer records: %w", err)
	}
	for _, id := range old {
		t.remove(id)
	}
	return len(old), nil
}

// livePeers returns up to limit stored records not yet expired.
func (s *Server) livePeers(limit int) ([]json.RawMessage, error) {
	cutoff := s.cfg.Now().Add(-RecordTTL).Unix()
	t, err := s.table()
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, 0, min(limit, 64))
	var after [32]byte
	for len(out) < limit {
		page, err := s.db.Peers(after, 256)
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			t.mu.Lock()
			e, ok := t.byID[p.ID]
			t.mu.Unlock()
			if ok && e.time > cutoff && len(out) < limit {
				out = append(out, p.Record)
			}
		}
		if len(page) < 256 {
			break
		}
		after = page[len(page)-1].ID
	}
	return out, nil
}
