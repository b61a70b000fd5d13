package meta

import "fmt"

// Peer is a known node: its latest signed record, kept verbatim.
type Peer struct {
	ID     [32]byte
	Seq    uint64 // the record's sequence number
	Seen   int64  // unix nanoseconds when this record was stored
	Record []byte // the signed record as received
	// Source is the address block the record first came from; records
	// of one source are bounded together.
	Source string
}

const (
	peerV1 = 1
	peerV2 = 2 // adds Source
)

func encodePeer(p Peer) []byte {
	e := newEncoder(peerV2, 24+len(p.Record)+len(p.Source))
	e.uvarint(p.Seq)
	e.varint(p.Seen)
	e.bytes(p.Record)
	e.bytes([]byte(p.Source))
	return e.b
}

func decodePeer(key, v []byte) (Peer, error) {
	var p Peer
	if len(key) != 33 {
		return p, fmt.Errorf("%w: peer key length %d", ErrCorrupt, len(key))
	}
	copy(p.ID[:], key[1:])
	d := newDecoder(v, "peer", peerV2)
	p.Seq = d.uvarint()
	p.Seen = d.varint()
	p.Record = d.bytes()
	if d.version >= peerV2 {
		p.Source = string(d.bytes())
	}
	return p, d.err
}

// Peer returns the record of node id, or ErrNotFound.
func (db *DB) Peer(id [32]byte) (Peer, error) {
	k := peerKey(id)
	return get(db.pdb, k, func(v []byte) (Peer, error) { return decodePeer(k, v) })
}

// Peer is DB.Peer as the batch sees it.
func (b *Batch) Peer(id [32]byte) (Peer, error) {
	k := peerKey(id)
	return get(b.pb, k, func(v []byte) (Peer, error) { return decodePeer(k, v) })
}

// Peers lists up to limit peers in ID order after the ID after (zero: from
// the first).
func (db *DB) Peers(after [32]byte, limit int) ([]Peer, error) {
	return scan(db.pdb, []byte{prefixPeer}, afterKey32(prefixPeer, after), limit, decodePeer)
}

// PutPeer writes p, replacing any record of p.ID.
func (b *Batch) PutPeer(p Peer) error { return b.Set(peerKey(p.ID), encodePeer(p)) }

// DeletePeer forgets node id.
func (b *Batch) DeletePeer(id [32]byte) error { return b.Delete(peerKey(id)) }
