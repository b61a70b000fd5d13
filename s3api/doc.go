// Package s3api speaks the S3 wire protocol over a Backend. It knows
// nothing of shards, peers or catalogs: NewHandler turns HTTP requests into
// Backend calls and Backend results (or errors) into S3 responses.
//
// # Layout
//
//	handler.go            NewHandler, Config, the routing table, the request-ID,
//	                      authentication and addressing middleware, the error writer
//	handlers_bucket.go    ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
//	                      GetBucketLocation
//	handlers_list.go      ListObjects v1/v2, ListMultipartUploads, ListParts
//	handlers_object.go    PutObject, GetObject, HeadObject, DeleteObject(s)
//	handlers_copy.go      CopyObject, UploadPartCopy
//	handlers_multipart.go CreateMultipartUpload, UploadPart, Complete, Abort
//	backend.go            the Backend interface and its input/output types
//	listing.go            ListPage (S3 listing semantics over an ObjectIterator),
//	                      encoding-type=url, continuation tokens
//	multipart.go          CompleteParts and MultipartETag
//	metadata.go           object metadata headers, CheckUserMetadata
//	ranges.go             Range and x-amz-copy-source-range
//	conditional.go        If-Match, If-None-Match, If-(Un)Modified-Since
//	names.go              bucket name and key rules
//	xml.go                request and response documents
//	errors.go             the one *Error type and the Err* codes
//	auth.go, sigv4.go, presign.go, chunked.go, checksum.go, credentials.go
//	                      SigV4 in every form and payload integrity
//	unsigned.go           the refusal of x-amz-* headers the signature does
//	                      not cover
//
// # Requests
//
// Every request passes, in order: the request-ID middleware (x-amz-request-id
// and x-amz-id-2 on every response), authentication (SigV4 checked on the
// request exactly as received, unsigned x-amz-* headers refused, see below;
// the verified body, whose integrity checks are settled when it ends, goes
// into the request context), addressing
// (virtual-host "bucket.BaseDomain" becomes path style, "/bucket/" becomes
// "/bucket") and the gorilla/mux routing table, which selects the operation
// by method, path level (service, bucket, object), the query parameters that
// name a subresource (uploads, uploadId, partNumber, delete, location,
// list-type) and x-amz-copy-source. Operations return errors; one writer turns
// an *Error into the S3 XML document (status only for HEAD) and anything else
// into a logged InternalError.
//
// A query parameter no operation understands (?acl, ?policy, ?versioning,
// ?tagging, ?lifecycle, ?cors, ...) is NotImplemented on every method, as are
// headers asking for features the gateway lacks (ACL grants, server-side
// encryption, tagging, object lock, conditional writes), so nothing is ever
// silently dropped. An unknown method is MethodNotAllowed.
//
// # Signed headers
//
// Nothing unsigned is obeyed. As S3 does, every x-amz-* header present in a
// request must be covered by its signature: named in SignedHeaders (for a
// presigned URL, X-Amz-SignedHeaders). Otherwise the request is refused,
// after the signature has verified and before any handler runs, with 403
// AccessDenied "There were headers present in the request which were not
// signed" and a HeadersNotSigned element naming them; nothing is stored,
// copied or read. Without this, whoever holds a presigned upload URL could
// add x-amz-copy-source and copy any object into its key, or add metadata,
// checksums, a storage class, tagging or ACL headers. The rule is on the
// prefix, so it covers every header a handler reads (x-amz-copy-source and
// its -if-* and -range, x-amz-meta-*, x-amz-metadata-directive,
// x-amz-checksum-*, x-amz-sdk-checksum-algorithm, x-amz-checksum-algorithm,
// x-amz-checksum-mode, x-amz-trailer, x-amz-decoded-content-length,
// x-amz-storage-class, x-amz-acl, x-amz-grant-*, x-amz-tagging,
// x-amz-server-side-encryption*, x-amz-object-lock-*,
// x-amz-website-redirect-location, x-amz-write-offset-bytes,
// x-amz-bucket-object-lock-enabled) and any a handler learns to read later;
// x-amz-security-token too. Three may stay out of SignedHeaders because the
// signature binds their value another way: x-amz-content-sha256 equal to
// the payload hash the signature covers, x-amz-date equal to the signing
// time in the string to sign, and any x-amz-* header with the same name and
// value as a query parameter (the query string is signed whole). Headers
// outside x-amz-* (User-Agent, X-Amzn-Trace-Id, amz-sdk-*, Content-Type,
// which minio-go leaves unsigned) are not covered, as with S3. See
// unsigned.go.
//
// # Supported operations
//
// ListBuckets, CreateBucket (optional LocationConstraint, canned ACL private),
// HeadBucket, DeleteBucket, GetBucketLocation, ListObjects and ListObjectsV2
// (prefix, delimiter, max-keys, marker, continuation-token, start-after,
// encoding-type=url, fetch-owner), PutObject, GetObject and HeadObject (Range,
// partNumber, conditional headers, response-* overrides, checksum mode),
// DeleteObject, DeleteObjects, CopyObject (COPY/REPLACE, copy-source
// conditions), CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts and
// ListMultipartUploads.
//
// # The Backend contract
//
// The Backend takes validated names and streamed bodies and returns *Error
// values for the S3 errors it decides (ErrNoSuchBucket, ErrNoSuchKey,
// ErrBucketNotEmpty, ErrNoSuchUpload, ErrQuotaExceeded,
// ErrServiceUnavailable...). GetObject returns an object's information and a
// way to open a byte range, so conditions and ranges are settled before any
// data is fetched. PutObject and UploadPart read their body to io.EOF before
// committing; a body that fails an integrity check returns the *Error instead
// of io.EOF, and the Backend returns it and stores nothing. The S3 rules that
// every Backend would otherwise repeat are exported here: ListPage for
// listings, CompleteParts and MultipartETag for multipart completion,
// CheckUserMetadata, ValidBucketName. See Backend for the details.
package s3api
