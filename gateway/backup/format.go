package backup

import (
	"encoding/binary"
	"errors"
	"fmt"

	"ishtar/meta"
)

// ErrFormat reports a pointer or blob that does not decode.
var ErrFormat = errors.New("backup: malformed backup")

// pointer is what a root record points at, sealed with the catalog key:
// the backup as of log record CatalogSeq, an index blob listing the
// snapshot's segments, and the log chunks since the snapshot, in order.
type pointer struct {
	CatalogSeq uint64         // the last log record the backup includes
	Index      []meta.Segment // the index blob's segments
	Logs       []logRef
}

// logRef is one log chunk: records From to To.
type logRef struct {
	From, To uint64
	Segs     []meta.Segment
}

// blobs lists every segment the pointer references.
func (p *pointer) blobs() []meta.Segment {
	out := append([]meta.Segment{}, p.Index...)
	for _, l := range p.Logs {
		out = append(out, l.Segs...)
	}
	return out
}

// newest is the segments of the pointer's newest blob (its last log
// chunk, else its index).
func (p *pointer) newest() []meta.Segment {
	if len(p.Logs) > 0 {
		return p.Logs[len(p.Logs)-1].Segs
	}
	return p.Index
}

const pointerV1 = 1

// strip keeps of a segment record what reading it needs: a root holds
// many, in at most a few KiB (receipts' signatures and health are in the
// catalog).
func strip(s meta.Segment) meta.Segment {
	s.Shards = append([]meta.SegmentShard{}, s.Shards...)
	for i := range s.Shards {
		sh := &s.Shards[i]
		*sh = meta.SegmentShard{ID: sh.ID, Node: sh.Node, Holder: sh.Holder}
	}
	return s
}

func appendSegs(b []byte, segs []meta.Segment, stripped bool) []byte {
	b = binary.AppendUvarint(b, uint64(len(segs)))
	for _, s := range segs {
		if stripped {
			s = strip(s)
		}
		b = append(b, s.ID[:]...)
		rec := meta.EncodeSegment(s)
		b = binary.AppendUvarint(b, uint64(len(rec)))
		b = append(b, rec...)
	}
	return b
}

// reader decodes a pointer or blob; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrFormat, what)
	}
	r.b = nil
}

func (r *reader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// count reads a count of items of at least minSize bytes each, bounded
// by what is left.
func (r *reader) count(what string, minSize int) int {
	n := r.uvarint(what)
	if r.err != nil || n > uint64(len(r.b)/minSize) {
		r.fail(what)
		return 0
	}
	return int(n)
}

func (r *reader) segs(what string) []meta.Segment {
	n := r.count(what, 25)
	out := make([]meta.Segment, 0, n)
	for range n {
		var id meta.SegmentID
		if len(r.b) < len(id) {
			r.fail(what)
			return nil
		}
		copy(id[:], r.b)
		r.b = r.b[len(id):]
		rec := r.bytes(what)
		if r.err != nil {
			return nil
		}
		s, err := meta.DecodeSegment(id, rec)
		if err != nil {
			r.fail(fmt.Sprintf("%s: %v", what, err))
			return nil
		}
		out = append(out, s)
	}
	return out
}

func encodePointer(p pointer) []byte {
	b := []byte{pointerV1}
	b = binary.AppendUvarint(b, p.CatalogSeq)
	b = appendSegs(b, p.Index, true)
	b = binary.AppendUvarint(b, uint64(len(p.Logs)))
	for _, l := range p.Logs {
		b = binary.AppendUvarint(b, l.From)
		b = binary.AppendUvarint(b, l.To)
		b = appendSegs(b, l.Segs, true)
	}
	return b
}

func decodePointer(b []byte) (pointer, error) {
	var p pointer
	if len(b) == 0 || b[0] != pointerV1 {
		return p, fmt.Errorf("%w: pointer version", ErrFormat)
	}
	r := &reader{b: b[1:]}
	p.CatalogSeq = r.uvarint("pointer seq")
	p.Index = r.segs("pointer index")
	n := r.count("pointer logs", 3)
	for range n {
		l := logRef{From: r.uvarint("log from"), To: r.uvarint("log to")}
		l.Segs = r.segs("log segments")
		p.Logs = append(p.Logs, l)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("pointer: trailing bytes")
	}
	if r.err == nil && len(p.Index) == 0 {
		r.fail("pointer without an index")
	}
	return p, r.err
}

// Blobs start with a magic string and their kind.
const (
	blobMagic    = "ishtar catalog backup v1\x00"
	kindSnapshot = 1 // catalog seq, then a change list of sets
	kindIndex    = 2 // catalog seq, then the snapshot's segment records
	kindLog      = 3 // log records: seq, time, change list
)

func blobHeader(kind byte, size int) []byte {
	b := make([]byte, 0, len(blobMagic)+1+size)
	return append(append(b, blobMagic...), kind)
}

// openBlob checks a blob's magic and kind and returns its body.
func openBlob(b []byte, kind byte) ([]byte, error) {
	if len(b) < len(blobMagic)+1 || string(b[:len(blobMagic)]) != blobMagic {
		return nil, fmt.Errorf("%w: not a catalog backup blob", ErrFormat)
	}
	if b[len(blobMagic)] != kind {
		return nil, fmt.Errorf("%w: blob of kind %d, want %d", ErrFormat, b[len(blobMagic)], kind)
	}
	return b[len(blobMagic)+1:], nil
}

func encodeSnapshot(seq uint64, changes []byte) []byte {
	b := blobHeader(kindSnapshot, 10+len(changes))
	b = binary.AppendUvarint(b, seq)
	return append(b, changes...)
}

func decodeSnapshot(blob []byte) (seq uint64, changes []byte, err error) {
	body, err := openBlob(blob, kindSnapshot)
	if err != nil {
		return 0, nil, err
	}
	r := &reader{b: body}
	seq = r.uvarint("snapshot seq")
	return seq, r.b, r.err
}

func encodeIndex(seq uint64, segs []meta.Segment) []byte {
	b := blobHeader(kindIndex, 10+len(segs)*1024)
	b = binary.AppendUvarint(b, seq)
	return appendSegs(b, segs, false)
}

func decodeIndex(blob []byte) (uint64, []meta.Segment, error) {
	body, err := openBlob(blob, kindIndex)
	if err != nil {
		return 0, nil, err
	}
	r := &reader{b: body}
	seq := r.uvarint("index seq")
	segs := r.segs("index segments")
	if r.err == nil && len(r.b) > 0 {
		r.fail("index: trailing bytes")
	}
	return seq, segs, r.err
}

func encodeLog(recs []meta.LogRecord) []byte {
	size := 0
	for _, r := range recs {
		size += 20 + len(r.Changes)
	}
	b := blobHeader(kindLog, size)
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for _, r := range recs {
		b = binary.AppendUvarint(b, r.Seq)
		b = binary.AppendVarint(b, r.Time)
		b = binary.AppendUvarint(b, uint64(len(r.Changes)))
		b = append(b, r.Changes...)
	}
	return b
}

func decodeLog(blob []byte) ([]meta.LogRecord, error) {
	body, err := openBlob(blob, kindLog)
	if err != nil {
		return nil, err
	}
	r := &reader{b: body}
	n := r.count("log records", 3)
	recs := make([]meta.LogRecord, 0, n)
	for range n {
		rec := meta.LogRecord{Seq: r.uvarint("log seq"), Time: r.varint("log time")}
		rec.Changes = r.bytes("log changes")
		recs = append(recs, rec)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("log: trailing bytes")
	}
	return recs, r.err
}
