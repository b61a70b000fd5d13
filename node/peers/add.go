package peers

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"time"

	"ishtar/shard"
)

// Add verifies rec, heard of from source (the address block that sent
// it), and keeps it if it is new to the registry or newer than the known
// record of its node; an error wraps ErrRefused (a *RefusedError).
func (r *Registry) Add(rec shard.NodeRecord, source string) error {
	c := r.check(rec)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	var t txn
	err := r.addChecked(c, source, &t)
	r.write(&t)
	return err
}

// AddAll is Add for a page of records from one source, written in one
// catalog batch. Signatures are verified before the registry is locked.
func (r *Registry) AddAll(recs []shard.NodeRecord, source string) (added, refused int) {
	checked := make([]checked, len(recs))
	for i := range recs {
		checked[i] = r.check(recs[i])
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, len(recs)
	}
	var t txn
	for _, c := range checked {
		if r.addChecked(c, source, &t) == nil {
			added++
		} else {
			refused++
		}
	}
	r.write(&t)
	return added, refused
}

// checked is a record whose fields and signature were checked.
type checked struct {
	rec shard.NodeRecord
	raw []byte // its JSON, to store
	err *RefusedError
}

// check does what needs no lock: the fields, the address and the
// signature.
func (r *Registry) check(rec shard.NodeRecord) checked {
	c := checked{rec: rec}
	if err := rec.Verify(); err != nil {
		c.err = &RefusedError{Node: rec.Node, Reason: Malformed, Err: err}
		if errors.Is(err, shard.ErrBadSignature) {
			c.err.Reason = BadSignature
		}
		return c
	}
	if !dialable(rec.Address) {
		c.err = &RefusedError{Node: rec.Node, Reason: Malformed, Err: errors.New("address is not an http(s) URL")}
		return c
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		c.err = &RefusedError{Node: rec.Node, Reason: Malformed, Err: err}
	}
	c.raw = raw
	return c
}

// timely refuses c's record if it is this node's, expired or ahead of
// the clock window.
func (r *Registry) timely(c *checked, now int64) *RefusedError {
	rec := &c.rec
	switch {
	case c.err != nil:
		return c.err
	case rec.Node == r.cfg.Self:
		return &RefusedError{Node: rec.Node, Reason: Self}
	case rec.Time > now+int64(r.cfg.ClockWindow/time.Second):
		return &RefusedError{Node: rec.Node, Reason: Future}
	case rec.Time <= now-int64(r.cfg.TTL/time.Second):
		return &RefusedError{Node: rec.Node, Reason: Expired}
	}
	return nil
}

func (r *Registry) refuse(e *RefusedError) error {
	r.refused[e.Reason]++
	return e
}

// addChecked merges a checked record; the caller holds mu.
func (r *Registry) addChecked(c checked, source string, t *txn) error {
	now, nowNano := r.now()
	if err := r.timely(&c, now); err != nil {
		return r.refuse(err)
	}
	rec := c.rec
	if e := r.byID[rec.Node]; e != nil {
		if rec.Seq <= e.rec.Seq {
			return r.refuse(&RefusedError{Node: rec.Node, Reason: Stale})
		}
		return r.replace(e, c, now, nowNano, t)
	}
	if len(r.new) >= r.cfg.MaxNew {
		r.sweepSoon(now, t)
	}
	blk, src := r.blocks[AddressBlock(rec.Address)], r.sources[source]
	needBlock := blk != nil && len(blk.list) >= r.cfg.PerBlock
	needSrc := src != nil && len(src.list) >= r.cfg.NewPerSource
	needNew := len(r.new) >= r.cfg.MaxNew
	if needBlock || needSrc || needNew {
		v := r.newVictim(blk, src, needBlock, needSrc, now)
		if v == nil {
			reason := NewFull
			if needBlock {
				reason = BlockFull
			} else if needSrc {
				reason = SourceFull
			}
			return r.refuse(&RefusedError{Node: rec.Node, Reason: reason})
		}
		r.remove(v, t)
	}
	e := &entry{rec: rec, source: source, stored: nowNano}
	e.h.heard = now
	r.insert(e, now)
	r.touch(e, t, c.raw)
	return nil
}

// replace puts a newer record in e. A tried entry whose address changed
// stays tried, not placeable until the new address is verified.
func (r *Registry) replace(e *entry, c checked, now, nowNano int64, t *txn) error {
	rec := c.rec
	if b := r.blocks[AddressBlock(rec.Address)]; b != nil && b != e.blk && len(b.list) >= r.cfg.PerBlock {
		v := r.blockVictim(b, e, false, now)
		if v == nil {
			return r.refuse(&RefusedError{Node: rec.Node, Reason: BlockFull})
		}
		r.remove(v, t)
	}
	moved := rec.Address != e.rec.Address
	r.setRecord(e, rec, nowNano)
	if moved {
		e.moved = e.tried
		e.h.retryAt = 0 // the back-off was the old address's
		if e.tried {
			r.log.Info("peers: a tried peer moved; verifying its new address", "node", rec.Node, "address", rec.Address)
		}
	}
	r.schedule(e, now, 0)
	r.touch(e, t, c.raw)
	return nil
}

// victimSample is how many random new entries are looked at for a
// terrible one when "new" is full.
const victimSample = 32

// newVictim returns a terrible new entry whose removal makes room for a
// newcomer: in its block if that is full, of its source if that is at its
// quota, else anywhere in "new" (its source's first, then a random
// sample); nil if there is none.
func (r *Registry) newVictim(blk *block, src *source, needBlock, needSrc bool, now int64) *entry {
	if needBlock {
		for _, e := range blk.list {
			if !e.tried && (!needSrc || e.source == src.name) && r.terrible(e, now) {
				return e
			}
		}
		return nil
	}
	if src != nil {
		for _, e := range src.list {
			if r.terrible(e, now) {
				return e
			}
		}
	}
	if needSrc || len(r.new) == 0 {
		return nil
	}
	for range victimSample {
		if e := r.new[rand.IntN(len(r.new))]; r.terrible(e, now) {
			return e
		}
	}
	return nil
}

// blockVictim returns the new entry of block b (not keep) a newcomer may
// replace: a terrible one, or for a verified newcomer (anyNew) the one
// with the worst history.
func (r *Registry) blockVictim(b *block, keep *entry, anyNew bool, now int64) *entry {
	var worst *entry
	for _, e := range b.list {
		switch {
		case e == keep || e.tried:
		case r.terrible(e, now):
			return e
		case anyNew && (worst == nil || e.h.score(now) < worst.h.score(now)):
			worst = e
		}
	}
	return worst
}

func (r *Registry) terrible(e *entry, now int64) bool {
	return e.h.terrible(now, e.expired(now, r.cfg.TTL))
}

// sweepInterval is how often a full "new" table is swept for expired
// records, at most.
const sweepInterval = time.Minute

func (r *Registry) sweepSoon(now int64, t *txn) {
	if now-r.lastSweep >= int64(sweepInterval/time.Second) {
		r.sweep(now, t)
	}
}
