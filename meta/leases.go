package meta

import (
	"encoding/binary"
	"fmt"
)

// Lease is one entry of the lease index: owner's holding of Shard, whose
// lease expires at Expiry (unix seconds). The index has one entry per
// holding, written and deleted with the held shard's record
// (PutHeldShard, DeleteHeldShard), so that a node finds the lapsed leases
// without reading every record.
type Lease struct {
	Expiry int64
	Shard  [32]byte
	Owner  [32]byte
}

func decodeLeaseKey(k []byte) (Lease, error) {
	var l Lease
	if len(k) != leaseKeyLen {
		return l, fmt.Errorf("%w: lease index key length %d", ErrCorrupt, len(k))
	}
	l.Expiry = int64(binary.BigEndian.Uint64(k[1:]) ^ (1 << 63))
	copy(l.Shard[:], k[9:])
	copy(l.Owner[:], k[41:])
	return l, nil
}

// LapsedLeases lists, in expiry order, up to limit (at least 1) lease
// index entries whose Expiry is before before (unix seconds), after the
// entry after (nil: from the first). A caller working through them a page
// at a time passes the last entry of the previous page, so that it never
// steps again over the entries it deleted. The caller checks each entry
// against the held shard's record in the batch that acts on it: a lease
// may have been renewed meanwhile.
func (db *DB) LapsedLeases(after *Lease, before int64, limit int) ([]Lease, error) {
	limit = max(limit, 1)
	end := leaseKey(before, [32]byte{}, [32]byte{})
	var a []byte
	if after != nil {
		a = leaseKey(after.Expiry, after.Shard, after.Owner)
	}
	var out []Lease
	err := scanRaw(db.pdb, []byte{prefixLease}, a, limit, func(k, _ []byte) error {
		if string(k) >= string(end) {
			return errStopScan
		}
		l, err := decodeLeaseKey(k)
		if err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	if err == errStopScan {
		err = nil
	}
	return out, err
}

// Leases lists up to limit lease index entries in expiry order after
// after (nil: from the first); for tests and checks.
func (db *DB) Leases(after *Lease, limit int) ([]Lease, error) {
	var a []byte
	if after != nil {
		a = leaseKey(after.Expiry, after.Shard, after.Owner)
	}
	return scan(db.pdb, []byte{prefixLease}, a, limit, func(k, _ []byte) (Lease, error) { return decodeLeaseKey(k) })
}

type stopScan struct{}

func (stopScan) Error() string { return "meta: scan stopped" }

var errStopScan error = stopScan{}

// DropLease deletes the lease index entry l alone. The entries of a
// record's holdings follow the record (PutHeldShard, DeleteHeldShard);
// this is for an entry that a sweep found, so that it never finds it
// again whatever the record says.
func (b *Batch) DropLease(l Lease) error {
	return b.Delete(leaseKey(l.Expiry, l.Shard, l.Owner))
}
