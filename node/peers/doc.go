// Package peers is the peer registry of an Ishtar node: the one place
// node records and what is known of each peer live. Every peer is assumed
// malicious, so everything a peer can make the registry hold is bounded,
// and nothing it says is believed before it is verified.
//
// # Records
//
// A record is a shard.NodeRecord, signed by its node. The registry checks
// every record it is given (Add, AddAll, Verified) and refuses, counting
// each Reason: a malformed one (fields over shard's bounds, or an address
// that is not an http(s) URL), an unsigned or forged one, one signed more
// than Config.TTL (24 h) ago, one signed more than Config.ClockWindow
// (10 min) ahead, one whose Seq is not above the known record's (stale),
// and the node's own. The cheap checks come before the signature's, so a
// page of replayed records costs no verification. A newer Seq of a known
// node replaces its record and keeps its history.
//
// # Tables
//
// After Bitcoin's address manager, entries live in one of two tables:
//
//   - "new" (at most Config.MaxNew, 81920): records heard of but not
//     verified. At most Config.NewPerSource (512) came first from one
//     source, the address block of the peer that sent them; a source at
//     its quota can only replace its own terrible entries (an expired
//     record, or contacts that keep failing: 3 without a success, or 10
//     back-offs and none in a week), so no single peer's answers fill the
//     table and several bootstrap sources merge. A full "new" takes a
//     newcomer only in place of a terrible entry (the source's own, or one
//     of a random sample).
//   - "tried" (at most Config.MaxTried, 20480): records whose key holder
//     proved, by a challenge the caller runs at the advertised address
//     (DueForChallenge hands them out, Verified reports success), that it
//     answers there. When "tried" is full, a newly verified entry evicts
//     the tried entry with the worst history, which goes back to "new" (or
//     away if "new" has no room for it), but never a protected one: one
//     that answered within 4 hours, or with a long good history (successes
//     on 3 days of the last 30 and an uptime of at least 1/2). If all are
//     protected the newcomer stays in "new": a flood of fresh records,
//     even of nodes that answer, never pushes good peers out.
//
// Whatever the table, at most Config.PerBlock (64) entries advertise an
// address in one address block (AddressBlock: the /24 of IPv4, the /64
// of IPv6, else the host name); a full block takes a newcomer only in
// place of one of its terrible new entries (or, for a verified newcomer,
// its worst new entry). Of the tried entries of one block only the best
// Config.PlaceablePerBlock (4) by history are placeable (negative: all,
// for loopback and LAN networks). A tried entry is also not placeable
// while its record is expired, its new address is unverified, it offers
// no space (a tracker), it is in back-off, or its reputation is low. So the registry holds about 100,000
// records, in memory and in the catalog.
//
// # History
//
// Each entry keeps, in bounded memory: contacts tried and succeeded, the
// last success and the last contact, the first failure since the last
// success (Peer.DownSince: how long it has been away), 30 day-buckets of (tried,
// succeeded) for an uptime over the last 30 days, consecutive failures and
// a back-off (30 s doubling to 1 h) during which the peer is neither
// placeable, sampled nor challenged; it stays in its table with its
// history and is used again once it answers. A new entry never reached
// in 3 contacts is challenged only every 6 hours. A tried peer whose record
// expires (it went away) is kept 30 days more, not placeable, retried
// with back-off until it answers with a fresh record. Lied lowers a
// reputation in (0, 1], 1/(1+d) for d demerits halving every 4 hours. The
// history ranks peers: the smoothed uptime times the days with a success,
// times the reputation.
//
// # Persistence and exchange
//
// Entries are meta.Peer values (the record's JSON, its table, its change
// number and the encoded history). Records and table moves are written
// through, one catalog batch per Add, AddAll or Verified (without waiting
// for fsync: a crash may lose the last records, which peers give again);
// history is written by Flush, which the daemon calls every minute, and
// Close. A restarted node loads both tables and needs no bootstrap; a
// catalog written before (meta.Peer v1, v2) loads into "new".
//
// DueForChallenge hands out, oldest first, what needs a challenge: new
// entries, tried ones whose address changed, whose record expired or
// whose back-off ended, and healthy tried ones halfway through their
// record's life (the challenge brings a fresh record).
//
// Each stored change gets the next number of a persisted counter.
// Changes pages through the tried, unexpired records changed after a
// cursor, for incremental peer exchange: an exchange with nothing new
// costs a binary search and returns no records.
//
// The registry has no goroutines and does no I/O but the catalog's; its
// clock is Config.Now. It logs only transitions (a peer verified, evicted,
// failing, back, lying; a source at its quota; catalog writes failing).
//
// # Root holders
//
// RootHolders chooses the peers that keep an owner's root records (see
// package node, POST /v1/roots) by rendezvous (highest-random-weight)
// hashing: each candidate node scores SHA-256("ishtar/root-holder/v1\x00"
// | owner ID | node ID) (RootHolderScore), and the count highest scores
// win, highest first, ties (never seen with SHA-256) broken by node ID.
// It is a pure function: the owner's gateway, posting after each backup
// step, and a fresh machine recovering with only the owner's seed compute
// the same set from the peers each knows, whatever their order. A peer
// joining takes a place only if it outranks the last holder; one leaving
// gives its place to the next in rank; the others stay. So two peer
// tables that differ in a few peers still agree on nearly every holder,
// and a recovering machine that hears from too few widens the set by
// asking for a larger count, which extends the smaller one. It costs one
// SHA-256 per candidate and a sort (about 10 ms for 20,000 candidates,
// BenchmarkRootHolders). Which peers are candidates (placeable ones, the
// caller's own node or not) is the caller's choice, and both sides must
// make the same one.
package peers
