package meta

import "fmt"

// counterSchema is the version of the catalog's layout; Open brings an
// older catalog up to schemaVersion.
const (
	counterSchema = "meta/schema"
	schemaVersion = 2
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
	if v < 2 {
		if err := db.addLeaseIndex(); err != nil {
			return fmt.Errorf("meta: migrate to schema 2: %w", err)
		}
	}
	return nil
}

// addLeaseIndex (schema 2) writes the lease index entry of every holding
// of the held shards, which catalogs written before it lack. It works a
// page of records per batch, so a catalog of millions of holdings never
// makes one huge batch; the last one records the version. Interrupted, it
// starts over on the next Open: the entries it writes are the same.
func (db *DB) addLeaseIndex() error {
	const page = 4096
	var after []byte
	for {
		n := 0
		err := db.Update(func(b *Batch) error {
			return scanRaw(db.pdb, []byte{prefixShard}, after, page, func(k, v []byte) error {
				n++
				after = append(after[:0], k...)
				h, err := decodeHeldShard(k, v)
				if err != nil {
					return err
				}
				for _, hd := range h.Holders {
					if err := b.Set(leaseKey(hd.LeaseExpiry, h.ID, hd.Owner), nil); err != nil {
						return err
					}
				}
				return nil
			})
		}, NoSync())
		if err != nil {
			return err
		}
		if n < page {
			break
		}
	}
	return db.Update(func(b *Batch) error { return b.Set(counterKey(counterSchema), encodeInt(2)) })
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
