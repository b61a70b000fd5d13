package meta

// Delegation is where a shard this node holds as LocationDelegated went:
// the next node, which holds it for this node's owner, its address and
// its signed custody receipt (the JSON of a shard.Receipt, kept as it
// came).
type Delegation struct {
	Shard   [32]byte
	Next    [32]byte
	Address string
	Receipt []byte
	// LeaseExpiry is the lease the next node holds the shard until
	// (unix seconds); renewals at this node extend it there.
	LeaseExpiry int64
}

// MaxDelegationReceipt bounds Delegation.Receipt.
const MaxDelegationReceipt = 2048

const delegationV1 = 1

func encodeDelegation(d Delegation) []byte {
	e := newEncoder(delegationV1, 48+len(d.Address)+len(d.Receipt))
	e.fixed32(d.Next)
	e.bytes([]byte(d.Address))
	e.bytes(d.Receipt)
	e.varint(d.LeaseExpiry)
	return e.b
}

func decodeDelegation(key, v []byte) (Delegation, error) {
	var d Delegation
	if len(key) != 33 {
		return d, ErrCorrupt
	}
	copy(d.Shard[:], key[1:])
	dec := newDecoder(v, "delegation", delegationV1)
	d.Next = dec.fixed32()
	d.Address = string(dec.bytes())
	d.Receipt = dec.bytes()
	d.LeaseExpiry = dec.varint()
	return d, dec.err
}

// Delegation returns where delegated shard id went, or ErrNotFound.
func (db *DB) Delegation(id [32]byte) (Delegation, error) {
	k := key32(prefixDelegation, id)
	return get(db.pdb, k, func(v []byte) (Delegation, error) { return decodeDelegation(k, v) })
}

// Delegation is DB.Delegation as the batch sees it.
func (b *Batch) Delegation(id [32]byte) (Delegation, error) {
	k := key32(prefixDelegation, id)
	return get(b.pb, k, func(v []byte) (Delegation, error) { return decodeDelegation(k, v) })
}

// PutDelegation records where a delegated shard went (DeleteHeldShard
// deletes it with the shard's record).
func (b *Batch) PutDelegation(d Delegation) error {
	return b.Set(key32(prefixDelegation, d.Shard), encodeDelegation(d))
}

// Delegations lists up to limit delegations in shard order after the
// shard after (zero: from the first).
func (db *DB) Delegations(after [32]byte, limit int) ([]Delegation, error) {
	return scan(db.pdb, []byte{prefixDelegation}, afterKey32(prefixDelegation, after), limit, decodeDelegation)
}
