// Package node is the peer protocol of Ishtar: the HTTP server that stores
// shards for other owners, its Go client, and the shard Store behind it.
//
// # Wire format
//
// Plain HTTP/1.1 (or HTTP/2), all paths under /v1/. Shard IDs and owner
// and node IDs in paths are 64 lowercase hex digits. JSON bodies are at
// most Config.MaxJSONBody (1 MiB); NodeRecord, Grant, Receipt,
// RootRecord and RenewBatch are the JSON forms of package shard (keys and
// IDs as hex, signatures as standard base64).
//
//	GET    /v1/info                    200 NodeRecord, signed by this node; public
//	GET    /v1/hello?nonce=N           200 Hello: the record and the node's signature
//	                                   of the caller's nonce N (1..64 bytes as
//	                                   lowercase hex); public (see Peer exchange)
//	GET    /v1/peers?after=C&limit=L   200 PeerPage: verified records that changed
//	                                   after cursor C (default 0), at most
//	                                   min(L, MaxPeerPage = 256); public
//	POST   /v1/peers                   body: the caller's own NodeRecord;
//	                                   200 {"accepted":true} or {"accepted":false,
//	                                   "reason":"stale"} (kept or not within the
//	                                   registry's bounds); 403 for anyone else's
//	                                   record, 401 bad_signature for a forged one
//	GET    /v1/registry                200 RegistryView: every entry with its
//	                                   history, and the registry's counts
//	                                   (records refused by reason); to the
//	                                   node's own key only
//	POST   /v1/shards/{id}             body: the shard (Content-Length required,
//	                                   <= MaxShardSize); Ishtar-Grant (op store);
//	                                   200 Receipt signed by this node. The Client
//	                                   sends Expect: 100-continue from 64 KiB up.
//	GET    /v1/shards/{id}             200 the shard, or 206 for one "Range: bytes=a-b",
//	                                   "bytes=a-" or "bytes=-n"; 416 past the end
//	GET    /v1/shards/{id}/proof?leaf=I&nonce=N
//	                                   200 Audit (N: 1..64 bytes as lowercase hex)
//	POST   /v1/shards/{id}/renew       Ishtar-Grant (op renew); 200 Receipt
//	POST   /v1/renew                   body RenewBatch (the owner's, for this
//	                                   node, at most 4096 shards); 200
//	                                   RenewAnswer {"renewed":[id,...],
//	                                   "not_held":[id,...]} (see Owner grants)
//	DELETE /v1/shards/{id}             Ishtar-Grant (op delete); 204
//	GET    /v1/roots/{owner}           200 RootRecord: the highest seq kept
//	POST   /v1/roots/{owner}           body RootRecord (at most 16 KiB as JSON);
//	                                   204, or 409 unless its seq is above the
//	                                   one kept. For an owner the node holds
//	                                   no shard for (a foreign root), 507 when
//	                                   the caller's, its block's or the node's
//	                                   room for those is full; kept 30 days
//	                                   after its last accepted post (see Roots)
//
// A refused request is answered with {"code": "...", "message": "..."}:
//
//	400 bad_request         malformed path, query, header or body
//	400 aborted             the caller stopped sending the body
//	401 unauthenticated     unsigned, or signature headers malformed; grant missing
//	401 bad_signature       request, body hash, grant or record signature invalid
//	401 clock_skew          request or grant time outside the clock window
//	401 replayed            nonce already seen within the window
//	403 forbidden           grant for another op, shard or size; owner holds no
//	                        reference
//	403 no_credit           the store's owner has no credit left on this node
//	                        (see Fair exchange): try another node; the owner
//	                        must provide more storage to store more
//	404 not_found           shard not held, no root, unknown path
//	408 timeout             body slower than the floor rate (see Storage)
//	409 conflict            root seq not above the held one
//	409 stale_grant         grant time not after the owner's last accepted grant
//	411 length_required     shard upload without Content-Length
//	413 too_large           body or shard over its limit; renew batch of
//	                        more than 4096 shards
//	416 range_not_satisfiable
//	421 misdirected         signed for another node, or (not a GET) for none;
//	                        renew batch for another node
//	422 corrupt             shard bytes do not hash to the ID, or wrong length
//	503 busy                over a limit of the caller's identity or address
//	                        block, or of the node as a whole (requests a
//	                        second, uploads in flight, replay window), with a
//	                        Retry-After header in seconds; try again shortly
//	507 insufficient_storage  the shards committed leave no room; nothing was
//	                        kept. Never answered because of uploads in flight.
//	                        For a root post: no room for another foreign root
//	                        (see Roots); it says nothing of room for shards
//	500 internal
//
// # Signed requests
//
// Every request is signed by the calling node's ed25519 key, except the
// public reads (GET /v1/info, /v1/hello and /v1/peers: every record they
// answer is signed by its own node, and a newcomer or an operator with
// curl must be able to read them) and, with Config.AllowAnonymousReads
// (off by default), the other GETs. The headers are
//
//	Ishtar-Node:      caller's node ID (64 hex)
//	Ishtar-Time:      unix seconds, decimal
//	Ishtar-Nonce:     16 random bytes, 32 lowercase hex
//	Ishtar-Body-Hash: 64 lowercase hex; SHA-256 of the body (of the empty
//	                  string when there is none), except for a shard upload,
//	                  whose body hash is the shard ID itself: the node
//	                  recomputes the Merkle root while streaming the body to
//	                  disk, so it never buffers a shard to check a signature
//	Ishtar-Target:    the node the request is for (64 hex); required on
//	                  every request but a GET, optional on a GET
//	Ishtar-Signature: standard base64 of the ed25519 signature of
//
//	    "ishtar/request/v2\n" METHOD "\n" REQUEST-URI "\n" NODE-ID "\n"
//	    TARGET "\n" TIME "\n" NONCE "\n" BODY-HASH "\n" GRANT "\n"
//
// where REQUEST-URI is the path and query exactly as sent, the hex fields
// are as in the headers, TARGET is the Ishtar-Target header or empty and
// GRANT is the Ishtar-Grant header or empty. A request more than
// Config.ClockWindow (default 10 min) away from the node's clock is
// refused; so is one whose (node, nonce) was seen in the window. The
// nonces are remembered in at most Config.MaxNonces entries, whatever the
// callers' rate: under pressure the node refuses requests stamped more
// than two seconds ahead of its clock, then forgets its oldest seconds and
// refuses requests stamped at or before them (503 busy: sign again). A
// caller's requests arrive within seconds of being signed, so only a flood
// beyond what the node can verify reaches honest callers.
//
// # Limits
//
// Whatever a caller can make a node hold is bounded per caller identity,
// per address block of the caller's IP address (the /24 of IPv4, the /64
// of IPv6) and in total, and expires (Config.Limits): connections at the
// listener (LimitListener), requests a second (per block before any
// signature is checked, public reads included; per identity after), shard
// uploads in flight and the capacity they reserve, node records kept (by
// the registry, see Peer exchange), log lines written. A
// caller over a bound gets 503 busy with a Retry-After; the limits never
// answer 507, which means full. Root records of owners the node holds no
// shard for are bounded the same three ways (Config.ForeignRoots, see
// Roots), but they are room kept for a month, not a rate: retrying soon
// cannot help, so a post over those bounds gets 507.
//
// A request naming another node as its target, or a store, renew, delete
// or post naming none, is refused (421 misdirected): a node cannot replay
// a request it received to another node, whose nonce cache has not seen
// it. The Client names the peer it pinned (WithPeerID, or the record of
// its first Info, which it asks for before anything but a read). Owner
// grants bind the operation, not the node: the request binds the node. A
// RenewBatch names its node itself (see Owner grants).
//
// # Peer exchange
//
// A node's record (shard.NodeRecord: node ID, its owner's ID and link
// signature, advertised URL, capacity and free bytes, software version, a
// sequence number and the time it was signed) is signed by the node itself, re-signed with a higher seq when a
// field changes and at least hourly, and lasts 24 h after it was signed
// (peers.DefaultTTL): a node that stops refreshing it drops out of every
// table within a day. Peer knowledge lives in a peers.Registry (see that
// package for its bounds, history and persistence): records heard of sit
// in its "new" table until a challenge at their address succeeds, then
// move to "tried"; only tried records are handed out and placeable.
//
// The challenge is GET /v1/hello?nonce=N at the record's advertised URL:
// the answer (Hello) carries the node's current record and its signature,
// under the tag "ishtar/hello/v1\x00", of the nonce (4-byte length,
// bytes), the node ID and the record's own signature. Whoever answers at
// an address with a valid Hello for a fresh nonce holds the key, so no
// node can advertise an address it does not answer at, or someone else's.
//
// GET /v1/peers is incremental. The registry numbers its changes; a page
// answers, in change order, the tried, unexpired records whose entry
// changed after the asker's cursor:
//
//	{"peers":[{"id":"<64 hex>","owner":"<64 hex>","owner_sig":"<base64>",
//	           "url":"http://203.0.113.5:7070",
//	           "capacity":10737418240,"free":8589934592,"version":"0.1.0",
//	           "seq":7,"time":1796380800,"expires":"2026-12-05T12:00:00Z",
//	           "sig":"<base64>"}, ...],
//	 "next":1234,"more":false}
//
// "time" and "sig" are the signed record (its signature covers every
// field but "expires", which is "time" plus 24 h for readers). The asker
// keeps "next" per peer and asks after it next time; "more" says another
// page is ready now. With nothing new the answer is an empty page, and a
// round with nothing new costs about 260 bytes both ways, HTTP headers
// included (BenchmarkExchangeNothingNew). A cursor the node never gave
// (its catalog was reset) starts over from 0. The asker verifies every
// record before it keeps it and drops the ones that fail.
//
// POST /v1/peers takes only the signer's own record: a node announces
// itself, and records of others travel only through GET /v1/peers, each
// signed by its node. The record is kept as heard of, counted against the
// caller's address block, and is handed out only after this node's own
// challenge at its address.
//
// Discovery (a Discovery per node, run by the daemon) works in rounds
// every network.exchange_interval (30 s by default, with +-20% jitter):
//
//   - each tracker (--tracker URL), and each bootstrap peer (--bootstrap
//     URL) until reached once, is challenged at its URL (unless already
//     verified there), asked for the records changed since the last round
//     (up to 4 pages) and sent this node's record when its seq changed;
//   - up to 3 random verified peers are asked the same way;
//   - up to 32 records heard of (and verified ones as their turn comes,
//     peers.Registry.DueForChallenge) are challenged at their addresses;
//   - every contact's outcome goes to the registry's liveness history,
//     which backs off peers that stop answering, keeps them with their
//     history, and uses them again once they answer.
//
// A tracker (`ishtar serve --tracker`) is a node that offers no capacity
// and runs no gateway: it only collects records, challenges them and hands
// them out. Its own record has capacity 0, so it is never placeable.
//
// Floods: a record that is unsigned, forged, expired, signed more than the
// clock window ahead, oversized or older (seq) than the one held is
// refused and counted (peers.Stats.Refused); "new" holds at most 512
// entries first heard of from one address block and 64 per advertised
// address block, "tried" evicts by history, so fresh records of one actor
// never push out peers with a good history; and at most 4 tried peers per
// address block are placeable (address diversity).
//
// # Owner grants
//
// Store, renew and delete carry the owner's shard.Grant in the Ishtar-Grant
// header (unpadded base64url of its JSON). It must verify, name the same op
// and shard, cover the shard's size (the upload's Content-Length, or the
// held size), and its Time (unix nanoseconds) must be within the clock
// window. Its LeaseExpiry (unix seconds) must be within Config.MaxLease;
// for a store, also in the future. A renew or store never shortens a
// lease.
//
// Replay rule: the node keeps, per (shard, owner), the Time of the newest
// grant it accepted, and refuses (409 stale_grant) any grant not strictly
// newer, even after the owner's reference is gone. So a delete grant
// replayed after the owner re-uploaded the shard cannot delete it, nor can
// an old store grant resurrect a deleted one.
//
// Several owners may store the same shard: each holds a reference with its
// own lease; only an owner holding a reference can renew or release it,
// and the bytes are deleted with the last reference.
//
// Batch renew: POST /v1/renew renews many of one owner's leases on one
// node with one request. Its body is the owner's shard.RenewBatch
//
//	{"owner":"<64 hex>","node":"<64 hex>","lease_expiry":1800000000,
//	 "time":1796380800123456789,"shards":["<64 hex>",...],"sig":"<base64>"}
//
// signed under "ishtar/renew-batch/v1\x00" (see package shard), sent in a
// signed request like any other (any node may send it, e.g. the owner's
// gateway node). The node refuses it if it does not verify (401
// bad_signature; 400 bad_request when malformed: shard IDs must be
// sorted, unique, and 1 to 4096 of them, 413 too_large beyond), names
// another node (421 misdirected), its Time (unix nanoseconds) is outside
// the clock window (401 clock_skew), or its LeaseExpiry is beyond
// Config.MaxLease (400 bad_request). Then, in one meta batch, each
// shard the owner holds a reference to has that lease extended to
// LeaseExpiry (never shortened), and the answer lists every shard of
// the batch once, in order, as renewed or not held:
//
//	{"renewed":["<64 hex>",...],"not_held":["<64 hex>",...]}
//
// A renew never stores anything: a shard the owner no longer holds here
// (deleted, or expired: lapsed more than the grace ago, see Storage,
// whether the sweep has removed it yet or not) is not held, and the owner
// must store it again (the gateway counts it lost). The Client (RenewBatch) checks
// that the answer splits the batch exactly. A batch does not touch the
// per-shard grant times.
//
// Replay rule for batches: the node keeps no state for them. A batch binds
// its node (Node), so it cannot act on another one, and is accepted only
// within the clock window of its Time, any number of times: applying it
// again sets leases that are already at least its LeaseExpiry, which
// changes nothing, and it renews only holdings that exist, so it cannot
// bring a deleted or expired one back. The most a replay can do: when the
// owner deletes a shard and stores it again with a shorter lease within
// the window, raise that lease to the expiry the owner signed for the
// shard minutes before.
//
// # Storage
//
// A store is refused at once (507) if the shards committed leave no room
// for its size. It is then admitted against the upload limits and reserves
// capacity 1 MiB at a time as the body arrives, so a caller that declares
// a large shard and sends nothing holds one step, not the declared size.
// The body may take RequestTimeout to get going and must then keep up
// MinRate on average (408 otherwise). It streams into a Store Writer that
// hashes as it writes, and on Commit (ID verified) the reference, the
// owner's grant time, the owner's totals and the used bytes are indexed in
// one meta batch. The capacity counts each shard's bytes once and
// meta.HoldingOverhead (512 bytes) per owner's holding, for its catalog
// entries: storing tiny shards costs what it costs the node. Grant times older than twice the clock window are pruned
// (Server.Maintain): such a grant is refused by its timestamp anyway. Receipts'
// Time is unix nanoseconds; their Holder is the node itself (delegation
// will name another).
//
// Leases expire. A holding whose lease lapsed more than Config.LeaseGrace
// ago (7 days by default; setting node.lease_grace) is deleted by
// Server.Maintain (every 5 minutes, ExpireLeases), as a delete would: the
// owner's totals lose it, the owner's root becomes foreign with its last
// holding (see Roots), and the shard's bytes go with the shard's last
// holding, so the capacity (and the Free of the node's record) grows back. Until then the owner
// may still renew it. The sweep finds lapsed leases through meta's lease
// index and works through them 256 at a time, each page in one meta batch
// under its shards' locks, so a million lapsed holdings never hold the
// node up for longer than one page; it logs at info what it removed.
//
// Where the bytes live is the Store's business, not the protocol's: the
// Server gives every store, read, proof and release to one Store. Small
// shards (up to Config.InlineMax, 64 KiB by default) are kept in the
// catalog by an InlineStore, which NewServer wraps around the Store it is
// given (a file per shard, fsynced and renamed into place, for a
// DiskStore). An inline writer commits inside the Server's index batch,
// so a small shard, its index entry and the used bytes land atomically
// with one WAL fsync, which concurrent stores share (Pebble group
// commit); a release deletes inline bytes in the same batch as the
// index. Inline bytes count against the capacity like any others. A
// shard is rewritten where it already is, so changing InlineMax between
// runs never strands or duplicates one; a negative InlineMax only stops
// new shards going to the catalog. Decorators of a Store (fault
// injection, metrics) see inline shards too when they wrap an
// InlineStore themselves and expose it with an Unwrap() Store method;
// NewServer then uses them as they are.
//
// A file shard is written before it is indexed and unindexed before it is
// removed, so a crash in between leaves bytes no owner holds; Server.Sweep
// (run by `ishtar serve` at start) removes them. Inline shards never need
// it.
//
// # Fair exchange
//
// 1 MB given earns 1 MB stored, with no one to trust. Every node record
// names its owner (Owner, with the owner's link signature; see package
// shard), so a node knows which owner stands behind every peer. For each
// other owner X a node keeps a ledger:
//
//   - held_for(X): the bytes it holds for X, each shard's size plus
//     meta.HoldingOverhead (512), from its holdings (meta.OwnerHeld,
//     updated in the batch of every store, delete and expired lease);
//   - held_by(X): the bytes X's nodes hold for this node's owner, counted
//     while the owner's audits of them pass (not lost, no failed audit
//     waiting), computed by the owner's gateway from its catalog and the
//     registry's owner of each holder (Config.Credit.HeldBy; the daemon
//     refreshes it at start and every upkeep interval).
//
// A store of a shard of size bytes for owner X is accepted only while
//
//	held_for(X) + inflight(X) + size + 512 <= held_by(X) + grace
//
// where inflight(X) are X's uploads in flight and grace is
// node.credit_grace (default 256 MiB). What X holds beyond held_by(X) is
// its debt, extended on grace; two more bounds keep a flood of fresh
// identities from earning more than one: the debts of all owners together
// stay within node.stranger_share (default 0.1) of the capacity, and the
// debts of the owners whose last store came from one address block (the
// caller's /24 or /64, kept with the owner's totals) within grace. Each is
// checked before the body is read, after the capacity (507) and before
// the limits of uploads in flight (503); a refusal is 403 no_credit,
// naming the bound, and leaves nothing behind. The node's own owner's
// shards (a daemon may store on its own node) count against no credit.
// Debts are settled again from the catalog after every store and delete,
// after expired leases and whenever held_by is refreshed, and read from
// the catalog at start, so they survive restarts and do not drift.
//
// The gateway takes a no_credit refusal as a full peer (the shard goes
// elsewhere, and shards that large avoid the peer a while), places first
// on the peers whose owners owe its owner space (its node holds more for
// them than they hold for it), and answers S3 clients 403 QuotaExceeded,
// asking for more storage, when too few peers take a segment because of
// credit.
//
// # Delegation
//
// A node asked to store a shard it has no room for (it would answer 507)
// may forward it to a peer of its own choosing (Config.Delegate; the
// daemon's peers with the most free space first, never the node the
// shard came from, a node it passed through or a node of the shard's
// owner), under its own owner's store grant: the next node counts the
// shard as held for this node's owner, whose credit there pays for it,
// while this node counts it as held for the shard's owner (its credit
// here applies as to any store, the capacity does not). The first node
// reads a body under 64 KiB whole and offers it to up to 3 peers; a
// larger one is streamed to the first peer that accepts it before its
// body is sent (Expect: 100-continue). The store sent on is
//
//	POST /v1/shards/{id}?via=<hex node ID>[,<hex node ID>...]
//
// where via lists the nodes the shard passed through, first one first.
// A node refuses a store whose via names itself (508 delegation_loop)
// or whose chain would be longer than node.delegation_depth (default 3,
// the first node included: 508 delegation_too_deep), and forwards only
// while the next node stays within the depth; a node with nowhere to
// forward to, or whose grace for the shard's owner does not cover it,
// answers 507 as before.
//
// Delegation is declared: the receipt the owner gets is signed by the
// first node and names the next as Holder; the first node keeps the next
// node's signed custody receipt (meta.Delegation, with its address and
// lease). Reads and proofs go through the tree: GET /v1/shards/{id} (and
// ranges) at the first node relay the next node's bytes, which the owner
// verifies against the shard ID as it verifies every byte; an audit is
// answered with the next node's proof for the same leaf and nonce,
// checked by the first node (signature, Merkle path to the shard ID) and
// signed again by it. The first node stays answerable: if the next node
// fails or vanishes, its own audits fail (502 bad_response) and its
// reputation drops at the owner, whose repair replaces the shard. (The
// first node keeps no bytes, so it cannot re-delegate a shard whose next
// node is gone.) Renewals of delegated shards at the first node are sent
// on to the next nodes (one RenewBatch per next node, best effort: the
// owner's next renewal tries again); a delete, or an expired lease, of
// the last holding releases the next node's holding. The owner's
// gateway refuses a delegated receipt whose holder already holds
// another shard of the segment (segstore.HeldWith, on uploads and
// repairs), and places that shard elsewhere.
//
// Delegated bytes count in both ledgers as the chain implies: at the
// first node as held for the shard's owner (LedgerView.Delegated shows
// them), at the next as held for the first node's owner, and the first
// node's owner counts them as held by the next node's owner while the
// proofs the first node relays pass (Server.Delegated).
//
// # Roots
//
// An owner's gateway posts its signed root record (shard.RootRecord: the
// sealed pointer to its latest catalog backup, with a seq) after every
// backup step, and at least daily, to its root holders: the peers that
// rendezvous hashing of the owner ID picks (peers.RootHolders, 2n of them
// by default), and those holding its newest catalog shards. A node keeps
// one root per owner, the highest seq it accepted (a post of a lower or
// equal seq is a conflict), verbatim, at most MaxRootRecord (16 KiB) as
// JSON, counted against its capacity.
//
// The root of an owner the node holds shards for is always kept. Any
// other is a foreign root: anyone can make owner keys, so foreign roots
// are bounded (Config.ForeignRoots, counted in meta next to the roots) by
// the node that posted them (32 by default), its address block (64) and
// in all (4096 roots, 32 MiB), and must fit in the node's free capacity.
// A post over a bound is refused with 507 insufficient_storage, naming
// the bound: no kept root is ever evicted for a newcomer, so a flood of
// fresh owners fills at most its own callers' and blocks' shares. A
// higher seq of a root already kept takes its place, charged to whoever
// posted it last. A foreign root expires 30 days (ForeignRoots.TTL) after
// its last accepted post, and Server.Maintain deletes it within minutes
// of that, giving its bytes back.
//
// A foreign root becomes an ordinary one when the owner's first shard
// arrives, and counts against no bound from then on. When the owner's
// last holding goes (deleted, or its lease expired), the root becomes
// foreign again, charged to its last poster and expiring 30 days after
// its last post; it is deleted at once instead if that time is past or
// the poster's, its block's or the node's room for foreign roots is full.
//
// Audit answers sign, after the tag "ishtar/audit/v1\x00": the shard ID
// (32 bytes), Size, LeafSize and Leaf (8 bytes each, big-endian), the nonce
// (4-byte length, bytes), SHA-256 of the leaf data (32), the binary proof
// (4-byte length, bytes), the node ID (32) and Time (8).
package node
