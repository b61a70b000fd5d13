package meta

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch is a set of writes committed atomically. Reads through a Batch see
// the batch's own writes on top of the committed state. A Batch is not safe
// for concurrent use.
type Batch struct {
	db   *DB
	pb   *pebble.Batch
	sync bool
	done bool

	quiet    bool   // Quiet
	unlogged bool   // its catalog changes are not logged (migration, restore)
	changes  []byte // its catalog changes, encoded, for the catalog log
}

// BatchOption configures a Batch.
type BatchOption func(*Batch)

// NoSync commits without waiting for fsync: the batch is atomic but may be
// lost in a crash.
func NoSync() BatchOption { return func(b *Batch) { b.sync = false } }

// Quiet marks the batch's catalog changes as bookkeeping (lease
// renewals, audit results): they are logged and backed up with the next
// change, but do not by themselves call for a backup step.
func Quiet() BatchOption { return func(b *Batch) { b.quiet = true } }

// unlogged leaves the batch's catalog changes out of the catalog log.
func unlogged() BatchOption { return func(b *Batch) { b.unlogged = true } }

// NewBatch starts a batch. It commits with fsync unless NoSync is given.
// Commit or Close it.
func (db *DB) NewBatch(opts ...BatchOption) *Batch {
	b := &Batch{db: db, pb: db.pdb.NewIndexedBatch(), sync: true}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// DB returns the database the batch commits to.
func (b *Batch) DB() *DB { return b.db }

// Synced reports whether Commit waits for fsync.
func (b *Batch) Synced() bool { return b.sync }

// Len is the number of writes in the batch.
func (b *Batch) Len() int { return int(b.pb.Count()) }

// Get returns a copy of the value under key as the batch sees it.
func (b *Batch) Get(key []byte) ([]byte, error) { return getRaw(b.pb, key) }

// Scan is DB.Scan as the batch sees it.
func (b *Batch) Scan(prefix, after []byte, limit int, fn func(key, value []byte) error) error {
	return scanRaw(b.pb, prefix, after, limit, fn)
}

// Set adds a write of value under key.
func (b *Batch) Set(key, value []byte) error {
	if err := b.pb.Set(key, value, nil); err != nil {
		return fmt.Errorf("meta: batch set %x: %w", key, err)
	}
	if !b.unlogged && IsCatalogKey(key) {
		b.changes = appendChange(b.changes, opSet, key, value)
	}
	return nil
}

// Delete adds a deletion of key.
func (b *Batch) Delete(key []byte) error {
	if err := b.pb.Delete(key, nil); err != nil {
		return fmt.Errorf("meta: batch delete %x: %w", key, err)
	}
	if !b.unlogged && IsCatalogKey(key) {
		b.changes = appendChange(b.changes, opDelete, key, nil)
	}
	return nil
}

// Commit applies every write atomically and releases the batch.
func (b *Batch) Commit() error {
	if b.done {
		panic("meta: batch used after Commit or Close")
	}
	b.done = true
	if b.sync {
		b.db.pacer.begin()
		defer b.db.pacer.end()
	}
	if err := b.apply(); err != nil {
		_ = b.pb.Close()
		return fmt.Errorf("meta: commit batch: %w", err)
	}
	if err := b.close(); err != nil || !b.sync {
		return err
	}
	return b.db.syncWAL()
}

// apply applies the batch without waiting for fsync, with its catalog
// changes logged.
func (b *Batch) apply() error {
	if len(b.changes) == 0 {
		return b.db.pdb.Apply(b.pb, pebble.NoSync)
	}
	applied, err := b.db.logBatch(b)
	if err != nil {
		return err
	}
	err = b.db.pdb.Apply(b.pb, pebble.NoSync)
	applied(err == nil)
	return err
}

// syncWAL makes every write applied so far durable. The WAL is
// sequential: syncing an empty record syncs all before it, and concurrent
// callers share the fsync.
func (db *DB) syncWAL() error {
	if err := db.pdb.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("meta: sync: %w", err)
	}
	return nil
}

// Close discards an uncommitted batch. It is a no-op after Commit, so it
// can be deferred.
func (b *Batch) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	return b.close()
}

func (b *Batch) close() error {
	if err := b.pb.Close(); err != nil {
		return fmt.Errorf("meta: close batch: %w", err)
	}
	return nil
}

// Update runs fn in a read-modify-write transaction: Update calls are
// serialized with each other, fn's reads see its own writes, and the writes
// commit atomically when fn returns nil (fn's error aborts them). With the
// default sync option Update returns once the writes are durable; the fsync
// is waited for outside the writer lock, so concurrent Updates share one.
func (db *DB) Update(fn func(b *Batch) error, opts ...BatchOption) error {
	b := db.NewBatch(opts...)
	sync := b.sync
	if sync {
		db.pacer.begin()
		defer db.pacer.end()
	}
	db.writeMu.Lock()
	err := func() error {
		defer b.Close()
		if err := fn(b); err != nil {
			return err
		}
		if b.pb.Empty() {
			sync = false
			return nil
		}
		b.done = true
		if err := b.apply(); err != nil {
			_ = b.pb.Close()
			return fmt.Errorf("meta: commit update: %w", err)
		}
		return b.close()
	}()
	db.writeMu.Unlock()
	if err != nil || !sync {
		return err
	}
	return db.syncWAL()
}
