package meta

import "fmt"

// counterSchema is the version of the catalog's layout; Open brings an
// older catalog up to schemaVersion.
const (
	counterSchema = "meta/schema"
	schemaVersion = 1
)

// migrate brings the catalog's layout up to date: each step runs once, in
// the same batch that records the new version.
func (db *DB) migrate() error {
	v, err := db.Counter(counterSchema)
	if err != nil {
		return err
	}
	if v >= schemaVersion {
		return nil
	}
	if v < 1 {
		if err := db.addOwnerTotals(); err != nil {
			return fmt.Errorf("meta: migrate to schema 1: %w", err)
		}
	}
	return nil
}

// addOwnerTotals (schema 1) computes every owner's totals from the held
// shards, which catalogs written before them lack, and the used bytes
// again with each holding's overhead and the root records.
func (db *DB) addOwnerTotals() error {
	totals := make(map[[32]byte]*OwnerHeld)
	var used int64
	err := scanRaw(db.pdb, []byte{prefixShard}, nil, 0, func(k, v []byte) error {
		h, err := decodeHeldShard(k, v)
		if err != nil {
			return err
		}
		used += h.Size
		for _, hd := range h.Holders {
			o := totals[hd.Owner]
			if o == nil {
				o = &OwnerHeld{Owner: hd.Owner}
				totals[hd.Owner] = o
			}
			o.Shards++
			o.Bytes += h.Size + HoldingOverhead
			used += HoldingOverhead
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = scanRaw(db.pdb, []byte{prefixRoot}, nil, 0, func(k, v []byte) error {
		r, err := decodeRoot(k, v)
		used += int64(len(r.Record))
		return err
	})
	if err != nil {
		return err
	}
	return db.Update(func(b *Batch) error {
		for _, o := range totals {
			if err := b.Set(ownerKey(o.Owner), encodeOwnerHeld(*o)); err != nil {
				return err
			}
		}
		if err := b.Set(counterKey(CounterUsedBytes), encodeInt(used)); err != nil {
			return err
		}
		return b.Set(counterKey(counterSchema), encodeInt(1))
	})
}
