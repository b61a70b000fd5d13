package s3api

import (
	"context"
	"encoding/hex"
	"io"
	"time"
)

// Backend stores buckets and objects for the S3 handler. It is the only
// thing the handlers depend on; the gateway implements it over the network,
// the tests over a map.
//
// Contract, for every method:
//   - Errors meant for the client are *Error values (usually the Err*
//     templates of this package, or copies made with WithMessage): a missing
//     bucket is ErrNoSuchBucket, a missing object ErrNoSuchKey, an unknown or
//     finished upload ErrNoSuchUpload, a full node ErrQuotaExceeded, too few
//     reachable peers ErrServiceUnavailable or ErrSlowDown. Any other error
//     becomes InternalError for the client and is logged with the request ID.
//   - Bucket names and keys reach the Backend already validated
//     (ValidBucketName, at most MaxKeyLength bytes of UTF-8). Keys are opaque
//     byte strings: "a/../b", "a//b" and "%" are ordinary keys.
//   - Every method that orders things orders keys by their bytes.
//   - ETags are stored and returned WITHOUT quotes: the lowercase hex MD5 of
//     the content for single uploads, MultipartETag for completed multipart
//     uploads. The Backend computes them; the handler quotes them.
//   - Bodies stream. A Backend never needs an object in memory.
type Backend interface {
	// ListBuckets returns every bucket, sorted by name.
	ListBuckets(ctx context.Context) ([]BucketInfo, error)
	// CreateBucket makes an empty bucket; ErrBucketAlreadyOwnedByYou if it
	// exists.
	CreateBucket(ctx context.Context, bucket string) error
	// HeadBucket returns nil if the bucket exists, else ErrNoSuchBucket.
	HeadBucket(ctx context.Context, bucket string) error
	// DeleteBucket removes an empty bucket; ErrBucketNotEmpty if it still
	// holds objects or multipart uploads in progress.
	DeleteBucket(ctx context.Context, bucket string) error

	// ListObjects returns one page of a bucket's objects. Implementations
	// normally call ListPage over an iterator of their index, which applies
	// Prefix, Delimiter, After and MaxKeys exactly as S3 does.
	ListObjects(ctx context.Context, in ListObjectsInput) (ListObjectsOutput, error)

	// GetObject returns the object's information WITHOUT fetching any data;
	// the handler evaluates conditional headers and the Range against it and
	// then calls Object.Open for the bytes it needs (HEAD never does). The
	// Object is a snapshot: Open reads the version that GetObject found even
	// if the key is overwritten or deleted meanwhile.
	GetObject(ctx context.Context, bucket, key string) (*Object, error)

	// PutObject stores an object. It must fail with ErrNoSuchBucket before
	// reading Body when the bucket is absent, then read Body to io.EOF and
	// only then commit: if Body returns an error instead of io.EOF (an
	// integrity failure is an *Error such as BadDigest), PutObject returns
	// that error and nothing becomes visible. in.Size is exact, or -1 when
	// the client sent no length (Transfer-Encoding: chunked): then Body
	// ends after at most the handler's MaxObjectSize bytes (more is
	// EntityTooLarge from Body), and a Backend that must hold no object in
	// memory reads it a piece at a time. in.ContentMD5, when set, must be
	// checked with CheckContentMD5 against the body's MD5 (the ETag)
	// before the commit.
	PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error)

	// CopyObject copies an object (the gateway copies its manifest, not its
	// bytes). Before copying it must call in.Check with the source's
	// information, atomically with the copy, and return its error if any.
	// A nil in.Meta keeps the source's metadata; otherwise in.Meta replaces it.
	// The copy keeps the source's ETag, size and checksum and gets a new
	// LastModified, which CopyObject returns with the rest of its information.
	CopyObject(ctx context.Context, in CopyObjectInput) (ObjectInfo, error)

	// DeleteObject removes an object. Deleting an absent key is not an
	// error; an absent bucket is ErrNoSuchBucket.
	DeleteObject(ctx context.Context, bucket, key string) error
	// DeleteObjects removes up to 1000 keys at once (one catalog batch) and
	// returns one error per key, in order: nil for deleted or absent. The
	// second result is for failures of the whole request (ErrNoSuchBucket).
	DeleteObjects(ctx context.Context, bucket string, keys []string) ([]error, error)

	// CreateMultipartUpload starts an upload and returns its ID, an opaque
	// string unique within the bucket.
	CreateMultipartUpload(ctx context.Context, in CreateMultipartUploadInput) (string, error)
	// UploadPart stores one part, replacing any earlier part with the same
	// number. Like PutObject it fails fast (ErrNoSuchBucket, ErrNoSuchUpload)
	// before reading Body, then reads Body to io.EOF before committing, and
	// Size and ContentMD5 are as in PutObject. The
	// upload must belong to in.Bucket and in.Key, else ErrNoSuchUpload.
	UploadPart(ctx context.Context, in UploadPartInput) (PartInfo, error)
	// CompleteMultipartUpload assembles the listed parts into the object.
	// Implementations call CompleteParts with the stored parts, atomically
	// with the commit, which checks the list (InvalidPart, InvalidPartOrder,
	// EntityTooSmall) and gives the ETag; unlisted parts are discarded and
	// the upload ends. A retry of a Complete that succeeded (same upload
	// ID and part list; the client lost the answer) returns the object it
	// made, unchanged, for as long as that object stands; after that the
	// upload is ErrNoSuchUpload.
	CompleteMultipartUpload(ctx context.Context, in CompleteMultipartUploadInput) (ObjectInfo, error)
	// AbortMultipartUpload discards an upload and its parts; ErrNoSuchUpload
	// if it does not exist (or belongs to another key).
	AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error
	// ListParts returns the upload and all its stored parts sorted by number
	// (at most 10,000); the handler paginates.
	ListParts(ctx context.Context, bucket, key, uploadID string) (UploadInfo, []PartInfo, error)
	// ListMultipartUploads returns the uploads in progress whose key has the
	// prefix, in any order; the handler sorts and paginates.
	ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]UploadInfo, error)
}

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name    string
	Created time.Time
}

