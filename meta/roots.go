package meta

import "fmt"

// Root is the highest root record seen for an owner, kept verbatim.
type Root struct {
	Owner  [32]byte
	Seq    uint64
	Record []byte // the signed record as received
}

const rootV1 = 1

func encodeRoot(r Root) []byte {
	e := newEncoder(rootV1, 12+len(r.Record))
	e.uvarint(r.Seq)
	e.bytes(r.Record)
	return e.b
}

func decodeRoot(key, v []byte) (Root, error) {
	var r Root
	if len(key) != 33 {
		return r, fmt.Errorf("%w: root key length %d", ErrCorrupt, len(key))
	}
	copy(r.Owner[:], key[1:])
	d := newDecoder(v, "root", rootV1)
	r.Seq = d.uvarint()
	r.Record = d.bytes()
	return r, d.err
}

// Root returns owner's root, or ErrNotFound.
func (db *DB) Root(owner [32]byte) (Root, error) {
	k := rootKey(owner)
	return get(db.pdb, k, func(v []byte) (Root, error) { return decodeRoot(k, v) })
}

// Root is DB.Root as the batch sees it.
func (b *Batch) Root(owner [32]byte) (Root, error) {
	k := rootKey(owner)
	return get(b.pb, k, func(v []byte) (Root, error) { return decodeRoot(k, v) })
}

// PutRoot writes r, replacing owner's previous root.
func (b *Batch) PutRoot(r Root) error { return b.Set(rootKey(r.Owner), encodeRoot(r)) }

// DeleteRoot forgets owner's root.
func (b *Batch) DeleteRoot(owner [32]byte) error { return b.Delete(rootKey(owner)) }
