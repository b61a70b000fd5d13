// Package gateway stores S3 objects on the Ishtar network: it implements
// s3api.Backend over the local catalog (meta) and the storage peers of a
// Directory, through the consumer-owned Peer interface that *node.Client
// satisfies.
//
// # Upload
//
// A body streams in segments of Config.SegmentSize. Each segment is read
// into a pooled buffer, hashed (MD5, for the ETag) while it is sealed
// (shard.SegmentCipher under the object's random data key, wrapped with
// the owner's key and kept in every segment record), Reed-Solomon encoded
// in place into K data and N-K parity shards, and its N shard IDs (Merkle
// roots) computed. The shards go in parallel to N distinct peers chosen by
// weighted rendezvous hashing (placement.go); a failed or refused shard is
// retried on the next-best peer, and every receipt is checked (signature,
// node, shard, size, owner, lease) and kept. The next segment is read while
// the previous ones are stored; a weighted semaphore bounds the segments
// in flight across all requests, so memory grows with SegmentSize x
// Concurrency, never with object size.
//
// Before a segment's shards are sent, a journal entry names them. The
// commit is one synced catalog batch: the object (or part) record, its
// segments, the removal of the journal entries, the references dropped
// from a replaced object and the quota counter. Only then is the object
// visible. Journal entries left by a crash are orphans: New queues them
// for release and Run deletes them.
//
// # Read
//
// GetObject reads the manifest only; Object.Open fetches, per segment of
// the range, just the sealed blocks that hold it, from the data shards
// that hold those bytes (no decoding when they answer; the AEAD
// authenticates them). A data shard that fails, or stalls for
// Config.HedgeAfter, brings in whole shards, each verified against its ID,
// and the missing bytes are rebuilt from any K. If the AEAD rejects what
// the data shards sent (a lying peer), the segment is read again from
// verified whole shards only. With fewer than K good shards the read fails
// with ServiceUnavailable: never a wrong byte, and an error mid-stream
// ends the body early. The next segment is fetched while one is read.
//
// # Peers
//
// Every answer of a peer is put in one class, each with its own
// consequence (health.go), and none blocks work while other peers can do
// it: a peer that is full (507) gets no shard larger than the room it has
// left until the directory shows a newer record of it (PeerInfo.Seen) or
// Config.FullHold passes; a busy one (503 busy, 429) is set aside for its
// Retry-After hint, at most Config.BusyMax; an unreachable one (refused,
// reset, timed out, 5xx) backs off exponentially (Config.Backoff to
// BackoffMax) until it answers again or a newer record shows it alive; a
// lying one (false bytes, a bad receipt or answer) loses reputation, which
// weighs placement and puts its shards after honest peers' in reads.
// Placement ranks peers usable, busy, without room, backed off, and takes
// the best of the others only when too few usable peers are left; a busy
// peer no other can replace is asked again once its hint is over.
//
// # References and release
//
// Segments are reference-counted: CopyObject and multipart completion
// write manifests that reference existing segments, moving no data. When
// an overwrite, delete, replaced or aborted part drops a segment's last
// reference, its shards enter the release queue; Run sends owner-signed
// delete grants, after Config.ReleaseDelay so that reads in flight finish,
// and retries with back-off while peers are away.
//
// # Quota
//
// The bytes stored on the network (every acknowledged shard of every live
// segment) plus those promised to uploads in flight may not exceed
// Config.Capacity; an upload that would is refused with QuotaExceeded
// before anything is stored.
//
// # Errors
//
// s3Error (errors.go) is the one place where internal errors become S3
// errors.
package gateway
