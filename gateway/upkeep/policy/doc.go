// Package policy is the pure policy of upkeep: what a gateway does over
// time to keep its segments alive on peers that come and go and may lie.
// It decides; it does nothing. The gateway's upkeep loop gathers state
// (ShardState and SegmentState from its catalog, PeerState from the peer
// registry), calls these functions, and carries out the decisions:
// audits, repairs, lease renewals, degraded commits.
//
// Everything here is a function of its inputs: no I/O, no goroutines, no
// wall clock (now and elapsed are arguments), no global randomness (a
// *rand.Rand is passed in), budgets carried by the caller (Budget). The
// same inputs give the same outputs, so a simulator can drive this code
// over thousands of nodes and millions of shards, at tens of nanoseconds
// and no allocation per shard.
//
// # What counts as lost
//
// A shard is Healthy, Away or Lost (Policy.Shard):
//
//   - Lost, not held: its holder said it does not hold it (an admission
//     is believed at once; the holder is penalized as for failed audits:
//     it lost what it acknowledged);
//   - Lost, audit failed: FailuresToLose (2) consecutive audits failed;
//   - Lost, lease expired: its lease lapsed, the holder may delete it;
//   - Lost, peer gone: the registry no longer knows the holder;
//   - Lost, offline: its holder has been seen down (PeerState.OfflineSince:
//     the first failed contact since its last success) for OfflineGrace
//     (24 h) or more;
//   - Away: its holder has been down for less than OfflineGrace. It
//     counts as healthy: it causes no repair, it is not audited (an audit
//     could not reach it) and its lease is renewed when it is back;
//   - Healthy otherwise.
//
// A peer's reputation plays no part in that: it drops for lies seen
// anywhere, decays in hours, and declaring all of a peer's shards lost
// for one demerit would start a repair storm that any transient glitch,
// or any peer that wants to cost its owners bandwidth, could trigger.
// Instead the shards of a peer whose reputation is at or below
// SuspectReputation (0.5) are audited SuspectSpeedup (4) times as often,
// so loss, if real, shows within days, and is decided on evidence about
// each shard.
//
// # Lazy repair
//
// A segment is K-of-N coded (10 of 30 by default, 3 of 5 on a network too
// small for 30; each segment by its own code, SegmentState.K and N). It
// needs repair when its healthy shards (Healthy or Away, counted once per
// index) fall to RepairThreshold (K plus half of N-K, rounded up: 20 for
// 10 of 30, K+1 for 3 of 5; Config.RepairThreshold for the policy's own
// code) or fewer; the repair reads K readable shards and makes every missing
// index, restoring N. Repairing is expensive (K shard
// reads for each repair) and peers are often briefly away: restarts,
// network blips, laptops closing. Repairing on every absence would move
// data for a peer that is back minutes later, then again for the next,
// and a wide outage (a data centre, a popular ISP) would start a repair
// storm over every segment at once, competing with the reads that need
// the surviving shards. Two things prevent that:
//
//   - the grace: a peer away less than OfflineGrace causes nothing, so a
//     peer that flaps (down often, each time briefly) costs no repair at
//     all;
//   - the threshold: a segment above RepairThreshold is left alone, so
//     losses accumulate and one repair restores several shards at once;
//     below it, the most endangered segments (smallest margin Healthy - K,
//     then fewest readable shards) go first.
//
// And a budget: repairs and audits are each capped by a byte rate
// (RepairBytesPerSecond, 1 MiB/s; AuditBytesPerSecond, 64 KiB/s), as a
// token bucket the caller carries between calls (Budget), saving up at
// most BurstWindow (10 min) of its rate. A burst of losses drains at the
// repair rate, most endangered first.
//
// A segment that needs repair but has fewer than K readable shards is
// Waiting: nothing is attempted (nothing can be), it is reported, and
// it is repaired as soon as enough holders are back. With fewer than K
// healthy shards it is lost unless offline holders return.
//
// # Audits
//
// Each shard is audited about once per AuditInterval (14 days) on a
// random leaf: the holder must send the leaf and its Merkle path to the
// shard ID, signed over a fresh nonce, so it must hold the leaf's bytes.
// ChooseAudits picks, within the audit budget, re-checks first then the
// longest overdue shards; if the budget is too small for all shards
// every interval, the interval stretches evenly. A bad proof, no proof or
// a time-out schedules one re-check after RecheckAfter (15 min) on a new
// leaf; a second failure in a row makes the shard lost and says the
// holder's reputation should drop. A pass resets the count. An
// unreachable holder is not an audit failure: the registry learns of it
// and OfflineGrace decides.
//
// An audit costs its leaf (64 KiB), the Merkle path and AuditOverhead
// (1 KiB): at 64 KiB/s about 1.2 million shards per interval.
//
// # Leases
//
// A holder keeps a shard until its lease expires (Lease, 90 days). A
// lease with less than RenewBefore (Lease/3, 30 days) left is renewed
// (RenewalsDue), in batches of at most RenewBatch (4096, a
// shard.RenewBatch) per holder. Lost shards are not renewed; those of an
// away holder wait for it to come back, which the grace, shorter than
// RenewBefore, leaves time for.
//
// # Degraded writes
//
// An upload commits a segment once MinAcks (K+1) of its shards are
// stored (Write): with fewer than N it is degraded, and repair places the
// rest. MinAcks is at least K (fewer could not be read back); K+1 keeps
// one loss of margin from the first moment.
//
// # What the caller provides
//
// Every call takes now; budget-limited calls also take the Budget they
// returned last time and the time elapsed since (a zero Budget is empty:
// a loop may start with elapsed = BurstWindow). ChooseAudits takes a
// *rand.Rand the caller keeps (seeded from crypto/rand in the gateway,
// from a seed in a simulator). The catalog gives, per shard, its ID,
// index, holder, size, lease expiry, last audit (the store time for a new
// shard), consecutive audit failures, whether it was declared not held,
// and a pending re-check; the caller stores the ShardState AuditResult
// returns. The registry and the gateway's contacts give, per holder,
// whether it is reachable, since when it has been down (first failure
// after the last success), its reputation, block and placeability; a
// holder missing from the map is gone. The caller carries out decisions:
// audits (with a fresh nonce), repairs (reading any K readable shards,
// placing on RepairTargets or its own placement, then dropping lost
// records and releasing what they held), renewals (one shard.RenewBatch
// each), reputation drops (the registry's Lied) and commits.
//
// # Valid configurations
//
// 1 <= K < N <= 256; K <= RepairThreshold < N (below K a repair would
// only be asked once impossible, at N every segment would always be
// repaired); K <= MinAcks <= N; 0 < RecheckAfter < AuditInterval;
// 0 < OfflineGrace < RenewBefore < Lease; positive rates and windows.
// With N = K+1 the threshold can only be K.
package policy
