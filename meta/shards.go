package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Location says where a held shard's bytes live.
type Location uint8

const (
	// LocationFile: the node's file store.
	LocationFile Location = 1
	// LocationInline: the catalog itself (see InlineShard), for small
	// shards.
	LocationInline Location = 2
	// LocationDelegated: another node's, which holds the shard for this
	// node's owner (see Delegation); this node keeps no bytes.
	LocationDelegated Location = 3
)

// HeldShard is a shard this node stores for others. Its bytes are shared by
// every owner that stored it; they go when the last Holding is released.
type HeldShard struct {
	ID       [32]byte
	Size     int64
	StoredAt int64 // unix nanoseconds when the bytes were first stored
	Location Location
	Holders  []Holding // sorted by Owner, at most one per owner
}

// Holding is one owner's reference to a held shard.
type Holding struct {
	Owner       [32]byte
	LeaseExpiry int64 // unix seconds
	StoredAt    int64 // unix nanoseconds when this owner stored it
}

// Holding returns owner's reference, if any.
func (h *HeldShard) Holding(owner [32]byte) (Holding, bool) {
	i, ok := h.find(owner)
	if !ok {
		return Holding{}, false
	}
	return h.Holders[i], true
}

// SetHolding inserts or replaces the reference of hd.Owner.
func (h *HeldShard) SetHolding(hd Holding) {
	i, ok := h.find(hd.Owner)
	if ok {
		h.Holders[i] = hd
		return
	}
	h.Holders = slices.Insert(h.Holders, i, hd)
}

// RemoveHolding drops owner's reference and reports whether it existed.
func (h *HeldShard) RemoveHolding(owner [32]byte) bool {
	i, ok := h.find(owner)
	if ok {
		h.Holders = slices.Delete(h.Holders, i, i+1)
	}
	return ok
}

func (h *HeldShard) find(owner [32]byte) (int, bool) {
	return slices.BinarySearchFunc(h.Holders, owner, func(a Holding, o [32]byte) int {
		return bytes.Compare(a.Owner[:], o[:])
	})
}

const heldShardV1 = 1

func encodeHeldShard(h HeldShard) []byte {
	e := newEncoder(heldShardV1, 16+len(h.Holders)*48)
	e.varint(h.Size)
	e.varint(h.StoredAt)
	e.u8(byte(h.Location))
	e.uvarint(uint64(len(h.Holders)))
	for _, hd := range h.Holders {
		e.fixed32(hd.Owner)
		e.varint(hd.LeaseExpiry)
		e.varint(hd.StoredAt)
	}
	return e.b
}

func decodeHeldShard(key, v []byte) (HeldShard, error) {
	var h HeldShard
	if len(key) != 33 {
		return h, fmt.Errorf("%w: held shard key length %d", ErrCorrupt, len(key))
	}
	copy(h.ID[:], key[1:])
	d := newDecoder(v, "held shard", heldShardV1)
	h.Size = d.varint()
	h.StoredAt = d.varint()
	h.Location = Location(d.u8())
	n := d.count(34)
	for range n {
		h.Holders = append(h.Holders, Holding{Owner: d.fixed32(), LeaseExpiry: d.varint(), StoredAt: d.varint()})
	}
	return h, d.err
}

func heldShardDecoder(key []byte) func([]byte) (HeldShard, error) {
	return func(v []byte) (HeldShard, error) { return decodeHeldShard(key, v) }
}

// HeldShard returns the record of shard id, or ErrNotFound.
func (db *DB) HeldShard(id [32]byte) (HeldShard, error) {
	k := shardKey(id)
	return get(db.pdb, k, heldShardDecoder(k))
}

// HeldShard is DB.HeldShard as the batch sees it.
func (b *Batch) HeldShard(id [32]byte) (HeldShard, error) {
	k := shardKey(id)
	return get(b.pb, k, heldShardDecoder(k))
}

// HeldShards lists up to limit held shards in ID order, after the ID after
// (zero: from the first).
func (db *DB) HeldShards(after [32]byte, limit int) ([]HeldShard, error) {
	return scan(db.pdb, []byte{prefixShard}, afterKey32(prefixShard, after), limit, decodeHeldShard)
}

