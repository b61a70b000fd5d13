package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Root is the highest root record seen for an owner, kept verbatim, with
// whose post of it was accepted and, for a foreign root, when it expires.
type Root struct {
	Owner  [32]byte
	Seq    uint64
	Record []byte // the signed record as received
	// Poster is the node whose post of Record was accepted, Block the
	// address block it came from and Posted when (unix seconds). They
	// are zero in roots kept before they were recorded.
	Poster [32]byte
	Block  string
	Posted int64
	// Expires, when not zero, makes the root foreign (kept for an owner
	// the node holds no shard for) until Expires (unix seconds). PutRoot
	// and DeleteRoot keep, for the foreign roots, an index by expiry
	// (ExpiredForeignRoots) and tallies per Poster, per Block and of the
	// node (ForeignTallies).
	Expires int64
}

// Foreign reports whether r is a foreign root.
func (r Root) Foreign() bool { return r.Expires != 0 }

const (
	rootV1 = 1 // seq, record
	rootV2 = 2 // and poster, block, posted, expires
)

func encodeRoot(r Root) []byte {
	e := newEncoder(rootV2, 64+len(r.Record)+len(r.Block))
	e.uvarint(r.Seq)
	e.bytes(r.Record)
	e.fixed32(r.Poster)
	e.bytes([]byte(r.Block))
	e.varint(r.Posted)
	e.varint(r.Expires)
	return e.b
}

func decodeRoot(key, v []byte) (Root, error) {
	var r Root
	if len(key) != 33 {
		return r, fmt.Errorf("%w: root key length %d", ErrCorrupt, len(key))
	}
	copy(r.Owner[:], key[1:])
	d := newDecoder(v, "root", rootV2)
	r.Seq = d.uvarint()
	r.Record = d.bytes()
	if d.version >= rootV2 {
		r.Poster = d.fixed32()
		r.Block = string(d.bytes())
		r.Posted = d.varint()
		r.Expires = d.varint()
	}
	return r, d.err
}

// Root returns owner's root, or ErrNotFound.
func (db *DB) Root(owner [32]byte) (Root, error) { return root(db.pdb, owner) }

// Root is DB.Root as the batch sees it.
func (b *Batch) Root(owner [32]byte) (Root, error) { return root(b.pb, owner) }

func root(r reader, owner [32]byte) (Root, error) {
	k := rootKey(owner)
	return get(r, k, func(v []byte) (Root, error) { return decodeRoot(k, v) })
}

// PutRoot writes r, replacing owner's previous root, and moves the
// foreign roots' index and tallies from the previous root to r.
func (b *Batch) PutRoot(r Root) error {
	if err := b.unlistForeign(r.Owner); err != nil {
		return err
	}
	if r.Foreign() {
		if err := b.Set(foreignExpiryKey(r.Expires, r.Owner), nil); err != nil {
			return err
		}
		if err := b.tallyForeign(r, 1); err != nil {
			return err
		}
	}
	return b.Set(rootKey(r.Owner), encodeRoot(r))
}

// DeleteRoot forgets owner's root (and its place among the foreign ones).
func (b *Batch) DeleteRoot(owner [32]byte) error {
	if err := b.unlistForeign(owner); err != nil {
		return err
	}
	return b.Delete(rootKey(owner))
}

// unlistForeign takes owner's current root, if foreign, out of the index
// and the tallies.
func (b *Batch) unlistForeign(owner [32]byte) error {
	old, err := b.Root(owner)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !old.Foreign() {
		return err
	}
	if err := b.Delete(foreignExpiryKey(old.Expires, owner)); err != nil {
		return err
	}
	return b.tallyForeign(old, -1)
}

// Foreign roots' keys, under prefixForeign. The other entities' key
// encodings are in keys.go; these stay here, beside their only users.
const (
	foreignExpiry byte = 'x' // f | x | expires(8) | owner(32) -> (empty): expiry index
	foreignNode   byte = 'n' // f | n                          -> tally of the node
	foreignPoster byte = 'p' // f | p | node(32)               -> tally of a poster
	foreignBlock  byte = 'b' // f | b | block                  -> tally of an address block
)

const foreignExpiryKeyLen = 2 + 8 + 32

// foreignExpiryKey sorts by expiry (unix seconds, sign bit flipped as in
// leaseKey), then owner.
func foreignExpiryKey(expires int64, owner [32]byte) []byte {
	k := make([]byte, foreignExpiryKeyLen)
	k[0], k[1] = prefixForeign, foreignExpiry
	binary.BigEndian.PutUint64(k[2:], uint64(expires)^(1<<63))
	copy(k[10:], owner[:])
	return k
}

