package meta

// Key prefixes of the gateway's entities. The owner's catalog is under
// uppercase bytes (see keys.go); the journal and the release queue are
// local bookkeeping, lowercase: after a restore, uploads in flight and
// releases pending on the lost machine are orphans whose leases lapse.
const (
	prefixBucket         byte = 'B' // B | bucket                      -> bucket
	prefixCatalogCounter byte = 'C' // C | name                        -> counter ("gateway/...")
	prefixSegment        byte = 'M' // M | segment(24)                 -> segment manifest
	prefixObject         byte = 'O' // O | bucket | 0x00 | key         -> object
	prefixPart           byte = 'Q' // Q | upload(16) | part(4)        -> stored part
	prefixUpload         byte = 'U' // U | bucket | 0x00 | upload(16)  -> multipart upload
	// 'K' (backup.go): the segments holding catalog backups.
	prefixJournal byte = 'j' // j | segment(24)                 -> shards sent, not committed
	prefixRelease byte = 'd' // d | shard(32) | node(32)        -> shard to delete
)

// catalogCounterPrefix starts the names of the counters kept in the
// catalog (prefixCatalogCounter).
const catalogCounterPrefix = "gateway/"

// The owner's catalog is every key from CatalogStart (inclusive) to
// CatalogEnd (exclusive): the keys whose first byte is an uppercase
// letter.
const (
	CatalogStart byte = 'A'
	CatalogEnd   byte = 'Z' + 1
)

// IsCatalogKey reports whether key belongs to the owner's catalog.
func IsCatalogKey(key []byte) bool {
	return len(key) > 0 && key[0] >= CatalogStart && key[0] < CatalogEnd
}

// Bucket names never contain 0x00 (S3 names are [a-z0-9.-]), so the
// separator keeps every bucket's keys contiguous and in byte order.
const bucketSep = 0x00

func bucketKey(name string) []byte {
	k := make([]byte, 1+len(name))
	k[0] = prefixBucket
	copy(k[1:], name)
	return k
}

// objectPrefix is o | bucket | 0x00: every object of the bucket.
func objectPrefix(bucket string) []byte {
	k := make([]byte, 0, 2+len(bucket))
	k = append(k, prefixObject)
	k = append(k, bucket...)
	return append(k, bucketSep)
}

func objectKey(bucket, key string) []byte {
	return append(objectPrefix(bucket), key...)
}

func segmentKey(id SegmentID) []byte {
	k := make([]byte, 1+len(id))
	k[0] = prefixSegment
	copy(k[1:], id[:])
	return k
}

func uploadPrefix(bucket string) []byte {
	k := make([]byte, 0, 2+len(bucket)+16)
	k = append(k, prefixUpload)
	k = append(k, bucket...)
	return append(k, bucketSep)
}

func uploadKey(bucket string, id UploadID) []byte {
	return append(uploadPrefix(bucket), id[:]...)
}

func partPrefix(id UploadID) []byte {
	k := make([]byte, 0, 1+16+4)
	k = append(k, prefixPart)
	return append(k, id[:]...)
}

func partKey(id UploadID, number int) []byte {
	k := partPrefix(id)
	return append(k, byte(number>>24), byte(number>>16), byte(number>>8), byte(number))
}

func journalKey(id SegmentID) []byte {
	k := make([]byte, 1+len(id))
	k[0] = prefixJournal
	copy(k[1:], id[:])
	return k
}

func releaseKey(shard, node [32]byte) []byte {
	k := make([]byte, 1+64)
	k[0] = prefixRelease
	copy(k[1:], shard[:])
	copy(k[33:], node[:])
	return k
}