// PutHeldShard writes h, and keeps the lease index (see LapsedLeases) in
// step with the record it replaces: the entries of holdings gone or
// whose lease changed are deleted, the new ones written, in this batch.
// A record without holders is a caller bug.
func (b *Batch) PutHeldShard(h HeldShard) error {
	if len(h.Holders) == 0 {
		panic("meta: PutHeldShard without holders")
	}
	old, err := b.HeldShard(h.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, hd := range old.Holders {
		if n, ok := h.Holding(hd.Owner); !ok || n.LeaseExpiry != hd.LeaseExpiry {
			if err := b.Delete(leaseKey(hd.LeaseExpiry, h.ID, hd.Owner)); err != nil {
				return err
			}
		}
	}
	for _, hd := range h.Holders {
		if o, ok := old.Holding(hd.Owner); !ok || o.LeaseExpiry != hd.LeaseExpiry {
			if err := b.Set(leaseKey(hd.LeaseExpiry, h.ID, hd.Owner), nil); err != nil {
				return err
			}
		}
	}
	return b.Set(shardKey(h.ID), encodeHeldShard(h))
}

// DeleteHeldShard removes the record of shard id and its holdings' lease
// index entries.
func (b *Batch) DeleteHeldShard(id [32]byte) error {
	old, err := b.HeldShard(id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, hd := range old.Holders {
		if err := b.Delete(leaseKey(hd.LeaseExpiry, id, hd.Owner)); err != nil {
			return err
		}
	}
	if old.Location == LocationDelegated {
		if err := b.Delete(key32(prefixDelegation, id)); err != nil {
			return err
		}
	}
	return b.Delete(shardKey(id))
}

// LastGrant returns the Time of the newest grant accepted from owner for
// shard (0 if none). It outlives the Holding, so a replayed old grant cannot
// act on a later upload.
func (db *DB) LastGrant(shard, owner [32]byte) (int64, error) {
	return lastGrant(db.pdb, shard, owner)
}

// LastGrant is DB.LastGrant as the batch sees it.
func (b *Batch) LastGrant(shard, owner [32]byte) (int64, error) {
	return lastGrant(b.pb, shard, owner)
}

func lastGrant(r reader, shard, owner [32]byte) (int64, error) {
	t, err := get(r, lastGrantKey(shard, owner), decodeInt)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return t, err
}

// SetLastGrant records t as the newest grant time of owner for shard.
func (b *Batch) SetLastGrant(shard, owner [32]byte, t int64) error {
	return b.Set(lastGrantKey(shard, owner), encodeInt(t))
}

// PruneLastGrants deletes the last-grant times older than before (unix
// nanoseconds), held shards' included: a grant that old is refused by its
// timestamp anyway (a node prunes times older than twice its clock
// window), so the entries left by stores and releases do not pile up. It
// works in batches of a few thousand keys and returns how many it
// removed.
func (db *DB) PruneLastGrants(before int64) (int, error) {
	const page = 4096
	removed := 0
	var after []byte
	for {
		var stale [][]byte
		seen := 0
		err := scanRaw(db.pdb, []byte{prefixLastGrant}, after, page, func(k, v []byte) error {
			seen++
			after = append(after[:0], k...)
			t, err := decodeInt(v)
			if err != nil {
				return fmt.Errorf("meta: decode %x: %w", k, err)
			}
			if t < before {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		if len(stale) > 0 {
			// A grant accepted meanwhile is newer than before: keep it.
			err := db.Update(func(b *Batch) error {
				for _, k := range stale {
					if t, err := get(b.pb, k, decodeInt); err != nil || t >= before {
						continue
					}
					if err := b.Delete(k); err != nil {
						return err
					}
					removed++
				}
				return nil
			}, NoSync())
			if err != nil {
				return removed, err
			}
		}
		if seen < page {
			return removed, nil
		}
	}
}

// Inline shard bytes: small shards a node keeps in the catalog instead of a
// file each, so that their writes share the catalog's WAL fsync.

const inlineV1 = 1

func encodeInline(data []byte) []byte {
	e := newEncoder(inlineV1, binary.MaxVarintLen64+len(data))
	e.bytes(data)
	return e.b
}

// decodeInline returns the shard bytes in v, aliasing v.
func decodeInline(v []byte) ([]byte, error) {
	d := newDecoder(v, "inline shard", inlineV1)
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("inline shard")
	}
	if d.err != nil {
		return nil, d.err
	}
	return d.b[:n:n], nil
}

// InlineShard returns the bytes of shard id kept in the catalog, or
// ErrNotFound.
func (db *DB) InlineShard(id [32]byte) ([]byte, error) {
	return get(db.pdb, inlineKey(id), decodeInline)
}

// InlineShard is DB.InlineShard as the batch sees it.
func (b *Batch) InlineShard(id [32]byte) ([]byte, error) {
	return get(b.pb, inlineKey(id), decodeInline)
}

// PutInlineShard keeps data as the bytes of shard id, replacing any.
func (b *Batch) PutInlineShard(id [32]byte, data []byte) error {
	return b.Set(inlineKey(id), encodeInline(data))
}

// DeleteInlineShard removes the bytes of shard id.
func (b *Batch) DeleteInlineShard(id [32]byte) error { return b.Delete(inlineKey(id)) }

// InlineShardInfo names a shard kept in the catalog and its size.
type InlineShardInfo struct {
	ID   [32]byte
	Size int64
}

// InlineShards lists up to limit inline shards in ID order, after the ID
// after (zero: from the first), without reading their bytes out.
func (db *DB) InlineShards(after [32]byte, limit int) ([]InlineShardInfo, error) {
	return scan(db.pdb, []byte{prefixInline}, afterKey32(prefixInline, after), limit,
		func(k, v []byte) (InlineShardInfo, error) {
			var in InlineShardInfo
			if len(k) != 33 {
				return in, fmt.Errorf("%w: inline shard key length %d", ErrCorrupt, len(k))
			}
			copy(in.ID[:], k[1:])
			data, err := decodeInline(v)
			in.Size = int64(len(data))
			return in, err
		})
}