// ObjectMeta is what a client sets on an object besides its bytes.
type ObjectMeta struct {
	ContentType        string
	ContentEncoding    string // never contains "aws-chunked"
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Expires            string // as sent; S3 does not parse it
	// User holds x-amz-meta-* headers: lower-case names without the prefix.
	User map[string]string
}

// Checksum is a verified x-amz-checksum-* value.
type Checksum struct {
	Algorithm string // "CRC32", "CRC32C", "SHA1", "SHA256", or "" for none
	Value     string // base64, as on the wire
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string // unquoted
	LastModified time.Time
	Meta         ObjectMeta
	// Checksum is the whole-object checksum sent with a single PUT, if any.
	Checksum Checksum
	// PartSizes lists the part sizes of an object made by multipart upload,
	// in order; nil for a single PUT. Listings need not fill it.
	PartSizes []int64
}

// Object is an object found by GetObject: its information and a way to
// read a byte range of it.
type Object struct {
	ObjectInfo
	// Open returns length bytes starting at offset (already checked against
	// Size); the caller closes it. A read error mid-stream is returned by
	// the reader's Read.
	Open func(ctx context.Context, offset, length int64) (io.ReadCloser, error)
}

// PutObjectInput is a single-PUT upload.
type PutObjectInput struct {
	Bucket, Key string
	Meta        ObjectMeta
	// Body yields exactly Size bytes then io.EOF, or an *Error instead of
	// io.EOF when the upload failed an integrity check.
	Body io.Reader
	Size int64 // -1: unknown (see Backend.PutObject)
	// ContentMD5 is the digest the client sent in Content-MD5, or nil. The
	// handler does not hash the body with MD5: the Backend, which does for
	// the ETag, checks it (CheckContentMD5) before committing.
	ContentMD5 []byte
	// Checksum returns the verified checksum to store with the object. It
	// is valid only after Body returned io.EOF. Never nil.
	Checksum func() Checksum
}

// PutObjectOutput is the result of PutObject.
type PutObjectOutput struct {
	ETag         string // unquoted
	LastModified time.Time
}

// CopyObjectInput is a server-side copy.
type CopyObjectInput struct {
	SrcBucket, SrcKey string
	Bucket, Key       string
	// Meta replaces the source's metadata when non-nil (directive REPLACE).
	Meta *ObjectMeta
	// Check validates the source (copy-source conditions) and is called by
	// the Backend before copying. Never nil.
	Check func(src ObjectInfo) error
}

// CreateMultipartUploadInput starts a multipart upload.
type CreateMultipartUploadInput struct {
	Bucket, Key string
	Meta        ObjectMeta
	// ChecksumAlgorithm is the x-amz-checksum-algorithm the client declared
	// for its parts, or "".
	ChecksumAlgorithm string
}

// UploadPartInput is one part of a multipart upload.
type UploadPartInput struct {
	Bucket, Key, UploadID string
	PartNumber            int // 1..10000
	Body                  io.Reader
	Size                  int64           // as in PutObjectInput
	ContentMD5            []byte          // as in PutObjectInput
	Checksum              func() Checksum // as in PutObjectInput
}

// PartInfo describes a stored part.
type PartInfo struct {
	PartNumber   int
	Size         int64
	ETag         string // unquoted hex MD5 of the part
	LastModified time.Time
	Checksum     Checksum
}

// CompletedPart is one entry of a CompleteMultipartUpload request.
type CompletedPart struct {
	PartNumber int
	ETag       string // as sent by the client, quotes allowed
}

// CompleteMultipartUploadInput finishes an upload.
type CompleteMultipartUploadInput struct {
	Bucket, Key, UploadID string
	Parts                 []CompletedPart // as sent; see CompleteParts
}

// UploadInfo describes a multipart upload in progress.
type UploadInfo struct {
	Key               string
	UploadID          string
	Initiated         time.Time
	Meta              ObjectMeta
	ChecksumAlgorithm string
}

// ListObjectsInput asks for one page of a bucket listing.
type ListObjectsInput struct {
	Bucket    string
	Prefix    string
	Delimiter string
	// After is exclusive: the page starts after this key. When After is a
	// common prefix (ends with Delimiter right after Prefix), the page starts
	// after every key under it.
	After   string
	MaxKeys int // 0..1000
}

// ListObjectsOutput is one page of a listing, in byte order.
type ListObjectsOutput struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextAfter is the last key or common prefix returned; the next page
	// starts after it. Empty if nothing was returned.
	NextAfter string
}

// CheckContentMD5 returns BadDigest unless want (a Content-MD5 digest, nil
// for none) is the MD5 whose lowercase hex is md5Hex.
func CheckContentMD5(want []byte, md5Hex string) error {
	if want == nil || hex.EncodeToString(want) == md5Hex {
		return nil
	}
	return ErrBadDigest.WithMessage("The Content-MD5 you specified did not match what we received.")
}
