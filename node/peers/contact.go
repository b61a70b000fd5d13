package peers

import (
	"time"

	"ishtar/shard"
)

// Contact records a contact with node id and its outcome: its history,
// and on a failure a back-off (30 s, doubling with each failure after one
// ended, up to 1 h) during which it is neither placeable, sampled nor
// due for a challenge; failures during a back-off count in the history
// only. A success ends the back-off. Unknown nodes are ignored. History
// is persisted by Flush. A successful challenge is reported by Verified,
// not here.
func (r *Registry) Contact(id shard.PublicKey, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil || r.closed {
		return
	}
	now, _ := r.now()
	started, recovered := e.h.contact(now, ok)
	switch {
	case started && e.tried:
		r.log.Info("peers: peer stopped answering, backing off", "node", id, "retry_in", time.Duration(e.h.retryAt-now)*time.Second)
	case recovered && e.tried:
		r.log.Info("peers: peer answers again", "node", id)
	}
	r.schedule(e, now, 0)
	r.markDirty(e)
}

// Lied records that node id answered falsely (a failed audit, a shard
// that does not match its ID): its reputation, 1/(1+d) for d demerits,
// falls, and recovers as demerits halve every lieHalfLife. Below about
// two fresh lies the peer is not placeable.
func (r *Registry) Lied(id shard.PublicKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil || r.closed {
		return
	}
	now, _ := r.now()
	if before := e.h.lie(now); before >= liarBelow && e.h.reputation(now) < liarBelow {
		r.log.Warn("peers: peer lied again; not placeable until its reputation recovers", "node", id)
	}
	r.markDirty(e)
}

// Expire drops the new entries whose record expired and the tried ones
// kept triedHorizon past that, and returns how many. Expired records are
// also skipped by every query and replaced lazily.
func (r *Registry) Expire() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0
	}
	now, _ := r.now()
	var t txn
	n := r.sweep(now, &t)
	r.write(&t)
	return n
}

// sweep removes what dropExpired says and compacts the feed.
func (r *Registry) sweep(now int64, t *txn) int {
	r.lastSweep = now
	var old []*entry
	for _, e := range r.byID {
		if r.dropExpired(e, now) {
			old = append(old, e)
		}
	}
	for _, e := range old {
		r.remove(e, t)
	}
	r.compactFeed()
	if len(old) > 0 {
		r.log.Debug("peers: expired records dropped", "n", len(old))
	}
	return len(old)
}

// compactFeed drops the feed's stale changes once they outnumber the
// live ones.
func (r *Registry) compactFeed() {
	if len(r.feed) <= 2*len(r.tried)+1024 {
		return
	}
	live := r.feed[:0]
	for _, c := range r.feed {
		if c.live() {
			live = append(live, c)
		}
	}
	clear(r.feed[len(live):])
	r.feed = live
}

// live reports whether c is its entry's last change, tried and verified.
func (c change) live() bool {
	return !c.e.gone && c.e.tried && !c.e.moved && c.e.change == c.n
}
