package peers

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// Registry is the peer registry: the bounded "new" and "tried" tables of
// node records and each peer's history, kept in the catalog. It is safe
// for concurrent use.
type Registry struct {
	cfg Config
	db  *meta.DB
	log *slog.Logger

	mu         sync.Mutex
	closed     bool
	byID       map[shard.PublicKey]*entry
	new, tried []*entry
	sources    map[string]*source
	blocks     map[string]*block
	queue      dueQueue // every entry, by due time
	feed       []change // tried entries' changes, in change order; some stale
	changes    uint64   // the last change number given
	dirty      []*entry // entries that may differ from the catalog
	deleted    []shard.PublicKey
	refused    [numReasons]int64
	lastSweep  int64 // unix seconds of the last expiry sweep
	failing    bool  // the last catalog write failed
	scratch    []ranked
}

// change is one stored change of a tried entry.
type change struct {
	n uint64
	e *entry
}

// Open loads the registry persisted in db, applying cfg's bounds to it:
// entries over a bound, and expired ones, are deleted from the catalog.
func Open(cfg Config, db *meta.DB, log *slog.Logger) (*Registry, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if db == nil {
		return nil, fmt.Errorf("peers: no catalog")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg: cfg, db: db, log: log,
		byID:    make(map[shard.PublicKey]*entry),
		sources: make(map[string]*source),
		blocks:  make(map[string]*block),
	}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// Close flushes what is not yet persisted; the registry refuses changes
// afterwards.
func (r *Registry) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	err := r.flushLocked()
	r.closed = true
	return err
}

// Flush persists the history not yet written (contacts, lies) and retries
// any write that failed. The daemon calls it every minute.
func (r *Registry) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	return r.flushLocked()
}

// flushBatch is how many entries one Flush batch writes.
const flushBatch = 1000

func (r *Registry) flushLocked() error {
	var puts []*entry
	for _, e := range r.dirty {
		if e.dirty && !e.gone {
			puts = append(puts, e)
		}
		e.listed = false
	}
	clear(r.dirty)
	r.dirty = r.dirty[:0]
	var dels []shard.PublicKey
	for _, id := range r.deleted {
		if r.byID[id] == nil { // not back since
			dels = append(dels, id)
		}
	}
	r.deleted = nil
	for len(puts) > 0 || len(dels) > 0 {
		np, nd := min(len(puts), flushBatch), min(len(dels), flushBatch)
		t := txn{del: dels[:nd]}
		for _, e := range puts[:np] {
			t.put = append(t.put, put{e: e})
		}
		if err := r.commit(&t, true); err != nil {
			r.deleted = dels
			for _, e := range puts {
				r.markDirty(e)
			}
			return err
		}
		puts, dels = puts[np:], dels[nd:]
	}
	return nil
}

// txn is the catalog writes of one operation.
type txn struct {
	put []put
	del []shard.PublicKey
}

type put struct {
	e   *entry
	raw []byte // the record's JSON, if at hand
}

// write commits t (without waiting for fsync: peer records are hints a
// crash may lose, and exchanges bring them back); a failure is logged
// and the writes are left for Flush.
func (r *Registry) write(t *txn) {
	if len(t.put) == 0 && len(t.del) == 0 {
		return
	}
	if err := r.commit(t, false); err != nil {
		r.deleted = append(r.deleted, t.del...)
	}
}

func (r *Registry) commit(t *txn, sync bool) error {
	var opts []meta.BatchOption
	if !sync {
		opts = append(opts, meta.NoSync())
	}
	err := r.db.Update(func(b *meta.Batch) error {
		for _, id := range t.del {
			if err := b.DeletePeer(id); err != nil {
				return err
			}
		}
		for _, p := range t.put {
			if p.e.gone {
				continue
			}
			mp, err := p.e.meta(p.raw)
			if err != nil {
				return err
			}
			if err := b.PutPeer(mp); err != nil {
				return err
			}
		}
		return b.SetPeerChanges(r.changes)
	}, opts...)
	if err != nil {
		if !r.failing {
			r.log.Warn("peers: catalog write failed; kept in memory, retried by Flush", "err", err)
		}
		r.failing = true
		return fmt.Errorf("peers: persist: %w", err)
	}
	if r.failing {
		r.log.Info("peers: catalog writes work again")
	}
	r.failing = false
	for _, p := range t.put {
		p.e.dirty = false
	}
	return nil
}

// meta returns e as the catalog keeps it; raw is its record's JSON, or
// nil to encode it.
func (e *entry) meta(raw []byte) (meta.Peer, error) {
	if raw == nil {
		var err error
		if raw, err = json.Marshal(e.rec); err != nil {
			return meta.Peer{}, fmt.Errorf("peers: encode record: %w", err)
		}
	}
	table := meta.PeerNew
	if e.tried {
		table = meta.PeerTried
	}
	return meta.Peer{
		ID: e.rec.Node, Seq: e.rec.Seq, Seen: e.stored, Record: raw, Source: e.source,
		Table: table, Change: e.change, History: e.h.encode(e.moved),
	}, nil
}

