package peers

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"ishtar/shard"
)

// Peer is a registry entry as callers see it.
type Peer struct {
	Record    shard.NodeRecord
	Tried     bool   // its key holder answered at its address
	Moved     bool   // since then it moved to an address not verified yet
	Placeable bool   // fit for new shards
	Why       string // why it is not placeable ("" if it is)
	Source    string // the address block it was first heard of from
	Block     string // the address block of its address
	LastSeen  time.Time
	LastTried time.Time
	RetryAt   time.Time // end of its back-off (zero: none)
	// DownSince is its first failed contact since it last answered (zero
	// while it answers, or when not known).
	DownSince time.Time
	Tries     int64
	Successes int64
	Failures  int     // back-offs since its last success
	Uptime    float64 // of the last 30 days' contacts
	// Reputation is in (0, 1]: 1 for a peer that never lied.
	Reputation float64
}

// Stats are the registry's counts.
type Stats struct {
	New, Tried, Placeable int
	Sources, Blocks       int
	Changes               uint64           // the last change number given
	Refused               map[string]int64 // records refused since Open, by Reason
}

// Changes returns, in change order, up to limit tried, unexpired records
// whose entry changed after the cursor after, the cursor to ask from
// next time, and whether there are more. A cursor the registry never
// gave (it is ahead of every change: the catalog was reset) starts over.
// With nothing new it returns no records and allocates nothing.
func (r *Registry) Changes(after uint64, limit int) (recs []shard.NodeRecord, next uint64, more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if after > r.changes {
		after = 0
	}
	now, _ := r.now()
	i := sort.Search(len(r.feed), func(i int) bool { return r.feed[i].n > after })
	next = after
	for ; i < len(r.feed); i++ {
		c := r.feed[i]
		if !c.live() || c.e.expired(now, r.cfg.TTL) {
			continue
		}
		if len(recs) >= limit {
			return recs, next, true
		}
		recs = append(recs, c.e.rec)
		next = c.n
	}
	return recs, r.changes, false
}

// DueForChallenge returns up to n records to challenge at their address,
// oldest first: new entries, tried ones whose address changed or whose
// record expired, tried ones whose back-off ended, and tried ones
// halfway through their record's life (for a fresh record); none in
// back-off. An entry handed out is not handed out again for a minute
// unless its outcome (Verified or Contact) comes first.
func (r *Registry) DueForChallenge(n int) []shard.NodeRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, _ := r.now()
	var out []shard.NodeRecord
	for len(out) < n && len(r.queue) > 0 && r.queue[0].due <= now {
		e := r.queue[0]
		out = append(out, e.rec)
		r.schedule(e, now, now+int64(challengeHold/time.Second))
	}
	return out
}

// sampleable reports whether tried entry e may be an exchange partner.
func (r *Registry) sampleable(e *entry, now int64) bool {
	return !e.moved && !e.h.backingOff(now) && !e.expired(now, r.cfg.TTL)
}

// Sample returns up to n distinct random tried entries that are not in
// back-off, whose address is verified and record unexpired: exchange
// partners.
func (r *Registry) Sample(n int) []Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, _ := r.now()
	if n <= 0 || len(r.tried) == 0 {
		return nil
	}
	var picked []*entry
	if n*4 < len(r.tried) {
		// Random probes; a sparse table falls back on the scan below.
		seen := make(map[*entry]bool, n)
		for range 8 * n {
			e := r.tried[rand.IntN(len(r.tried))]
			if !seen[e] && r.sampleable(e, now) {
				seen[e] = true
				if picked = append(picked, e); len(picked) == n {
					break
				}
			}
		}
	}
	if len(picked) < n {
		picked = picked[:0]
		for _, e := range r.tried {
			if r.sampleable(e, now) {
				picked = append(picked, e)
			}
		}
		rand.Shuffle(len(picked), func(i, j int) { picked[i], picked[j] = picked[j], picked[i] })
		picked = picked[:min(n, len(picked))]
	}
	out := make([]Peer, len(picked))
	for i, e := range picked {
		out[i] = r.peer(e, now)
	}
	return out
}

// Get returns node id's entry.
func (r *Registry) Get(id shard.PublicKey) (Peer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return Peer{}, false
	}
	now, _ := r.now()
	r.rankBlock(e.blk, now)
	return r.peer(e, now), true
}

