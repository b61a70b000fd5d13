package meta

import (
	"errors"
	"fmt"
)

// Counters kept by the gateway, updated in the batches that change what
// they count.
const (
	// CounterStoredBytes is the size of every stored shard of every live
	// segment: the owner's use of the network after erasure expansion.
	CounterStoredBytes = "gateway/stored_bytes"
	// CounterInlineBytes is the size of the sealed content of every inline
	// object (Object.Inline): what the owner stores in the catalog itself,
	// counted once (the catalog backup's own copies are its to count).
	CounterInlineBytes = "gateway/inline_bytes"
	// CounterObjects is the number of objects.
	CounterObjects = "gateway/objects"
	// CounterLogicalBytes is the total size of the objects as clients see it.
	CounterLogicalBytes = "gateway/logical_bytes"
)

// Bucket is an S3 bucket of the local gateway.
type Bucket struct {
	Name    string
	Created int64 // unix nanoseconds
}

const bucketV1 = 1

func encodeBucket(b Bucket) []byte {
	e := newEncoder(bucketV1, 10)
	e.varint(b.Created)
	return e.b
}

func decodeBucket(key, v []byte) (Bucket, error) {
	b := Bucket{Name: string(key[1:])}
	d := newDecoder(v, "bucket", bucketV1)
	b.Created = d.varint()
	return b, d.err
}

// Bucket returns the named bucket, or ErrNotFound.
func (db *DB) Bucket(name string) (Bucket, error) { return bucket(db.pdb, name) }

// Bucket is DB.Bucket as the batch sees it.
func (b *Batch) Bucket(name string) (Bucket, error) { return bucket(b.pb, name) }

func bucket(r reader, name string) (Bucket, error) {
	k := bucketKey(name)
	return get(r, k, func(v []byte) (Bucket, error) { return decodeBucket(k, v) })
}

// Buckets lists every bucket in name order.
func (db *DB) Buckets() ([]Bucket, error) {
	return scan(db.pdb, []byte{prefixBucket}, nil, 0, decodeBucket)
}

// PutBucket writes bk, replacing any bucket of the same name.
func (b *Batch) PutBucket(bk Bucket) error {
	if bk.Name == "" {
		panic("meta: PutBucket without a name")
	}
	return b.Set(bucketKey(bk.Name), encodeBucket(bk))
}

// DeleteBucket removes the bucket record (not its objects: check
// BucketEmpty first).
func (b *Batch) DeleteBucket(name string) error { return b.Delete(bucketKey(name)) }

// errStop ends a scan early.
var errStop = errors.New("meta: stop scan")

// BucketEmpty reports whether the bucket holds no object and no multipart
// upload, as the batch sees it.
func (b *Batch) BucketEmpty(name string) (bool, error) {
	for _, p := range [][]byte{objectPrefix(name), uploadPrefix(name)} {
		err := b.Scan(p, nil, 1, func(_, _ []byte) error { return errStop })
		if errors.Is(err, errStop) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("meta: bucket %s empty: %w", name, err)
		}
	}
	return true, nil
}