// markDirty notes that e differs from the catalog.
func (r *Registry) markDirty(e *entry) {
	e.dirty = true
	if !e.listed {
		e.listed = true
		r.dirty = append(r.dirty, e)
	}
}

// touch gives e's change the next number and adds e to t.
func (r *Registry) touch(e *entry, t *txn, raw []byte) {
	r.changes++
	e.change = r.changes
	if e.tried && !e.moved {
		r.feed = append(r.feed, change{n: e.change, e: e})
		r.compactFeed()
	}
	r.markDirty(e)
	t.put = append(t.put, put{e: e, raw: raw})
}

// now returns the clock in unix seconds and nanoseconds.
func (r *Registry) now() (int64, int64) {
	t := r.cfg.Now()
	return t.Unix(), t.UnixNano()
}

// insert adds a new entry to the maps, lists and queue.
func (r *Registry) insert(e *entry, now int64) {
	r.byID[e.rec.Node] = e
	e.pos, e.srcPos, e.blkPos, e.qpos = -1, -1, -1, -1
	r.joinBlock(e, AddressBlock(e.rec.Address))
	if e.tried {
		r.tried = push(r.tried, e, atPos)
	} else {
		r.new = push(r.new, e, atPos)
		r.joinSource(e)
	}
	r.schedule(e, now, 0)
	heap.Push(&r.queue, e)
}

// remove drops e from the registry and adds its deletion to t.
func (r *Registry) remove(e *entry, t *txn) {
	delete(r.byID, e.rec.Node)
	if e.tried {
		r.tried = drop(r.tried, e, atPos)
	} else {
		r.new = drop(r.new, e, atPos)
		r.leaveSource(e)
	}
	r.leaveBlock(e)
	r.queue.remove(e)
	e.gone = true
	t.del = append(t.del, e.rec.Node)
}

func (r *Registry) joinBlock(e *entry, name string) {
	b := r.blocks[name]
	if b == nil {
		b = &block{name: name}
		r.blocks[name] = b
	}
	e.blk = b
	b.list = push(b.list, e, atBlkPos)
}

func (r *Registry) leaveBlock(e *entry) {
	b := e.blk
	b.list = drop(b.list, e, atBlkPos)
	if len(b.list) == 0 {
		delete(r.blocks, b.name)
	}
}

func (r *Registry) joinSource(e *entry) {
	s := r.sources[e.source]
	if s == nil {
		s = &source{name: e.source}
		r.sources[e.source] = s
	}
	e.source = s.name // one copy of the string
	s.list = push(s.list, e, atSrcPos)
	if len(s.list) >= r.cfg.NewPerSource && !s.full {
		s.full = true
		r.log.Info("peers: a source reached its quota of new records", "source", s.name, "quota", r.cfg.NewPerSource)
	}
}

func (r *Registry) leaveSource(e *entry) {
	s := r.sources[e.source]
	if s == nil {
		return
	}
	s.list = drop(s.list, e, atSrcPos)
	if len(s.list) < r.cfg.NewPerSource {
		s.full = false
	}
	if len(s.list) == 0 {
		delete(r.sources, s.name)
	}
}

// toTried moves a new entry to "tried".
func (r *Registry) toTried(e *entry) {
	r.new = drop(r.new, e, atPos)
	r.leaveSource(e)
	e.tried = true
	r.tried = push(r.tried, e, atPos)
}

// toNew moves a tried entry back to "new".
func (r *Registry) toNew(e *entry) {
	r.tried = drop(r.tried, e, atPos)
	e.tried, e.moved = false, false
	r.new = push(r.new, e, atPos)
	r.joinSource(e)
}

// setRecord replaces e's record, moving it to the new address's block.
func (r *Registry) setRecord(e *entry, rec shard.NodeRecord, nowNano int64) {
	if b := AddressBlock(rec.Address); b != e.blk.name {
		r.leaveBlock(e)
		r.joinBlock(e, b)
	}
	e.rec = rec
	e.stored = nowNano
}

// schedule sets when e is next due for a challenge, not before hold: at
// the end of its back-off; else, if it needs one (new, moved, expired),
// when it was heard of, so the oldest go first; else (a healthy tried
// entry) halfway through its record's life, for a fresh record. A new
// entry never reached in terribleTries contacts waits deadRetry.
func (r *Registry) schedule(e *entry, now, hold int64) {
	var due int64
	switch {
	case e.h.backingOff(now):
		due = e.h.retryAt
	case !e.tried || e.moved || e.expired(now, r.cfg.TTL):
		due = e.h.heard
	default:
		due = e.rec.Time + int64(r.cfg.TTL/time.Second)/2
	}
	if !e.tried && e.h.ok == 0 && e.h.tries >= terribleTries {
		// Never reached: retried rarely until replaced or expired.
		due = max(due, e.h.lastTry+int64(deadRetry/time.Second))
	}
	e.due = max(due, hold)
	r.queue.fix(e)
}
