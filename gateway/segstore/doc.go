// Package segstore keeps segments on the storage peers of a Directory,
// through the consumer-owned Peer interface that *node.Client satisfies.
// It knows shards, peers, grants and receipts; it knows nothing of
// objects, buckets or the catalog (the gateway keeps those, and segstore
// never imports it). Every peer is assumed malicious: nothing a peer
// returns is used before it is verified, here.
//
// # Store
//
// Put is given a segment's sealed bytes and its code (Code: K, N, block
// size, MinAcks; the gateway picks it, Groups counting the places). It
// Reed-Solomon encodes them in place into K data and N-K parity shards,
// computes the N shard IDs (Merkle roots), and sends the shards in
// parallel to N distinct peers chosen by weighted rendezvous hashing
// (placement.go); a failed or refused shard is retried on the next-best
// peer, up to Config.PutAttempts. Before any shard is sent the caller's
// JournalFunc records it, so that a crash leaves no shard nobody knows
// of. Every receipt is checked (signature, node, shard, size, owner,
// lease) in checkReceipt, the one place receipts are checked, and Put
// returns the shard records with their receipts, and the failed
// attempts, which the caller releases. Fewer than Code.MinAcks stored
// shards is ErrTooFewPeers.
//
// # Read
//
// Open checks a segment's record and unwraps its key; ReadRange returns a
// plaintext range of it. It fetches just the sealed blocks that hold the
// range, from the data shards that hold those bytes (no decoding when they
// answer; the AEAD authenticates them). A data shard that fails, or stalls
// for Config.HedgeAfter, brings in whole shards, each verified against
// its ID, and the missing bytes are rebuilt from any K. If the AEAD
// rejects what the data shards sent (a lying peer), the range is read
// again from verified whole shards only. With fewer than K good shards
// the read fails with ErrUnavailable: never a wrong byte.
//
// # Single shards, release
//
// StoreShard stores one shard on a chosen peer and returns its checked
// receipt, and FetchShard fetches one whole shard and verifies it: what
// audits and repair build on. Release sends an owner-signed delete grant
// for one shard, unless its peer is away, and says whether it is done or
// when to ask again; the caller keeps the queue.
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
// peer no other can replace is asked again once its hint is over. A
// Directory that is a PeerObserver (the peer registry) is told what each
// answer said. Observe, Lied, Standing, Avoid and Reputation give the
// verdicts to callers; Stats and PeerStats count.
//
// # Memory
//
// Buffer and PutBuffer recycle the large buffers of segments in flight
// (buffers.go): a MiB or more lives outside the Go heap where the platform
// allows it (mmap on Unix), so the resident set follows the segments in
// flight, not the heap's growth; Config.IdleBuffers bounds what is kept
// idle. The caller bounds the segments in flight.
package segstore
