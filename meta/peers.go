package meta

import "fmt"

// Peer is a known node: its latest signed record, kept verbatim, and the
// peer registry's state of it (package node/peers).
type Peer struct {
	ID     [32]byte
	Seq    uint64 // the record's sequence number
	Seen   int64  // unix nanoseconds when this record was stored
	Record []byte // the signed record as received
	// Source is the address block the record first came from; records
	// of one source are bounded together.
	Source string
	// Since v3. Values written before decode as Table PeerNew, Change 0
	// and no History.
	Table   PeerTable
	Change  uint64 // the number of the entry's last stored change
	History []byte // the registry's own encoding of the peer's history
}

// PeerTable is the registry table a peer is in.
type PeerTable uint8

const (
	// PeerNew holds records heard of but not verified.
	PeerNew PeerTable = 0
	// PeerTried holds records whose node proved it answers at its
	// advertised address.
	PeerTried PeerTable = 1
)

const (
	peerV1 = 1
	peerV2 = 2 // adds Source
	peerV3 = 3 // adds Table, Change, History
)

// counterPeerChanges is the last change number given to a peer entry.
const counterPeerChanges = "peers/changes"

func encodePeer(p Peer) []byte {
	e := newEncoder(peerV3, 40+len(p.Record)+len(p.Source)+len(p.History))
	e.uvarint(p.Seq)
	e.varint(p.Seen)
	e.bytes(p.Record)
	e.bytes([]byte(p.Source))
	e.u8(byte(p.Table))
	e.uvarint(p.Change)
	e.bytes(p.History)
	return e.b
}

func decodePeer(key, v []byte) (Peer, error) {
	var p Peer
	if len(key) != 33 {
		return p, fmt.Errorf("%w: peer key length %d", ErrCorrupt, len(key))
	}
	copy(p.ID[:], key[1:])
	d := newDecoder(v, "peer", peerV3)
	p.Seq = d.uvarint()
	p.Seen = d.varint()
	p.Record = d.bytes()
	if d.version >= peerV2 {
		p.Source = string(d.bytes())
	}
	if d.version >= peerV3 {
		p.Table = PeerTable(d.u8())
		p.Change = d.uvarint()
		p.History = d.bytes()
		if d.err == nil && p.Table > PeerTried {
			d.err = fmt.Errorf("%w: peer table %d unknown", ErrCorrupt, p.Table)
		}
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

// PeerChanges returns the last change number given to a peer entry (0 if
// none was).
func (db *DB) PeerChanges() (uint64, error) { return peerChanges(db.pdb) }

// PeerChanges is DB.PeerChanges as the batch sees it.
func (b *Batch) PeerChanges() (uint64, error) { return peerChanges(b.pb) }

func peerChanges(r reader) (uint64, error) {
	v, err := counter(r, counterPeerChanges)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("%w: peer change counter %d", ErrCorrupt, v)
	}
	return uint64(v), nil
}

// SetPeerChanges records n as the last change number given to a peer
// entry. The registry numbers changes itself and writes the number in the
// batch that stores them.
func (b *Batch) SetPeerChanges(n uint64) error {
	if n > 1<<63-1 {
		return fmt.Errorf("meta: peer change counter %d out of range", n)
	}
	return b.Set(counterKey(counterPeerChanges), encodeInt(int64(n)))
}

// EachPeer calls fn for every peer in ID order. A value that does not
// decode is passed with its error (wrapping ErrCorrupt) and only its ID
// set, so a caller can drop it and go on; fn's error stops the scan.
func (db *DB) EachPeer(fn func(p Peer, err error) error) error {
	return scanRaw(db.pdb, []byte{prefixPeer}, nil, 0, func(k, v []byte) error {
		p, err := decodePeer(k, v)
		if err != nil {
			p = Peer{}
			if len(k) == 33 {
				copy(p.ID[:], k[1:])
			}
			err = fmt.Errorf("meta: decode %x: %w", k, err)
		}
		return fn(p, err)
	})
}
