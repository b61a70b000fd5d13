package meta

import "fmt"

// Journal records the shards of a segment sent to nodes before the
// segment is committed. A commit removes it; what is left after a crash
// names orphan shards to release.
type Journal struct {
	Segment SegmentID
	Created int64 // unix nanoseconds
	Shards  []PendingShard
}

// PendingShard is one shard sent (or about to be sent) to one node.
type PendingShard struct {
	Shard [32]byte
	Node  [32]byte
	Size  int64
}

// Release is a shard to delete from a node with an owner-signed grant.
type Release struct {
	Shard, Node [32]byte
	Size        int64
	Enqueued    int64 // unix nanoseconds
	NotBefore   int64 // unix nanoseconds: the next attempt
	Attempts    int
}

const (
	journalV1 = 1
	releaseV1 = 1
)

func encodeJournal(j Journal) []byte {
	e := newEncoder(journalV1, 12+len(j.Shards)*72)
	e.varint(j.Created)
	e.uvarint(uint64(len(j.Shards)))
	for _, s := range j.Shards {
		e.fixed32(s.Shard)
		e.fixed32(s.Node)
		e.varint(s.Size)
	}
	return e.b
}

func decodeJournal(key, v []byte) (Journal, error) {
	var j Journal
	if len(key) != 1+len(j.Segment) {
		return j, fmt.Errorf("%w: journal key length %d", ErrCorrupt, len(key))
	}
	copy(j.Segment[:], key[1:])
	d := newDecoder(v, "journal", journalV1)
	j.Created = d.varint()
	n := d.count(65)
	j.Shards = make([]PendingShard, 0, n)
	for range n {
		j.Shards = append(j.Shards, PendingShard{Shard: d.fixed32(), Node: d.fixed32(), Size: d.varint()})
	}
	return j, d.err
}

// Journals lists up to limit journal entries (limit <= 0: all).
func (db *DB) Journals(limit int) ([]Journal, error) {
	return scan(db.pdb, []byte{prefixJournal}, nil, limit, decodeJournal)
}

// Journal is the journal entry of segment id as the batch sees it, or
// ErrNotFound.
func (b *Batch) Journal(id SegmentID) (Journal, error) {
	k := journalKey(id)
	return get(b.pb, k, func(v []byte) (Journal, error) { return decodeJournal(k, v) })
}

// PutJournal writes j, replacing the entry of its segment.
func (b *Batch) PutJournal(j Journal) error { return b.Set(journalKey(j.Segment), encodeJournal(j)) }

// DeleteJournal removes the entry of segment id.
func (b *Batch) DeleteJournal(id SegmentID) error { return b.Delete(journalKey(id)) }

func encodeRelease(r Release) []byte {
	e := newEncoder(releaseV1, 32)
	e.varint(r.Size)
	e.varint(r.Enqueued)
	e.varint(r.NotBefore)
	e.uvarint(uint64(r.Attempts))
	return e.b
}

func decodeRelease(key, v []byte) (Release, error) {
	var r Release
	if len(key) != 1+64 {
		return r, fmt.Errorf("%w: release key length %d", ErrCorrupt, len(key))
	}
	copy(r.Shard[:], key[1:33])
	copy(r.Node[:], key[33:])
	d := newDecoder(v, "release", releaseV1)
	r.Size = d.varint()
	r.Enqueued = d.varint()
	r.NotBefore = d.varint()
	r.Attempts = int(d.uvarint())
	return r, d.err
}

// Releases lists up to limit queued releases (limit <= 0: all) in (shard,
// node) order after the entry (shard, node) (both zero: from the first).
func (db *DB) Releases(shard, node [32]byte, limit int) ([]Release, error) {
	var after []byte
	if shard != [32]byte{} || node != [32]byte{} {
		after = releaseKey(shard, node)
	}
	return scan(db.pdb, []byte{prefixRelease}, after, limit, decodeRelease)
}

// Release is the queued release of shard on node as the batch sees it, or
// ErrNotFound.
func (b *Batch) Release(shard, node [32]byte) (Release, error) {
	k := releaseKey(shard, node)
	return get(b.pb, k, func(v []byte) (Release, error) { return decodeRelease(k, v) })
}

// PutRelease queues r, replacing any entry for the same shard and node.
func (b *Batch) PutRelease(r Release) error {
	return b.Set(releaseKey(r.Shard, r.Node), encodeRelease(r))
}

// DeleteRelease removes the entry of shard on node.
func (b *Batch) DeleteRelease(shard, node [32]byte) error { return b.Delete(releaseKey(shard, node)) }
