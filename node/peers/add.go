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
	_, refused := r.add([]shard.NodeRecord{rec}, source)
	if refused == nil {
		return nil
	}
	return refused[0]
}

// AddAll is Add for a page of records from one source, written in one
// catalog batch.
func (r *Registry) AddAll(recs []shard.NodeRecord, source string) (added, refused int) {
	added, errs := r.add(recs, source)
	if len(errs) == 1 && errs[0] == ErrClosed {
		return 0, len(recs)
	}
	return added, len(errs)
}

// add checks recs and merges those that pass. The cheap checks come
// first (fields, times, a stale Seq), so a flood of replayed records
// costs no signature verification; signatures are verified without the
// lock.
func (r *Registry) add(recs []shard.NodeRecord, source string) (added int, refused []error) {
	now, _ := r.now()
	checked := make([]checked, len(recs))
	for i := range recs {
		checked[i] = r.precheck(recs[i], now)
	}
	r.mu.Lock()
	closed := r.closed
	for i := range checked {
		if c := &checked[i]; c.err == nil {
			if e := r.byID[c.rec.Node]; e != nil && c.rec.Seq <= e.rec.Seq {
				c.err = &RefusedError{Node: c.rec.Node, Reason: Stale}
			}
		}
	}
	r.mu.Unlock()
	if closed {
		return 0, []error{ErrClosed}
	}
	for i := range checked {
		checked[i].verify()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, []error{ErrClosed}
	}
	var t txn
	for _, c := range checked {
		if err := r.addChecked(c, source, &t); err != nil {
			refused = append(refused, err)
		} else {
			added++
		}
	}
	r.write(&t)
	return added, refused
}

// checked is a record and what its checks found.
type checked struct {
	rec shard.NodeRecord
	raw []byte // its JSON, to store
	err *RefusedError
}

// precheck checks rec's fields, address and times, not its signature.
func (r *Registry) precheck(rec shard.NodeRecord, now int64) checked {
	c := checked{rec: rec}
	switch err := rec.Validate(); {
	case err != nil:
		c.err = &RefusedError{Node: rec.Node, Reason: Malformed, Err: err}
	case !dialable(rec.Address):
		c.err = &RefusedError{Node: rec.Node, Reason: Malformed, Err: errors.New("address is not an http(s) URL")}
	case rec.Node == r.cfg.Self:
		c.err = &RefusedError{Node: rec.Node, Reason: Self}
	case rec.Time > now+int64(r.cfg.ClockWindow/time.Second):
		c.err = &RefusedError{Node: rec.Node, Reason: Future}
	case rec.Time <= now-int64(r.cfg.TTL/time.Second):
		c.err = &RefusedError{Node: rec.Node, Reason: Expired}
	}
	return c
}

// verify checks the signature of a record that passed precheck and
// encodes it.
func (c *checked) verify() {
	if c.err != nil {
		return
	}
	if err := c.rec.Verify(); err != nil {
		c.err = &RefusedError{Node: c.rec.Node, Reason: BadSignature, Err: err}
		if !errors.Is(err, shard.ErrBadSignature) {
			c.err.Reason = Malformed
		}
		return
	}
	raw, err := json.Marshal(c.rec)
	if err != nil {
		c.err = &RefusedError{Node: c.rec.Node, Reason: Malformed, Err: err}
	}
	c.raw = raw
}

func (r *Registry) refuse(e *RefusedError) error {
	r.refused[e.Reason]++
	return e
}

// addChecked merges a checked record; the caller holds mu.
func (r *Registry) addChecked(c checked, source string, t *txn) error {
	now, nowNano := r.now()
	if c.err != nil {
		return r.refuse(c.err)
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