// Peers returns the tried entries, in ID order, each with whether it is
// placeable: for placement and reads.
func (r *Registry) Peers() []Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, _ := r.now()
	r.rankAll(now)
	return r.list(r.tried, nil, now)
}

// All returns every entry, tried then new, each in ID order: for `ishtar
// peers`.
func (r *Registry) All() []Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, _ := r.now()
	r.rankAll(now)
	return r.list(r.tried, r.new, now)
}

func (r *Registry) list(a, b []*entry, now int64) []Peer {
	out := make([]Peer, 0, len(a)+len(b))
	byID := func(x, y *entry) int { return bytes.Compare(x.rec.Node[:], y.rec.Node[:]) }
	for _, part := range [][]*entry{a, b} {
		sorted := slices.SortedFunc(slices.Values(part), byID)
		for _, e := range sorted {
			out = append(out, r.peer(e, now))
		}
	}
	return out
}

// Stats returns the registry's counts.
func (r *Registry) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, _ := r.now()
	st := Stats{
		New: len(r.new), Tried: len(r.tried), Sources: len(r.sources), Blocks: len(r.blocks),
		Changes: r.changes, Refused: make(map[string]int64),
	}
	st.Placeable = r.rankAll(now)
	for i, n := range r.refused {
		if n > 0 {
			st.Refused[Reason(i).String()] = n
		}
	}
	return st
}

// peer returns e as callers see it, with its placeability as last ranked.
func (r *Registry) peer(e *entry, now int64) Peer {
	t := func(s int64) time.Time {
		if s == 0 {
			return time.Time{}
		}
		return time.Unix(s, 0)
	}
	p := Peer{
		Record: e.rec, Tried: e.tried, Moved: e.moved, Source: e.source, Block: e.blk.name,
		LastSeen: t(e.h.lastSeen), LastTried: t(e.h.lastTry), DownSince: t(e.h.downSince),
		Tries: int64(e.h.tries), Successes: int64(e.h.ok), Failures: int(e.h.failures),
		Uptime: e.h.uptime(now), Reputation: e.h.reputation(now),
	}
	if e.h.backingOff(now) {
		p.RetryAt = t(e.h.retryAt)
	}
	if !e.tried {
		p.Why = whyNew.String()
	} else {
		p.Placeable, p.Why = e.why == placeable, e.why.String()
	}
	return p
}

// rankAll ranks every block and returns how many entries are placeable.
func (r *Registry) rankAll(now int64) int {
	n := 0
	for _, b := range r.blocks {
		n += r.rankBlock(b, now)
	}
	return n
}

// rankBlock sets why of b's tried entries: those fit for placement (a
// verified address, an unexpired record, some capacity, no back-off, a reputation above
// liarBelow) are ranked by history and the best PlaceablePerBlock are
// placeable. It returns how many are.
func (r *Registry) rankBlock(b *block, now int64) int {
	fit := r.scratch[:0]
	for _, e := range b.list {
		switch {
		case !e.tried:
			e.why = whyNew
		case e.moved:
			e.why = whyMoved
		case e.expired(now, r.cfg.TTL):
			e.why = whyExpired
		case e.rec.Capacity == 0:
			e.why = whyNoSpace // a tracker
		case e.h.backingOff(now):
			e.why = whyBackoff
		case e.h.reputation(now) < liarBelow:
			e.why = whyLied
		default:
			e.why = placeable
			fit = append(fit, ranked{e: e})
		}
	}
	k := r.cfg.PlaceablePerBlock
	if k >= 0 && len(fit) > k {
		for i := range fit {
			fit[i].score = fit[i].e.h.score(now)
		}
		slices.SortFunc(fit, func(x, y ranked) int {
			if c := cmp.Compare(y.score, x.score); c != 0 {
				return c
			}
			return bytes.Compare(x.e.rec.Node[:], y.e.rec.Node[:])
		})
		for _, x := range fit[k:] {
			x.e.why = whyBlock
		}
		fit = fit[:k]
	}
	r.scratch = fit[:0] // holds at most PerBlock stale pointers
	return len(fit)
}

// ranked is an entry and its history's score.
type ranked struct {
	e     *entry
	score float64
}
