package meta

import (
	"errors"
	"fmt"
)

// HoldingOverhead is what one owner's holding of a shard is charged
// beyond the shard's bytes: its catalog entries (the holding, its grant
// time, the shard's record), so that a stranger storing tiny shards pays
// for what they cost the node.
const HoldingOverhead = 512

// OwnerHeld is what a node holds for one owner: the shards the owner has
// a holding of, and their bytes, each shard's size plus HoldingOverhead
// (a shard held for several owners counts in full for each). It is the
// node's side of the exchange with that owner, and what lets it keep
// small records (a root) for the owner.
type OwnerHeld struct {
	Owner  [32]byte
	Shards int64
	Bytes  int64
	// Block is the address block the owner's last store came from: the
	// node bounds the grace of all owners of one block together.
	Block string
}

// MaxBlockLen bounds OwnerHeld.Block.
const MaxBlockLen = 64

const (
	ownerHeldV1 = 1
	ownerHeldV2 = 2 // + block
)

func encodeOwnerHeld(o OwnerHeld) []byte {
	e := newEncoder(ownerHeldV2, 22+len(o.Block))
	e.varint(o.Shards)
	e.varint(o.Bytes)
	e.bytes([]byte(o.Block))
	return e.b
}

func decodeOwnerHeld(key, v []byte) (OwnerHeld, error) {
	var o OwnerHeld
	if len(key) != 33 {
		return o, fmt.Errorf("%w: owner key length %d", ErrCorrupt, len(key))
	}
	copy(o.Owner[:], key[1:])
	d := newDecoder(v, "owner totals", ownerHeldV2)
	o.Shards = d.varint()
	o.Bytes = d.varint()
	if d.version >= ownerHeldV2 {
		o.Block = string(d.bytes())
	}
	return o, d.err
}

func ownerHeld(r reader, owner [32]byte) (OwnerHeld, error) {
	k := ownerKey(owner)
	o, err := get(r, k, func(v []byte) (OwnerHeld, error) { return decodeOwnerHeld(k, v) })
	if errors.Is(err, ErrNotFound) {
		return OwnerHeld{Owner: owner}, nil
	}
	return o, err
}

// OwnerHeld returns what the node holds for owner (zero totals if none).
func (db *DB) OwnerHeld(owner [32]byte) (OwnerHeld, error) { return ownerHeld(db.pdb, owner) }

// OwnerHeld is DB.OwnerHeld as the batch sees it.
func (b *Batch) OwnerHeld(owner [32]byte) (OwnerHeld, error) { return ownerHeld(b.pb, owner) }

// AddOwnerHeld adds to owner's totals and returns them; totals that reach
// zero shards are deleted.
func (b *Batch) AddOwnerHeld(owner [32]byte, shards, bytes int64) (OwnerHeld, error) {
	o, err := b.OwnerHeld(owner)
	if err != nil {
		return o, err
	}
	o.Shards += shards
	o.Bytes += bytes
	if o.Shards < 0 || o.Bytes < 0 {
		return o, fmt.Errorf("%w: owner %x totals would be %d shards, %d bytes", ErrCorrupt, owner[:4], o.Shards, o.Bytes)
	}
	if o.Shards == 0 {
		return o, b.Delete(ownerKey(owner))
	}
	return o, b.Set(ownerKey(owner), encodeOwnerHeld(o))
}

// SetOwnerBlock records the address block of owner's last store, if the
// node holds anything for owner (block is cut to MaxBlockLen bytes).
func (b *Batch) SetOwnerBlock(owner [32]byte, block string) error {
	o, err := b.OwnerHeld(owner)
	if err != nil || o.Shards == 0 {
		return err
	}
	if len(block) > MaxBlockLen {
		block = block[:MaxBlockLen]
	}
	if o.Block == block {
		return nil
	}
	o.Block = block
	return b.Set(ownerKey(owner), encodeOwnerHeld(o))
}

// EachOwnerHeld calls fn with every owner's totals, in owner order, a
// page at a time; an error of fn stops it and is returned.
func (db *DB) EachOwnerHeld(fn func(OwnerHeld) error) error {
	const page = 1024
	var after [32]byte
	for {
		os, err := db.OwnersHeld(after, page)
		if err != nil {
			return err
		}
		for _, o := range os {
			if err := fn(o); err != nil {
				return err
			}
		}
		if len(os) < page {
			return nil
		}
		after = os[len(os)-1].Owner
	}
}

// OwnersHeld lists up to limit owners' totals in owner order after the
// owner after (zero: from the first).
func (db *DB) OwnersHeld(after [32]byte, limit int) ([]OwnerHeld, error) {
	return scan(db.pdb, []byte{prefixOwnerHeld}, afterKey32(prefixOwnerHeld, after), limit, decodeOwnerHeld)
}
