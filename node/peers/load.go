package peers

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"ishtar/meta"
	"ishtar/shard"
)

// load reads the catalog's entries and places them under today's bounds:
// tried entries first, the best history first, then new ones, oldest
// first. What does not fit, is expired or does not decode is deleted;
// tried entries that no longer fit go back to "new" if they can.
func (r *Registry) load() error {
	now, _ := r.now()
	changes, err := r.db.PeerChanges()
	if err != nil {
		return fmt.Errorf("peers: load: %w", err)
	}
	r.changes = changes
	var all []*entry
	err = r.db.EachPeer(func(p meta.Peer, err error) error {
		e, why := r.loaded(p, err, now)
		if e == nil {
			r.log.Debug("peers: dropping a stored record", "node", shard.PublicKey(p.ID), "why", why)
			r.deleted = append(r.deleted, p.ID)
			return nil
		}
		all = append(all, e)
		r.changes = max(r.changes, e.change)
		return nil
	})
	if err != nil {
		return fmt.Errorf("peers: load: %w", err)
	}
	slices.SortFunc(all, func(a, b *entry) int {
		switch {
		case a.tried != b.tried:
			if a.tried {
				return -1
			}
			return 1
		case a.tried:
			return cmp.Compare(b.h.score(now), a.h.score(now))
		}
		return cmp.Compare(a.h.heard, b.h.heard)
	})
	for _, e := range all {
		r.place(e, now)
	}
	for _, e := range r.tried {
		if !e.moved {
			r.feed = append(r.feed, change{n: e.change, e: e})
		}
	}
	slices.SortFunc(r.feed, func(a, b change) int { return cmp.Compare(a.n, b.n) })
	if len(r.tried)+len(r.new)+len(r.deleted) > 0 {
		r.log.Info("peers: registry loaded", "tried", len(r.tried), "new", len(r.new), "dropped", len(r.deleted))
	}
	return r.flushLocked()
}

// loaded returns the entry of a stored peer, or nil and why it is dropped.
func (r *Registry) loaded(p meta.Peer, err error, now int64) (*entry, string) {
	if err != nil {
		return nil, err.Error()
	}
	var rec shard.NodeRecord
	if err := json.Unmarshal(p.Record, &rec); err != nil {
		return nil, "record does not decode"
	}
	switch {
	case rec.Node != p.ID:
		return nil, "record of another node"
	case rec.Validate() != nil || !dialable(rec.Address):
		return nil, "malformed record"
	case rec.Node == r.cfg.Self:
		return nil, "own record"
	}
	e := &entry{rec: rec, source: p.Source, change: p.Change, stored: p.Seen, tried: p.Table == meta.PeerTried}
	if len(p.History) > 0 {
		h, moved, err := decodeHistory(p.History)
		if err == nil {
			e.h, e.moved = h, moved && e.tried
		}
	}
	if e.h.heard == 0 {
		e.h.heard = p.Seen / 1e9
	}
	if r.dropExpired(e, now) {
		return nil, "expired"
	}
	return e, ""
}

// dropExpired reports whether e is past keeping: a new entry whose record
// expired, a tried one triedHorizon after that.
func (r *Registry) dropExpired(e *entry, now int64) bool {
	if !e.tried {
		return e.expired(now, r.cfg.TTL)
	}
	return e.expired(now-int64(triedHorizon.Seconds()), r.cfg.TTL)
}

// place inserts a loaded entry if the bounds allow it.
func (r *Registry) place(e *entry, now int64) {
	b := r.blocks[AddressBlock(e.rec.Address)]
	if b != nil && len(b.list) >= r.cfg.PerBlock {
		r.deleted = append(r.deleted, e.rec.Node)
		return
	}
	if e.tried && len(r.tried) >= r.cfg.MaxTried {
		e.tried, e.moved = false, false
		r.markDirty(e)
	}
	if !e.tried {
		s := r.sources[e.source]
		if len(r.new) >= r.cfg.MaxNew || s != nil && len(s.list) >= r.cfg.NewPerSource {
			e.dirty = false
			r.deleted = append(r.deleted, e.rec.Node)
			return
		}
	}
	r.insert(e, now)
}
