// Package gateway stores S3 objects on the Ishtar network: it implements
// s3api.Backend over the local catalog (meta) and a segment store
// (gateway/segstore), which keeps segments on the storage peers of a
// segstore.Directory. The gateway keeps what is S3 and the catalog:
// objects, buckets, multipart uploads, ETags, the quota, segment
// references, the upload journal and the release queue. Shards, peers,
// receipts and everything that verifies what a peer returns are
// segstore's.
//
// # Upload
//
// A body streams in segments of Config.SegmentSize. Each segment is read
// into a pooled buffer (the store's), hashed (MD5, for the ETag) while it
// is sealed (shard.SegmentCipher under the object's random data key,
// wrapped with the owner's key and kept in every segment record), and
// handed to the segment store, which encodes it in place, places its N
// shards on N distinct peers, and returns the shard records with checked
// receipts (segstore.Store.Put). The next segment is read while the
// previous ones are stored; a weighted semaphore bounds the segments in
// flight across all requests, uploads and reads, so memory grows with
// SegmentSize x Concurrency, never with object size. A body of unknown
// size (Transfer-Encoding: chunked, Size -1) is read the same way, a
// segment at a time until it ends, with the quota reserved for each
// segment before it is read. The Content-MD5 digest the handler passes
// on is checked against the MD5 computed for the ETag before the commit
// (BadDigest), so the body is hashed with MD5 once.
//
// An upload's segments share one code, chosen as it starts: Config.Params
// (10 of 30 by default) while the segment store counts at least N places
// with room for its shards (address blocks with AddressDiversity;
// segstore.Store.Groups), Config.Fallback (3 of 5) otherwise. Each
// segment record keeps its K and N, which reads, audits and repairs use.
//
// Before a segment's shards are sent, a journal entry names them (the
// store calls back before it sends any, and before each retry on another
// peer). The commit is one synced catalog batch: the object (or part)
// record, its segments, the removal of the journal entries, the
// references dropped from a replaced object and the quota counter. Only
// then is the object visible. Journal entries left by a crash are
// orphans: New queues them for release and Run deletes them.
//
// # Inline objects
//
// A single PUT of at most Config.InlineMax bytes (0: none) asks no peer.
// Its declared size decides, before the body is read, so no more than
// InlineMax bytes are held (a body of unknown size is read up to
// InlineMax+1 bytes to decide); the body is sealed as a segment would be
// (shard.SegmentCipher, segment number 0, a new data key wrapped with the
// owner's key) and the sealed bytes are kept in the object's catalog
// record (meta.InlineContent), committed like any object. A read opens
// them whole and serves its range; bytes that fail authentication give
// InternalError, never wrong bytes. ETag, checksum, metadata, listings,
// conditions and ranges are those of any object. Objects completed from
// multipart parts are never inline. CopyObject copies the record; only an
// inline source larger than InlineMax is now has its content stored on
// peers for the copy. An inline object is as durable as the catalog: on
// the network once the catalog's backup has it.
//
// # Read
//
// GetObject reads the manifest only; Object.Open has the segment store
// read, per segment of the range, just the bytes that hold it
// (segstore.Store.ReadRange: from the data shards, hedged and rebuilt
// from verified shards when they fail or stall, never a wrong byte). With
// fewer than K good shards the read fails with ServiceUnavailable, and an
// error mid-stream ends the body early. The next segment is fetched while
// one is read.
//
// # Peers
//
// Peer health, placement and the verdict on each answer are the segment
// store's (see segstore's doc); Config's HedgeAfter, Backoff, FullHold,
// BusyMax, AddressDiversity and the like are passed on to it, and Stats
// shows its view of every peer.
//
// # References and release
//
// Segments are reference-counted: CopyObject and multipart completion
// write manifests that reference existing segments, moving no data. When
// an overwrite, delete, replaced or aborted part drops a segment's last
// reference, its shards enter the release queue (a catalog record each);
// Run has the store send owner-signed delete grants
// (segstore.Store.Release), after Config.ReleaseDelay so that reads in
// flight finish, and retries with back-off while peers are away.
//
// # Quota
//
// The bytes stored on the network (every acknowledged shard of every live
// segment) and in the catalog (the sealed bytes of inline objects, counted
// once) plus those promised to uploads in flight may not exceed
// Config.Capacity; an upload that would is refused with QuotaExceeded
// before anything is stored.
//
// # Errors
//
// s3Error (errors.go) is the one place where internal errors become S3
// errors.
package gateway
