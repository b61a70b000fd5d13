package meta

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The catalog log: every committed batch that changes the owner's catalog
// (IsCatalogKey) also writes, in the same atomic commit, a log record of
// those changes under the next sequence number. The catalog backup ships
// the records since its last step to the network and trims them; a
// snapshot (SnapshotCatalog) says up to which record it includes. Records
// are local (lowercase key), never part of the catalog themselves.
const (
	prefixCatalogLog byte = 'l'            // l | seq(8)  -> changes of one batch
	counterLogSeq         = "meta/log_seq" // the last sequence number given
)

func catalogLogKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixCatalogLog
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// Change operations of an encoded change list.
const (
	opSet    byte = 1
	opDelete byte = 2
)

// appendChange appends one change to an encoded change list: the
// operation, the key and, for a set, the value, each length-prefixed.
func appendChange(b []byte, op byte, key, value []byte) []byte {
	b = append(b, op)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	if op == opSet {
		b = binary.AppendUvarint(b, uint64(len(value)))
		b = append(b, value...)
	}
	return b
}

// AppendSet appends a write of value under key to an encoded change
// list (a snapshot is a list of sets).
func AppendSet(b, key, value []byte) []byte { return appendChange(b, opSet, key, value) }

// ForEachChange calls fn for each change of an encoded change list, in
// order (value nil for a deletion), and fails on a malformed list or a
// key outside the catalog: a change list never touches anything else.
func ForEachChange(b []byte, fn func(del bool, key, value []byte) error) error {
	for len(b) > 0 {
		op := b[0]
		b = b[1:]
		if op != opSet && op != opDelete {
			return fmt.Errorf("%w: change list: operation %d", ErrCorrupt, op)
		}
		key, rest, ok := cutBytes(b)
		if !ok || !IsCatalogKey(key) {
			return fmt.Errorf("%w: change list: bad key %.40x", ErrCorrupt, key)
		}
		b = rest
		var value []byte
		if op == opSet {
			if value, b, ok = cutBytes(b); !ok {
				return fmt.Errorf("%w: change list: value of %.40x cut short", ErrCorrupt, key)
			}
		}
		if err := fn(op == opDelete, key, value); err != nil {
			return err
		}
	}
	return nil
}

// cutBytes splits a length-prefixed byte string off b.
func cutBytes(b []byte) (v, rest []byte, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, false
	}
	return b[w : w+int(n)], b[w+int(n):], true
}

const logRecordV1 = 1

// LogRecord is one committed batch's changes to the catalog.
type LogRecord struct {
	Seq  uint64
	Time int64 // unix nanoseconds of the commit
	// Quiet: the batch was bookkeeping (Quiet), not by itself a reason to
	// back up.
	Quiet   bool
	Changes []byte // an encoded change list (ForEachChange)
}

func encodeLogRecord(r LogRecord) []byte {
	e := newEncoder(logRecordV1, 16+len(r.Changes))
	var flags byte
	if r.Quiet {
		flags = 1
	}
	e.u8(flags)
	e.varint(r.Time)
	e.bytes(r.Changes)
	return e.b
}

func decodeLogRecord(k, v []byte) (LogRecord, error) {
	if len(k) != 9 {
		return LogRecord{}, fmt.Errorf("%w: log key length %d", ErrCorrupt, len(k))
	}
	r := LogRecord{Seq: binary.BigEndian.Uint64(k[1:])}
	d := newDecoder(v, "log record", logRecordV1)
	r.Quiet = d.u8()&1 != 0
	r.Time = d.varint()
	r.Changes = d.bytes()
	return r, d.err
}

// logBatch adds b's catalog changes to the log under the next sequence
// number, and returns the function that, once b is applied, makes that
// number the last given and releases the log lock. Batches with catalog
// changes are applied one at a time under that lock, so the log's order
// is the commit order.
func (db *DB) logBatch(b *Batch) (applied func(ok bool), err error) {
	db.logMu.Lock()
	seq := db.logSeq + 1
	rec := encodeLogRecord(LogRecord{Seq: seq, Time: db.now().UnixNano(), Quiet: b.quiet, Changes: b.changes})
	if err := b.pb.Set(catalogLogKey(seq), rec, nil); err != nil {
		db.logMu.Unlock()
		return nil, fmt.Errorf("meta: log catalog changes: %w", err)
	}
	if err := b.pb.Set(counterKey(counterLogSeq), encodeInt(int64(seq)), nil); err != nil {
		db.logMu.Unlock()
		return nil, fmt.Errorf("meta: log catalog changes: %w", err)
	}
	return func(ok bool) {
		if ok {
			db.logSeq = seq
		}
		db.logMu.Unlock()
	}, nil
}

