package meta

import "fmt"

// counterSchema is the version of the catalog's layout; Open brings an
// older catalog up to schemaVersion.
const (
	counterSchema = "meta/schema"
	schemaVersion = 3
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
	if v < 3 {
		if err := db.moveCatalog(); err != nil {
			return fmt.Errorf("meta: migrate to schema 3: %w", err)
		}
	}
	return nil
}

// The prefixes of the catalog's entities up to schema 2, when they were
// interleaved with the node's (lowercase), and their schema 3 prefixes.
var catalogMoves = [...]struct{ from, to byte }{
	{'b', prefixBucket}, {'m', prefixSegment}, {'o', prefixObject}, {'q', prefixPart}, {'u', prefixUpload},
}

// moveCatalog (schema 3) moves the owner's catalog under its own
// uppercase prefixes (keys.go): buckets, objects, segments, uploads,
// parts and the gateway's counters, so that the catalog is one
// contiguous range. It moves a page of keys per batch (each batch writes
// the new keys and deletes the old, unlogged); interrupted, it carries
// on at the next Open from the keys left.
func (db *DB) moveCatalog() error {
	const page = 4096
	move := func(prefix []byte, newKey func(k []byte) []byte) error {
		for {
			n := 0
			err := db.Update(func(b *Batch) error {
				return scanRaw(db.pdb, prefix, nil, page, func(k, v []byte) error {
					n++
					if err := b.Set(newKey(k), v); err != nil {
						return err
					}
					return b.Delete(k)
				})
			}, NoSync(), unlogged())
			if err != nil || n < page {
				return err
			}
		}
	}
	for _, m := range catalogMoves {
		err := move([]byte{m.from}, func(k []byte) []byte {
			return append([]byte{m.to}, k[1:]...)
		})
		if err != nil {
			return err
		}
	}
	err := move(append([]byte{prefixCounter}, catalogCounterPrefix...), func(k []byte) []byte {
		return append([]byte{prefixCatalogCounter}, k[1:]...)
	})
	if err != nil {
		return err
	}
	return db.Update(func(b *Batch) error { return b.Set(counterKey(counterSchema), encodeInt(3)) })
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