func foreignTallyKey(kind byte, id []byte) []byte {
	return append([]byte{prefixForeign, kind}, id...)
}

// ForeignTally counts foreign roots and the bytes of their records.
type ForeignTally struct {
	Roots int64
	Bytes int64
}

// ForeignTallies are the foreign roots posted by one node, those posted
// from one address block, and all of the node's.
type ForeignTallies struct {
	Poster, Block, Node ForeignTally
}

const foreignTallyV1 = 1

func encodeForeignTally(t ForeignTally) []byte {
	e := newEncoder(foreignTallyV1, 20)
	e.varint(t.Roots)
	e.varint(t.Bytes)
	return e.b
}

func decodeForeignTally(v []byte) (ForeignTally, error) {
	d := newDecoder(v, "foreign root tally", foreignTallyV1)
	t := ForeignTally{Roots: d.varint(), Bytes: d.varint()}
	return t, d.err
}

func foreignTally(r reader, key []byte) (ForeignTally, error) {
	t, err := get(r, key, decodeForeignTally)
	if errors.Is(err, ErrNotFound) {
		return ForeignTally{}, nil
	}
	return t, err
}

func foreignTallies(r reader, poster [32]byte, block string) (ForeignTallies, error) {
	var t ForeignTallies
	var err error
	if t.Poster, err = foreignTally(r, foreignTallyKey(foreignPoster, poster[:])); err != nil {
		return t, err
	}
	if t.Block, err = foreignTally(r, foreignTallyKey(foreignBlock, []byte(block))); err != nil {
		return t, err
	}
	t.Node, err = foreignTally(r, foreignTallyKey(foreignNode, nil))
	return t, err
}

// ForeignTallies returns the foreign roots posted by poster, those posted
// from block, and all of them.
func (db *DB) ForeignTallies(poster [32]byte, block string) (ForeignTallies, error) {
	return foreignTallies(db.pdb, poster, block)
}

// ForeignTallies is DB.ForeignTallies as the batch sees it.
func (b *Batch) ForeignTallies(poster [32]byte, block string) (ForeignTallies, error) {
	return foreignTallies(b.pb, poster, block)
}

// tallyForeign adds (sign 1) or takes off (-1) foreign root r to the
// tallies of its poster, its block and the node; a tally of no roots is
// deleted.
func (b *Batch) tallyForeign(r Root, sign int64) error {
	for _, k := range [][]byte{
		foreignTallyKey(foreignPoster, r.Poster[:]),
		foreignTallyKey(foreignBlock, []byte(r.Block)),
		foreignTallyKey(foreignNode, nil),
	} {
		t, err := foreignTally(b.pb, k)
		if err != nil {
			return err
		}
		t.Roots += sign
		t.Bytes += sign * int64(len(r.Record))
		switch {
		case t.Roots < 0 || t.Bytes < 0:
			return fmt.Errorf("%w: foreign root tally %x would be %d roots, %d bytes", ErrCorrupt, k, t.Roots, t.Bytes)
		case t.Roots == 0:
			err = b.Delete(k)
		default:
			err = b.Set(k, encodeForeignTally(t))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ForeignExpiry is an entry of the foreign roots' expiry index.
type ForeignExpiry struct {
	Expires int64 // unix seconds
	Owner   [32]byte
}

// ExpiredForeignRoots lists, in expiry order, up to limit (<= 0: all)
// foreign roots that expire at or before now (unix seconds), after the
// entry after (nil: from the first).
func (db *DB) ExpiredForeignRoots(after *ForeignExpiry, now int64, limit int) ([]ForeignExpiry, error) {
	var a []byte
	if after != nil {
		a = foreignExpiryKey(after.Expires, after.Owner)
	}
	var out []ForeignExpiry
	err := scanRaw(db.pdb, []byte{prefixForeign, foreignExpiry}, a, limit, func(k, _ []byte) error {
		if len(k) != foreignExpiryKeyLen {
			return fmt.Errorf("%w: foreign root expiry key length %d", ErrCorrupt, len(k))
		}
		e := ForeignExpiry{Expires: int64(binary.BigEndian.Uint64(k[2:]) ^ (1 << 63))}
		if e.Expires > now {
			return errStopScan
		}
		copy(e.Owner[:], k[10:])
		out = append(out, e)
		return nil
	})
	if err == errStopScan {
		err = nil
	}
	return out, err
}