// loadLogSeq reads the last sequence number given, at Open.
func (db *DB) loadLogSeq() error {
	v, err := db.Counter(counterLogSeq)
	if err != nil {
		return err
	}
	db.logSeq = uint64(v)
	return nil
}

// CatalogLog returns up to limit log records after seq, in order.
func (db *DB) CatalogLog(after uint64, limit int) ([]LogRecord, error) {
	return scan(db.pdb, []byte{prefixCatalogLog}, catalogLogKey(after), limit, decodeLogRecord)
}

// LastLogSeq returns the sequence number of the last record logged (0:
// none ever).
func (db *DB) LastLogSeq() uint64 {
	db.logMu.Lock()
	defer db.logMu.Unlock()
	return db.logSeq
}

// TrimCatalogLog deletes the log records up to and including seq.
func (db *DB) TrimCatalogLog(through uint64) error {
	end := catalogLogKey(through + 1)
	if through == ^uint64(0) {
		end = []byte{prefixCatalogLog + 1}
	}
	if err := db.pdb.DeleteRange(catalogLogKey(0), end, pebble.Sync); err != nil {
		return fmt.Errorf("meta: trim catalog log: %w", err)
	}
	return nil
}

// CatalogSnapshot is a consistent view of the owner's catalog: exactly
// the changes of the log records up to Seq.
type CatalogSnapshot struct {
	Seq  uint64
	snap *pebble.Snapshot
}

// SnapshotCatalog takes a snapshot of the catalog. Close it.
func (db *DB) SnapshotCatalog() *CatalogSnapshot {
	db.logMu.Lock()
	defer db.logMu.Unlock()
	return &CatalogSnapshot{Seq: db.logSeq, snap: db.pdb.NewSnapshot()}
}

// Scan calls fn for up to limit catalog keys after after (nil: from the
// first), in order; see DB.Scan.
func (s *CatalogSnapshot) Scan(after []byte, limit int, fn func(key, value []byte) error) error {
	lower := []byte{CatalogStart}
	if after != nil {
		lower = append(append([]byte{}, after...), 0)
	}
	it, err := s.snap.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: []byte{CatalogEnd}})
	if err != nil {
		return fmt.Errorf("meta: scan catalog snapshot: %w", err)
	}
	n := 0
	for ok := it.First(); ok && (limit <= 0 || n < limit); ok = it.Next() {
		v, verr := it.ValueAndErr()
		if verr != nil {
			err = verr
			break
		}
		if err = fn(it.Key(), v); err != nil {
			break
		}
		n++
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close releases the snapshot.
func (s *CatalogSnapshot) Close() error { return s.snap.Close() }

// ReplaceCatalog empties the owner's catalog and the catalog log: the
// first step of a restore, which then applies the snapshot and the log
// records with ApplyChanges. It is not logged.
func (db *DB) ReplaceCatalog() error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	b := db.pdb.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{CatalogStart}, []byte{CatalogEnd}, nil); err != nil {
		return fmt.Errorf("meta: empty the catalog: %w", err)
	}
	if err := b.DeleteRange([]byte{prefixCatalogLog}, []byte{prefixCatalogLog + 1}, nil); err != nil {
		return fmt.Errorf("meta: empty the catalog log: %w", err)
	}
	if err := db.pdb.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("meta: empty the catalog: %w", err)
	}
	return nil
}

// ApplyChanges applies an encoded change list (a snapshot or the changes
// of a log record) to the catalog, unlogged, in one batch; a malformed
// list, or one touching anything but the catalog, changes nothing.
func (db *DB) ApplyChanges(changes []byte) error {
	return db.Update(func(b *Batch) error {
		return ForEachChange(changes, func(del bool, key, value []byte) error {
			if del {
				return b.Delete(key)
			}
			return b.Set(key, value)
		})
	}, unlogged())
}
