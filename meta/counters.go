package meta

import (
	"errors"
	"fmt"
)

// Counter names.
const (
	// CounterUsedBytes is what the node's capacity holds: the bytes of
	// its held shards, HoldingOverhead per holding, and the root records
	// it keeps for their owners.
	CounterUsedBytes = "node/used_bytes"
)

const intV1 = 1

func encodeInt(v int64) []byte {
	e := newEncoder(intV1, 10)
	e.varint(v)
	return e.b
}

func decodeInt(v []byte) (int64, error) {
	d := newDecoder(v, "integer", intV1)
	n := d.varint()
	return n, d.err
}

// Counter returns the named counter (0 if never set).
func (db *DB) Counter(name string) (int64, error) { return counter(db.pdb, name) }

// Counter is DB.Counter as the batch sees it.
func (b *Batch) Counter(name string) (int64, error) { return counter(b.pb, name) }

func counter(r reader, name string) (int64, error) {
	v, err := get(r, counterKey(name), decodeInt)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return v, err
}

// AddCounter adds delta to the named counter within the batch and returns
// the new value. Use it inside Update so concurrent adds do not race.
func (b *Batch) AddCounter(name string, delta int64) (int64, error) {
	v, err := b.Counter(name)
	if err != nil {
		return 0, err
	}
	v += delta
	if err := b.Set(counterKey(name), encodeInt(v)); err != nil {
		return 0, fmt.Errorf("meta: add to counter %s: %w", name, err)
	}
	return v, nil
}
