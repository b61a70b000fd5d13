package meta

import (
	"bytes"
	"fmt"
)

// UploadID names a multipart upload: 16 random bytes.
type UploadID [16]byte

// Upload is a multipart upload in progress.
type Upload struct {
	Bucket            string
	ID                UploadID
	Key               string
	Initiated         int64 // unix nanoseconds
	Meta              ObjectMeta
	ChecksumAlgorithm string
}

// Part is a stored part of a multipart upload.
type Part struct {
	Upload   UploadID
	Number   int
	Size     int64
	ETag     string // unquoted hex MD5
	Modified int64  // unix nanoseconds
	// ChecksumAlgorithm and ChecksumValue are the part's verified checksum.
	ChecksumAlgorithm, ChecksumValue string
	Segments                         []SegmentRef
}

const (
	uploadV1 = 1
	partV1   = 1
)

func encodeUpload(u Upload) []byte {
	e := newEncoder(uploadV1, 64+len(u.Key))
	e.bytes([]byte(u.Key))
	e.varint(u.Initiated)
	encodeMeta(e, u.Meta)
	e.bytes([]byte(u.ChecksumAlgorithm))
	return e.b
}

func decodeUpload(key, v []byte) (Upload, error) {
	var u Upload
	i := bytes.IndexByte(key, bucketSep)
	if len(key) < 2 || i < 0 || len(key)-i-1 != len(u.ID) {
		return u, fmt.Errorf("%w: upload key %x", ErrCorrupt, key)
	}
	u.Bucket = string(key[1:i])
	copy(u.ID[:], key[i+1:])
	d := newDecoder(v, "upload", uploadV1)
	u.Key = string(d.bytes())
	u.Initiated = d.varint()
	u.Meta = decodeMeta(d)
	u.ChecksumAlgorithm = string(d.bytes())
	return u, d.err
}

// Upload returns the upload id of bucket, or ErrNotFound.
func (db *DB) Upload(bucket string, id UploadID) (Upload, error) { return upload(db.pdb, bucket, id) }

// Upload is DB.Upload as the batch sees it.
func (b *Batch) Upload(bucket string, id UploadID) (Upload, error) { return upload(b.pb, bucket, id) }

func upload(r reader, bucket string, id UploadID) (Upload, error) {
	k := uploadKey(bucket, id)
	return get(r, k, func(v []byte) (Upload, error) { return decodeUpload(k, v) })
}

// Uploads lists the uploads in progress in bucket, by upload ID.
func (db *DB) Uploads(bucket string) ([]Upload, error) {
	return scan(db.pdb, uploadPrefix(bucket), nil, 0, decodeUpload)
}

// PutUpload writes u.
func (b *Batch) PutUpload(u Upload) error {
	if u.Bucket == "" {
		panic("meta: PutUpload without a bucket")
	}
	return b.Set(uploadKey(u.Bucket, u.ID), encodeUpload(u))
}

// DeleteUpload removes the upload record (not its parts).
func (b *Batch) DeleteUpload(bucket string, id UploadID) error {
	return b.Delete(uploadKey(bucket, id))
}

func encodePart(p Part) []byte {
	e := newEncoder(partV1, 64+len(p.Segments)*30)
	e.varint(p.Size)
	e.bytes([]byte(p.ETag))
	e.varint(p.Modified)
	e.bytes([]byte(p.ChecksumAlgorithm))
	e.bytes([]byte(p.ChecksumValue))
	encodeRefs(e, p.Segments)
	return e.b
}

func decodePart(key, v []byte) (Part, error) {
	var p Part
	if len(key) != 1+16+4 {
		return p, fmt.Errorf("%w: part key length %d", ErrCorrupt, len(key))
	}
	copy(p.Upload[:], key[1:17])
	p.Number = int(key[17])<<24 | int(key[18])<<16 | int(key[19])<<8 | int(key[20])
	d := newDecoder(v, "part", partV1)
	p.Size = d.varint()
	p.ETag = string(d.bytes())
	p.Modified = d.varint()
	p.ChecksumAlgorithm = string(d.bytes())
	p.ChecksumValue = string(d.bytes())
	p.Segments = decodeRefs(d)
	return p, d.err
}

// Part is the stored part number of upload id as the batch sees it, or
// ErrNotFound.
func (b *Batch) Part(id UploadID, number int) (Part, error) {
	k := partKey(id, number)
	return get(b.pb, k, func(v []byte) (Part, error) { return decodePart(k, v) })
}

// Parts lists the stored parts of upload id by part number.
func (db *DB) Parts(id UploadID) ([]Part, error) {
	return scan(db.pdb, partPrefix(id), nil, 0, decodePart)
}

// Parts is DB.Parts as the batch sees it.
func (b *Batch) Parts(id UploadID) ([]Part, error) {
	return scan(b.pb, partPrefix(id), nil, 0, decodePart)
}

// PutPart writes p, replacing any part with its number.
func (b *Batch) PutPart(p Part) error {
	if p.Number < 0 || p.Number > 1<<31-1 {
		panic(fmt.Sprintf("meta: part number %d", p.Number))
	}
	return b.Set(partKey(p.Upload, p.Number), encodePart(p))
}

// DeletePart removes part number of upload id.
func (b *Batch) DeletePart(id UploadID, number int) error { return b.Delete(partKey(id, number)) }
