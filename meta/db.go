package meta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrNotFound is returned when a key or entity is absent.
var ErrNotFound = errors.New("meta: not found")

// DB is the catalog. It is safe for concurrent use.
type DB struct {
	pdb *pebble.DB
	// writeMu serializes Update transactions.
	writeMu sync.Mutex
	pacer   *syncPacer // nil: syncs are not paced

	now    func() time.Time
	logMu  sync.Mutex // held while a batch with catalog changes is applied
	logSeq uint64     // the catalog log's last sequence number given
}

type options struct {
	now       func() time.Time
	mem       bool
	log       *slog.Logger
	cacheSize int64
	pace      time.Duration
}

// Option configures Open.
type Option func(*options)

// WithClock sets the clock that stamps catalog log records (default
// time.Now); for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// InMemory keeps the database in memory (Pebble's vfs.NewMem); for tests.
func InMemory() Option { return func(o *options) { o.mem = true } }

// WithLogger sends Pebble's own log lines to log (info as debug).
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// WithCacheSize sets Pebble's block cache size in bytes.
func WithCacheSize(n int64) Option { return func(o *options) { o.cacheSize = n } }

// WithSyncPacing turns on adaptive group commit: while durable commits
// of concurrent writers overlap, the WAL waits up to d after each fsync so
// that the commits arriving meanwhile share the next one (see syncPacer).
// Every durable commit still returns only once it is on disk; commits that
// do not overlap (a lone writer) are not delayed. d <= 0 leaves syncs
// unpaced (the default).
func WithSyncPacing(d time.Duration) Option { return func(o *options) { o.pace = d } }

// Open opens or creates the catalog in dir.
func Open(dir string, opts ...Option) (*DB, error) {
	o := options{log: slog.New(slog.DiscardHandler), cacheSize: 32 << 20, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	po := &pebble.Options{
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{o.log},
	}
	// Bloom filters on every level (later levels inherit L0's): most
	// point reads of a node look for keys that do not exist yet (a new
	// shard's record and last grant, a large shard's inline bytes).
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	if o.mem {
		po.FS = vfs.NewMem()
	}
	var pacer *syncPacer
	if o.pace > 0 {
		pacer = newSyncPacer(o.pace)
		po.WALMinSyncInterval = pacer.minSyncInterval
	}
	cache := pebble.NewCache(o.cacheSize)
	defer cache.Unref()
	po.Cache = cache
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("meta: open %s: %w", dir, err)
	}
	db := &DB{pdb: pdb, pacer: pacer, now: o.now}
	if err := db.migrate(); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	if err := db.loadLogSeq(); err != nil {
		_ = pdb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database; it must not be used afterwards.
func (db *DB) Close() error {
	if err := db.pdb.Close(); err != nil {
		return fmt.Errorf("meta: close: %w", err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrNotFound.
func (db *DB) Get(key []byte) ([]byte, error) { return getRaw(db.pdb, key) }

// Set stores value under key, durably.
func (db *DB) Set(key, value []byte) error {
	db.pacer.begin()
	defer db.pacer.end()
	if err := db.pdb.Set(key, value, pebble.Sync); err != nil {
		return fmt.Errorf("meta: set %x: %w", key, err)
	}
	return nil
}

// Delete removes key, durably. Deleting an absent key is not an error.
func (db *DB) Delete(key []byte) error {
	db.pacer.begin()
	defer db.pacer.end()
	if err := db.pdb.Delete(key, pebble.Sync); err != nil {
		return fmt.Errorf("meta: delete %x: %w", key, err)
	}
	return nil
}

// Scan calls fn for the keys with the given prefix, in ascending byte order,
// starting after the key after (nil: from the first) and stopping after
// limit keys (limit <= 0: no limit) or at fn's first error, which Scan
// returns. key and value are only valid during the call.
func (db *DB) Scan(prefix, after []byte, limit int, fn func(key, value []byte) error) error {
	return scanRaw(db.pdb, prefix, after, limit, fn)
}

// reader is what both *pebble.DB and an indexed *pebble.Batch offer.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func getRaw(r reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("meta: get %x: %w", key, err)
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, fmt.Errorf("meta: get %x: %w", key, err)
	}
	return out, nil
}

func scanRaw(r reader, prefix, after []byte, limit int, fn func(key, value []byte) error) (err error) {
	lower := prefix
	if after != nil {
		// The immediate successor of after is after+0x00.
		succ := append(append(make([]byte, 0, len(after)+1), after...), 0)
		if bytes.Compare(succ, lower) > 0 {
			lower = succ
		}
	}
	if len(lower) == 0 {
		lower = nil // Pebble wants nil, not empty, for "no bound"
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("meta: scan %x: %w", prefix, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("meta: scan %x: %w", prefix, cerr)
		}
	}()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if limit > 0 && n >= limit {
			return nil
		}
		v, verr := it.ValueAndErr()
		if verr != nil {
			return fmt.Errorf("meta: scan %x: %w", prefix, verr)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
		n++
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("meta: scan %x: %w", prefix, err)
	}
	return nil
}

// get reads and decodes one entity.
func get[T any](r reader, key []byte, decode func([]byte) (T, error)) (T, error) {
	var zero T
	v, err := getRaw(r, key)
	if err != nil {
		return zero, err
	}
	t, err := decode(v)
	if err != nil {
		return zero, fmt.Errorf("meta: decode %x: %w", key, err)
	}
	return t, nil
}

// scan decodes up to limit entities under prefix after the key after.
func scan[T any](r reader, prefix, after []byte, limit int, decode func(key, value []byte) (T, error)) ([]T, error) {
	var out []T
	err := scanRaw(r, prefix, after, limit, func(k, v []byte) error {
		t, err := decode(k, v)
		if err != nil {
			return fmt.Errorf("meta: decode %x: %w", k, err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// pebbleLogger routes Pebble's logging to slog.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic("meta: " + msg)
}
