package meta

import "fmt"

// Segment is the manifest of one stored segment: how it was sealed, its
// wrapped data key (so a segment is self-contained and copies and
// multipart assembly just reference it), and where its shards are. It is
// referenced by Refs objects or parts; at zero its shards are released.
type Segment struct {
	ID SegmentID
	// The sealing context (shard.SegmentContext).
	Object     [16]byte
	Number     uint64
	Salt       [16]byte
	WrappedKey []byte
	PlainSize  int64
	SealedSize int64
	// The coding parameters (shard.Params).
	K, N, BlockSize int
	Refs            int64
	// Shards has N entries, by shard index; an entry with a zero Node was
	// not stored (fewer acknowledgements than N were enough).
	Shards []SegmentShard
}

// SegmentShard is one shard of a segment and the signed receipt of the
// node that holds it (its Shard, Size and Owner fields are implied).
type SegmentShard struct {
	ID          [32]byte
	Node        [32]byte
	Holder      [32]byte
	LeaseExpiry int64
	Time        int64
	Sig         []byte
	Health      ShardHealth
}

// ShardHealth is what upkeep learned of a stored shard: its audits and,
// once it is lost, why (zero for a shard never audited).
type ShardHealth struct {
	LastAudit     int64 // unix seconds of the last audit (or of the store)
	AuditFailures int   // consecutive failed audits
	RecheckAt     int64 // unix seconds: a failed audit is checked again then (0: none)
	Lost          uint8 // why the shard is lost (upkeep's reason code; 0: not lost)
}

// Stored reports whether the shard was acknowledged by a node.
func (s SegmentShard) Stored() bool { return s.Node != [32]byte{} }

// Segment record versions: 2 adds each shard's ShardHealth.
const (
	segmentV1 = 1
	segmentV2 = 2
)

func encodeSegment(s Segment) []byte {
	e := newEncoder(segmentV2, 180+len(s.Shards)*190)
	e.b = append(e.b, s.Object[:]...)
	e.uvarint(s.Number)
	e.b = append(e.b, s.Salt[:]...)
	e.bytes(s.WrappedKey)
	e.varint(s.PlainSize)
	e.varint(s.SealedSize)
	e.uvarint(uint64(s.K))
	e.uvarint(uint64(s.N))
	e.uvarint(uint64(s.BlockSize))
	e.varint(s.Refs)
	e.uvarint(uint64(len(s.Shards)))
	for _, sh := range s.Shards {
		e.fixed32(sh.ID)
		e.fixed32(sh.Node)
		e.fixed32(sh.Holder)
		e.varint(sh.LeaseExpiry)
		e.varint(sh.Time)
		e.bytes(sh.Sig)
		e.varint(sh.Health.LastAudit)
		e.uvarint(uint64(sh.Health.AuditFailures))
		e.varint(sh.Health.RecheckAt)
		e.u8(sh.Health.Lost)
	}
	return e.b
}

func (d *decoder) fixed16() (v [16]byte) {
	if d.err != nil || len(d.b) < 16 {
		d.fail("fixed16")
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[16:]
	return v
}

func decodeSegment(key, v []byte) (Segment, error) {
	var s Segment
	if len(key) != 1+len(s.ID) {
		return s, fmt.Errorf("%w: segment key length %d", ErrCorrupt, len(key))
	}
	copy(s.ID[:], key[1:])
	d := newDecoder(v, "segment", segmentV2)
	s.Object = d.fixed16()
	s.Number = d.uvarint()
	s.Salt = d.fixed16()
	s.WrappedKey = d.bytes()
	s.PlainSize = d.varint()
	s.SealedSize = d.varint()
	s.K = int(d.uvarint())
	s.N = int(d.uvarint())
	s.BlockSize = int(d.uvarint())
	s.Refs = d.varint()
	n := d.count(99)
	s.Shards = make([]SegmentShard, 0, n)
	for range n {
		sh := SegmentShard{ID: d.fixed32(), Node: d.fixed32(), Holder: d.fixed32(),
			LeaseExpiry: d.varint(), Time: d.varint(), Sig: d.bytes()}
		if d.version >= segmentV2 {
			sh.Health = ShardHealth{LastAudit: d.varint(), AuditFailures: int(min(d.uvarint(), 255)), RecheckAt: d.varint(), Lost: d.u8()}
		}
		s.Shards = append(s.Shards, sh)
	}
	return s, d.err
}

// Segment returns the segment id, or ErrNotFound.
func (db *DB) Segment(id SegmentID) (Segment, error) { return segment(db.pdb, id) }

// Segment is DB.Segment as the batch sees it.
func (b *Batch) Segment(id SegmentID) (Segment, error) { return segment(b.pb, id) }

func segment(r reader, id SegmentID) (Segment, error) {
	k := segmentKey(id)
	return get(r, k, func(v []byte) (Segment, error) { return decodeSegment(k, v) })
}

// Segments lists up to limit segments in ID order after the ID after
// (zero: from the first); for audits and repair.
func (db *DB) Segments(after SegmentID, limit int) ([]Segment, error) {
	var from []byte
	if after != (SegmentID{}) {
		from = segmentKey(after)
	}
	return scan(db.pdb, []byte{prefixSegment}, from, limit, decodeSegment)
}

// PutSegment writes s, replacing any segment with its ID.
func (b *Batch) PutSegment(s Segment) error { return b.Set(segmentKey(s.ID), encodeSegment(s)) }

// DeleteSegment removes segment id.
func (b *Batch) DeleteSegment(id SegmentID) error { return b.Delete(segmentKey(id)) }
