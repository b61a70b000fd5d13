package meta

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// SegmentID names a stored segment: 16 random bytes of the upload call
// that stored it, then its segment number (big-endian), so the segments of
// one upload sit together in the catalog.
type SegmentID [24]byte

// SegmentRef is an object's (or part's) reference to a segment and the
// number of plaintext bytes it holds.
type SegmentRef struct {
	ID   SegmentID
	Size int64
}

// ObjectMeta is what a client set on an object besides its bytes.
type ObjectMeta struct {
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string
	User               map[string]string // x-amz-meta-*, names without the prefix
}

// Object is an object's manifest. The listing fields (Size, ETag,
// Modified) come first in the record, so listings decode only them.
type Object struct {
	Bucket, Key string
	Size        int64
	ETag        string // unquoted
	Modified    int64  // unix nanoseconds
	Meta        ObjectMeta
	// ChecksumAlgorithm and ChecksumValue are the whole-object checksum
	// sent with a single PUT, if any.
	ChecksumAlgorithm, ChecksumValue string
	PartSizes                        []int64 // multipart objects only
	Segments                         []SegmentRef
	// Inline, when set, holds the object's content in this record instead
	// of Segments (which are then empty).
	Inline *InlineContent
}

// InlineContent is the content of a small object kept in its catalog
// record (not to be confused with the inline shards a node keeps for
// others): sealed as a segment would be (shard.SegmentCipher with Object,
// segment number 0 and Salt) under the object's data key, which is
// wrapped with the owner's key as in segment records.
type InlineContent struct {
	Object     [16]byte // shard.SegmentContext.Object
	Salt       [16]byte // shard.SegmentContext.Salt
	BlockSize  int      // AEAD block size of the sealing
	WrappedKey []byte
	Sealed     []byte
}

// ObjectListing is the part of an object that a listing shows.
type ObjectListing struct {
	Key      string
	Size     int64
	ETag     string
	Modified int64
}

// Object record versions. Version 2 is version 1 followed by the inline
// section (InlineContent); an object without one is still written as
// version 1, byte for byte as before, so only inline objects need a
// reader that knows version 2.
const (
	objectV1 = 1
	objectV2 = 2
)

func encodeMeta(e *encoder, m ObjectMeta) {
	for _, s := range []string{m.ContentType, m.ContentEncoding, m.ContentDisposition,
		m.ContentLanguage, m.CacheControl, m.Expires} {
		e.bytes([]byte(s))
	}
	e.uvarint(uint64(len(m.User)))
	for _, k := range slices.Sorted(maps.Keys(m.User)) {
		e.bytes([]byte(k))
		e.bytes([]byte(m.User[k]))
	}
}

func decodeMeta(d *decoder) ObjectMeta {
	var m ObjectMeta
	for _, s := range []*string{&m.ContentType, &m.ContentEncoding, &m.ContentDisposition,
		&m.ContentLanguage, &m.CacheControl, &m.Expires} {
		*s = string(d.bytes())
	}
	if n := d.count(2); n > 0 {
		m.User = make(map[string]string, n)
		for range n {
			k := string(d.bytes())
			m.User[k] = string(d.bytes())
		}
	}
	return m
}

func encodeRefs(e *encoder, refs []SegmentRef) {
	e.uvarint(uint64(len(refs)))
	for _, r := range refs {
		e.b = append(e.b, r.ID[:]...)
		e.varint(r.Size)
	}
}

func decodeRefs(d *decoder) []SegmentRef {
	n := d.count(25)
	refs := make([]SegmentRef, 0, n)
	for range n {
		var r SegmentRef
		if d.err != nil || len(d.b) < len(r.ID) {
			d.fail("segment ref")
			return nil
		}
		copy(r.ID[:], d.b)
		d.b = d.b[len(r.ID):]
		r.Size = d.varint()
		refs = append(refs, r)
	}
	return refs
}

func encodeObject(o Object) []byte {
	version, hint := byte(objectV1), 64+len(o.ETag)+len(o.Segments)*30
	if o.Inline != nil {
		version, hint = objectV2, hint+40+len(o.Inline.WrappedKey)+len(o.Inline.Sealed)
	}
	e := newEncoder(version, hint)
	e.varint(o.Size)
	e.bytes([]byte(o.ETag))
	e.varint(o.Modified)
	encodeMeta(e, o.Meta)
	e.bytes([]byte(o.ChecksumAlgorithm))
	e.bytes([]byte(o.ChecksumValue))
	e.uvarint(uint64(len(o.PartSizes)))
	for _, s := range o.PartSizes {
		e.varint(s)
	}
	encodeRefs(e, o.Segments)
	if in := o.Inline; in != nil {
		e.b = append(e.b, in.Object[:]...)
		e.b = append(e.b, in.Salt[:]...)
		e.uvarint(uint64(in.BlockSize))
		e.bytes(in.WrappedKey)
		e.bytes(in.Sealed)
	}
	return e.b
}

