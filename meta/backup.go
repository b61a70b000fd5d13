package meta

import "fmt"

// What the catalog backup keeps in the catalog and beside it.
const (
	// prefixBackupBlob indexes the segments that hold catalog backups
	// (snapshots, log chunks, indexes): catalog keys, so a restored
	// catalog knows the old backups to drop.
	prefixBackupBlob byte = 'K' // K | segment(24) -> (empty)
	// prefixLocalValue holds small values of this machine's own (the
	// backup's state), never backed up.
	prefixLocalValue byte = 'v' // v | name -> value
)

func backupBlobKey(id SegmentID) []byte {
	return append([]byte{prefixBackupBlob}, id[:]...)
}

// PutBackupBlob records that segment id holds a catalog backup.
func (b *Batch) PutBackupBlob(id SegmentID) error { return b.Set(backupBlobKey(id), nil) }

// DeleteBackupBlob forgets that segment id holds a catalog backup.
func (b *Batch) DeleteBackupBlob(id SegmentID) error { return b.Delete(backupBlobKey(id)) }

// BackupBlobs lists the segments recorded as holding catalog backups.
func (db *DB) BackupBlobs() ([]SegmentID, error) {
	return scan(db.pdb, []byte{prefixBackupBlob}, nil, 0, func(k, _ []byte) (SegmentID, error) {
		var id SegmentID
		if len(k) != 1+len(id) {
			return id, fmt.Errorf("%w: backup blob key length %d", ErrCorrupt, len(k))
		}
		copy(id[:], k[1:])
		return id, nil
	})
}

func localValueKey(name string) []byte { return append([]byte{prefixLocalValue}, name...) }

// LocalValue returns the named local value, or ErrNotFound.
func (db *DB) LocalValue(name string) ([]byte, error) { return getRaw(db.pdb, localValueKey(name)) }

// SetLocalValue sets the named local value.
func (b *Batch) SetLocalValue(name string, v []byte) error { return b.Set(localValueKey(name), v) }

// EncodeSegment is the catalog's encoding of a segment record, without
// its ID; DecodeSegment reverses it. The catalog backup puts the records
// of its own segments in root pointers with it.
func EncodeSegment(s Segment) []byte { return encodeSegment(s) }

// DecodeSegment decodes a record of EncodeSegment as segment id.
func DecodeSegment(id SegmentID, v []byte) (Segment, error) { return decodeSegment(segmentKey(id), v) }
