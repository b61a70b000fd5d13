package peers

import (
	"cmp"

	"ishtar/shard"
)

// Verified records that a challenge at rec.Address succeeded: rec's key
// holder answers there. rec is checked as Add checks it (its Seq may
// equal the known one) and the entry moves into "tried" with it, the
// contact counted a success. When "tried" is full, the tried entry with
// the worst history that is not protected (one that answered within 4
// hours, or with a long good history) goes back to "new", or away if
// "new" has no room for it; if every tried entry is protected, rec is
// refused (TriedFull) and its entry stays in "new" with the success
// counted.
func (r *Registry) Verified(rec shard.NodeRecord) error {
	now, nowNano := r.now()
	c := r.precheck(rec, now)
	c.verify()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if c.err != nil {
		return r.refuse(c.err)
	}
	e := r.byID[rec.Node]
	if e != nil && rec.Seq < e.rec.Seq {
		return r.refuse(&RefusedError{Node: rec.Node, Reason: Stale})
	}
	var t txn
	defer r.write(&t)
	var victim *entry
	if (e == nil || !e.tried) && len(r.tried) >= r.cfg.MaxTried {
		if victim = r.triedVictim(now); victim == nil && e == nil {
			return r.refuse(&RefusedError{Node: rec.Node, Reason: TriedFull})
		}
	}
	if b := r.blocks[AddressBlock(rec.Address)]; b != nil && (e == nil || b != e.blk) && len(b.list) >= r.cfg.PerBlock {
		v := r.blockVictim(b, e, true, now)
		if v == nil {
			return r.refuse(&RefusedError{Node: rec.Node, Reason: BlockFull})
		}
		r.remove(v, &t)
	}
	changed := e == nil || !e.tried || e.moved
	if e == nil {
		e = &entry{rec: rec, stored: nowNano}
		e.h.heard = now
		r.insert(e, now)
	} else if rec.Seq > e.rec.Seq || rec.Address != e.rec.Address {
		r.setRecord(e, rec, nowNano)
		changed = true
	}
	if _, recovered := e.h.contact(now, true); recovered && e.tried {
		r.log.Info("peers: peer answers again", "node", rec.Node)
	}
	e.moved = false
	var err error
	if !e.tried {
		err = r.promote(e, victim, now, &t)
	}
	r.schedule(e, now, now+int64(recheck.Seconds()))
	if changed {
		r.touch(e, &t, c.raw)
	} else {
		r.markDirty(e) // the same record verified again: history only
	}
	return err
}

// promote moves new entry e into "tried", evicting victim first if
// "tried" is full; with no victim, e stays in "new" (TriedFull).
func (r *Registry) promote(e, victim *entry, now int64, t *txn) error {
	if len(r.tried) >= r.cfg.MaxTried {
		if victim == nil {
			return r.refuse(&RefusedError{Node: e.rec.Node, Reason: TriedFull})
		}
		r.evict(victim, now, t)
	}
	r.toTried(e)
	r.log.Debug("peers: verified", "node", e.rec.Node, "address", e.rec.Address)
	return nil
}

// evict takes tried entry v out of "tried": back to "new" if its source
// and "new" have room, else out of the registry.
func (r *Registry) evict(v *entry, now int64, t *txn) {
	s := r.sources[v.source]
	if len(r.new) < r.cfg.MaxNew && (s == nil || len(s.list) < r.cfg.NewPerSource) {
		r.log.Info("peers: evicted from tried to make room", "node", v.rec.Node, "to", "new")
		r.toNew(v)
		r.schedule(v, now, 0)
		r.touch(v, t, nil)
		return
	}
	r.log.Info("peers: evicted from tried to make room", "node", v.rec.Node, "to", "away")
	r.remove(v, t)
}

// triedVictim returns the tried entry to evict for a newcomer: of the
// entries not protected, one whose record expired if any, else the one
// with the worst history; nil if every entry is protected.
func (r *Registry) triedVictim(now int64) *entry {
	var worst *entry
	var worstExpired bool
	var worstScore float64
	for _, e := range r.tried {
		if e.h.protected(now) {
			continue
		}
		exp, sc := e.expired(now, r.cfg.TTL), e.h.score(now)
		if worst == nil || exp && !worstExpired || exp == worstExpired && worse(worstScore, sc, worst, e) {
			worst, worstExpired, worstScore = e, exp, sc
		}
	}
	return worst
}

// worse reports whether b (score sb) is a worse history than a (score
// sa): a lower score, or the same and heard of later.
func worse(sa, sb float64, a, b *entry) bool {
	if c := cmp.Compare(sb, sa); c != 0 {
		return c < 0
	}
	return b.h.heard > a.h.heard
}