func decodeInlineContent(d *decoder) *InlineContent {
	var in InlineContent
	if d.err != nil || len(d.b) < len(in.Object)+len(in.Salt) {
		d.fail("inline object")
		return nil
	}
	copy(in.Object[:], d.b)
	copy(in.Salt[:], d.b[len(in.Object):])
	d.b = d.b[len(in.Object)+len(in.Salt):]
	in.BlockSize = int(min(d.uvarint(), 1<<31))
	in.WrappedKey = d.bytes()
	in.Sealed = d.bytes()
	if d.err != nil {
		return nil
	}
	return &in
}

// splitObjectKey returns the bucket and object key of an object key.
func splitObjectKey(k []byte) (string, string, error) {
	i := bytes.IndexByte(k, bucketSep)
	if len(k) < 2 || k[0] != prefixObject || i < 0 {
		return "", "", fmt.Errorf("%w: object key %x", ErrCorrupt, k)
	}
	return string(k[1:i]), string(k[i+1:]), nil
}

func decodeObject(key, v []byte) (Object, error) {
	var o Object
	var err error
	if o.Bucket, o.Key, err = splitObjectKey(key); err != nil {
		return o, err
	}
	d := newDecoder(v, "object", objectV2)
	o.Size = d.varint()
	o.ETag = string(d.bytes())
	o.Modified = d.varint()
	o.Meta = decodeMeta(d)
	o.ChecksumAlgorithm = string(d.bytes())
	o.ChecksumValue = string(d.bytes())
	if n := d.count(1); n > 0 {
		o.PartSizes = make([]int64, n)
		for i := range o.PartSizes {
			o.PartSizes[i] = d.varint()
		}
	}
	o.Segments = decodeRefs(d)
	if d.version >= objectV2 {
		o.Inline = decodeInlineContent(d)
	}
	return o, d.err
}

// decodeListing reads only the listing fields of an object record.
func decodeListing(keyInBucket, v []byte) (ObjectListing, error) {
	l := ObjectListing{Key: string(keyInBucket)}
	d := newDecoder(v, "object", objectV2)
	l.Size = d.varint()
	l.ETag = string(d.bytes())
	l.Modified = d.varint()
	return l, d.err
}

// Object returns the object bucket/key, or ErrNotFound.
func (db *DB) Object(bucket, key string) (Object, error) { return object(db.pdb, bucket, key) }

// Object is DB.Object as the batch sees it.
func (b *Batch) Object(bucket, key string) (Object, error) { return object(b.pb, bucket, key) }

func object(r reader, bucket, key string) (Object, error) {
	k := objectKey(bucket, key)
	return get(r, k, func(v []byte) (Object, error) { return decodeObject(k, v) })
}

// PutObject writes o, replacing any object of the same bucket and key.
func (b *Batch) PutObject(o Object) error {
	if o.Bucket == "" {
		panic("meta: PutObject without a bucket")
	}
	return b.Set(objectKey(o.Bucket, o.Key), encodeObject(o))
}

// DeleteObject removes the object record bucket/key.
func (b *Batch) DeleteObject(bucket, key string) error { return b.Delete(objectKey(bucket, key)) }

// ObjectIter walks a bucket's objects in byte order of their keys over a
// consistent snapshot, decoding only the listing fields. Close it.
type ObjectIter struct {
	it     *pebble.Iterator
	prefix []byte
	cur    ObjectListing
	err    error
}

// Objects returns an iterator over the objects of bucket. It is positioned
// nowhere: call SeekGE first.
func (db *DB) Objects(bucket string) (*ObjectIter, error) {
	p := objectPrefix(bucket)
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("meta: iterate objects of %s: %w", bucket, err)
	}
	return &ObjectIter{it: it, prefix: p}, nil
}

// SeekGE moves to the first object whose key is >= key and reports
// whether there is one.
func (o *ObjectIter) SeekGE(key string) bool {
	k := make([]byte, 0, len(o.prefix)+len(key))
	k = append(append(k, o.prefix...), key...)
	return o.load(o.it.SeekGE(k))
}

// Next moves to the following object and reports whether there is one.
func (o *ObjectIter) Next() bool { return o.load(o.it.Next()) }

func (o *ObjectIter) load(ok bool) bool {
	if !ok || o.err != nil {
		return false
	}
	v, err := o.it.ValueAndErr()
	if err != nil {
		o.err = fmt.Errorf("meta: iterate objects: %w", err)
		return false
	}
	l, err := decodeListing(o.it.Key()[len(o.prefix):], v)
	if err != nil {
		o.err = fmt.Errorf("meta: decode %x: %w", o.it.Key(), err)
		return false
	}
	o.cur = l
	return true
}

// Listing returns the current object; valid after SeekGE or Next returned
// true.
func (o *ObjectIter) Listing() ObjectListing { return o.cur }

// Err reports a failure that ended the iteration early.
func (o *ObjectIter) Err() error {
	if o.err != nil {
		return o.err
	}
	if err := o.it.Error(); err != nil {
		return fmt.Errorf("meta: iterate objects: %w", err)
	}
	return nil
}

// Close releases the iterator.
func (o *ObjectIter) Close() error {
	if err := o.it.Close(); err != nil {
		return fmt.Errorf("meta: close object iterator: %w", err)
	}
	return nil
}
