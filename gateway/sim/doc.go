// Package sim is a discrete-event simulator of an Ishtar network: tens of
// thousands of virtual nodes holding millions of segments over a
// simulated year, with no sockets, no sleeps and no wall clock. It drives
// the code the daemon runs where that code decides, and models the rest:
//
//   - the upkeep policy (gateway/upkeep/policy), unchanged: Config and its
//     defaults, Segment (is a segment OK, to repair, or waiting for K
//     readable shards), MissingIndexes (what a repair makes), RepairCost,
//     RepairTargets (no second shard of a segment on a holder, distinct
//     address blocks), Due and AuditResult (when an audit finds a dropped
//     shard, after its re-check), Write (a degraded upload commits);
//   - placement's weight (segstore.Weight: free space x reputation x
//     uptime), with candidates drawn in the order weighted rendezvous
//     hashing (segstore.Score) ranks them: drawing each next node with
//     probability proportional to its weight among those not drawn yet is
//     the same distribution as the top of w / -ln(u) (TestDrawMatchesRendezvous),
//     at O(log nodes) per draw instead of one SHA-256 per node;
//   - a model of everything else: sessions, departures, disk failures,
//     droppers, owners' uploads, overwrites and bandwidth, read attempts.
//
// # The model
//
// Nodes belong to uptime classes (Config.Mix; by default 30 % at 99 %
// uptime, 70 % at 60 %). Online and offline periods are exponential with
// means Uptime x Cycle and (1 - Uptime) x Cycle; Cycle is 1 day for home
// machines (nights off, mean 9.6 h at 60 %) and 30 days for servers (mean
// outage 7 h). A node leaves for good after an exponential lifetime (mean
// Config.Lifetime, 2 years) and is replaced by a new node, whose uptime
// the registry does not know for a day (placement then weighs it as
// uptime 1, as segstore.Weight does for an unknown uptime). Disks fail
// (Config.DiskAFR, 2 % a year): the node stays, empty, and says "not held"
// at each shard's next audit. A share of the nodes (Config.Droppers, 1 %)
// acknowledge shards and drop them; they are always online (so placement
// likes them), sit 50 to an address block, and fail the audit AuditInterval
// after each store and its re-check. Each honest node is in its own
// address block; no two shards of a segment share one.
//
// Owners (one per node by default) hold Segments segments of SegmentSize
// (16 MiB) bytes. At time zero they are placed on the nodes online then.
// Each month ChurnPerMonth (5 %) of them are overwritten: the old shards
// released, N new ones uploaded through the owner's uplink
// (OwnerBandwidth, 2 MiB/s). Repairs use the same uplink, at most the
// policy's RepairBytesPerSecond (1 MiB/s), one after another per owner,
// so a burst of repairs takes time and delays uploads and other repairs.
// Owners' gateways are assumed to run all the time.
//
// A holder offline for the policy's OfflineGrace has its shards counted
// lost (one event per offline period, not per shard); at the threshold
// the policy decides: repair (K readable now) or wait (retried hourly).
// A repair reads K shards; a holder that answers without the bytes is
// found out then. When the repair's transfer completes, the shards it
// makes are placed on new holders and the records they replace dropped,
// releasing what those held. A segment is lost once fewer than K of its
// shards exist anywhere (offline holders' shards exist; departed,
// dropped and failed ones do not), whatever the catalog believes.
//
// Availability is sampled: Reads read attempts at random instants, each
// of a random segment, succeed if K of its holders are online with the
// bytes. Audit traffic (each record once per AuditInterval, AuditCost
// bytes) and lease renewals (once per Lease - RenewBefore) are steady
// and counted, not simulated one by one.
//
// Not modelled: the delay before a gateway notices a holder is down
// (the grace runs from the first failed contact, which probes make at
// most ProbeAfter, a quarter of the grace, after the fact; here from the
// moment it goes), correlated outages (an ISP, a power cut), reputation
// (the registry halves a demerit every 4 hours, so droppers are placed
// on as before), reciprocity quotas, owners' gateways going offline,
// hedged reads, delegation, and per-holder bandwidth.
//
// # Outputs
//
// Durability is the share of stored segments lost during the run, shown
// as nines with a 95 % Wilson interval; runs with more seeds (RunSeeds)
// pool their counts. A run of S segments that loses nothing shows at most
// about log10(S/3.8) nines (5.4 for a million), so for settings that
// lose nothing ExtrapolatedNines extends the histogram of the least margin
// (shards that exist minus K) each segment fell to, geometrically, one
// level at a time down to a loss: an estimate, not a measurement. Where
// losses can be counted it is pessimistic or right (3 of 5 below: 2.5 to
// 3.9 estimated where 3.3 to 4.6 are measured). Repair traffic is bytes moved (K shards read plus each
// made) per byte stored (Segments x SegmentSize) per 30 days, and is
// compared with the upload bytes of the churn. A run is a function of its
// Config, Seed included: math/rand/v2 PCG, an event queue ordered by time
// then insertion.
//
// # Checked against closed forms
//
// TestLossMatchesBinomial: without repair, a segment is lost when fewer
// than K of its N holders remain: the binomial tail at the share of
// holders that left (3 of 5 and 10 of 20, within 4.5 standard
// deviations). TestAvailabilityMatchesBinomial: with independent sessions
// of uptime u, reads succeed with probability P(Binomial(N, u) >= K)
// (3 of 5 and 6 of 12, within 0.01). TestInstantRepairLosesNothing:
// repairs that take no time, after a grace much shorter than the time
// between departures, lose nothing while most nodes leave.
// TestDeterministicAndConsistent: a seed gives one run, and the counts the
// simulator keeps agree with policy.Segment at every repair check.
//
// # Speed
//
// Events: session flips, the end of each offline period's grace,
// departures, disk failures, audits that find a dropped shard, repair
// checks and completions, overwrites, read samples, daily samples. State
// is arrays: per shard slot (segment x N + index) its holder (int32), its
// position in the holder's list and two flags; per segment its healthy
// and existing shard counts; per node the []int32 of its slots. Placement
// weights are a Fenwick tree. Memory is about 10 bytes per shard slot
// plus 4 per held shard.
//
// # Results and the defaults chosen from them
//
// The network of the issue: 30 % of the nodes at 99 % uptime, 70 % at
// 60 %; lifetimes 2 years, disk failures 2 % a year, 1 % droppers, 5 % of
// the data overwritten a month, 16 MiB segments, owners' uplinks 2 MiB/s,
// repair budget 1 MiB/s. 1,000 nodes and 50,000 segments for 365 days,
// seed 1 (ishtar simulate --nodes 1000 --segments 50000 --sweep ...);
// durability is measured nines (">=": nothing lost, the lower end of the
// interval) and the extrapolation; repair is bytes per stored byte per
// month and its ratio to the churn's upload bytes.
//
// Codes, with a 24 h grace and the threshold K + ceil((N-K)/2):
//
//	code   durability        availability  repair  /churn  expansion
//	3/5    3.9 (10 lost)     99.6594 %     1.725   20.8x   1.67x
//	6/12   >= 4.3, ~8.1      99.8361 %     0.633    6.3x   2.00x
//	10/20  >= 4.3, ~11.3     99.9134 %     0.422    4.2x   2.00x
//	10/30  >= 4.3, ~17.4     99.9999 %     0.233    1.5x   3.00x
//	16/32  >= 4.3, ~14.5     99.9625 %     0.323    3.2x   2.00x
//
// Offline grace, 3 of 5 (threshold 4):
//
//	grace  durability        availability  repair  /churn
//	1h     4.6 (2 lost)      99.9955 %     12.504  151.3x
//	12h    4.2 (5 lost)      99.9204 %      3.586   43.1x
//	24h    3.9 (10 lost)     99.6594 %      1.725   20.8x
//	72h    3.3 (40 lost)     94.0621 %      0.370    4.5x
//
// Offline grace, 10 of 30 (threshold 20):
//
//	grace  durability        availability  repair  /churn
//	1h     >= 4.3, ~15.5     100.0000 %    0.950    6.3x
//	12h    >= 4.3, ~17.6     100.0000 %    0.420    2.8x
//	24h    >= 4.3, ~17.4      99.9999 %    0.233    1.5x
//	72h    >= 4.3, ~12.9      99.9980 %    0.135    0.9x
//	168h   >= 4.3, ~11.4      99.9953 %    0.131    0.9x
//
// Repair threshold, 10 of 30, 24 h grace (threshold = 10 + margin):
//
//	margin durability        availability  repair  /churn
//	4      >= 4.3, ~9.0       99.9469 %    0.070    0.5x
//	7      >= 4.3, ~12.7      99.9966 %    0.137    0.9x
//	10     >= 4.3, ~17.4      99.9999 %    0.233    1.5x
//	14     >= 4.3, ~22.4     100.0000 %    0.555    3.7x
//
// Placement's uptime weighting (the exponent of uptime in the weight; 1
// is segstore.Weight), 24 h grace:
//
//	weight  3/5: availability, repair/churn   10/30: availability, repair/churn
//	0       99.2877 %, 28.4x                  99.9979 %, 1.7x
//	1       99.6594 %, 20.8x                  99.9999 %, 1.5x
//	2       99.8360 %, 15.1x                  100.0000 %, 1.5x
//	4       99.9490 %, 10.3x                  100.0000 %, 1.2x
//
// Three seeds of 10 of 30 pooled (--code 10/30 --runs 3): 0 of 241,849
// segments lost (>= 4.8 nines measured), availability 99.99997 %, repair
// 0.211 bytes per stored byte per month (1.4x the churn's 0.151), audits
// 0.256: with 1.6 MiB shards, a 64 KiB proof per shard every 14 days
// costs as much as repair. No segment fell below a margin of 9 (21 of 30
// shards left); its least margins were 9 (38 segments), 10 (1,244), 11
// (18,123).
//
// What follows. 3 of 5 meets none of the goals (eleven nines, 99.9 %
// availability, expansion <= 3x, repair <= 2x churn) at any grace or
// weighting: a short grace keeps it available by moving every home
// machine's shards each night (150x the churn), a long one leaves reads
// failing 6 % of the time, and at every grace it loses segments, because
// a dropped shard or a dead disk is unnoticed until its audit, two weeks
// on, and three of five go together too often. Uptime weighting helps 3
// of 5 (weight 4: 99.95 %, 10x) but not to the goals, and would pile the
// data on the 30 % of servers. 10 of 30 with a threshold of 20 meets all
// four at 3x expansion for graces of 24 h to 72 h; 24 h keeps twice the
// margin in the extrapolation for 1.5x rather than 0.9x the churn.
//
// The defaults changed accordingly, in gateway/upkeep/policy: OfflineGrace
// 24 h (was 1 h) and RepairThreshold K + ceil((N-K)/2) (was K+1: the same
// 4 for 3 of 5, but for wide codes K+1 means waiting until K of K+1
// holders are online at once: 10 of 20 at K+1 with a 72 h grace lost 95
// segments of 80,482 and was available 92.9 % of the time; at the new
// threshold, 15, with a 24 h grace, none and 99.91 %), and the default
// code is 10 of 30 (shard.WideParams; policy.Defaults, and so this
// package's Defaults). Every placement needs N places (address blocks),
// so the gateway codes a new segment 10 of 30 only while 30 blocks have
// room for its shards and 3 of 5 until then (gateway.Config.Fallback: a
// devnet of six nodes, a new network); each segment records its code and
// upkeep judges and repairs each by its own. Setting gateway.k and
// gateway.n codes every segment alike.
//
// At the full scale, on the 2-core machine the issue names, shared with
// other work (3 of 5 was the default when the first was measured):
//
//	/usr/bin/time -v ishtar simulate --nodes 10000 --days 365 --code 3/5 --json
//	1,000,000 segments (1,607,586 stored over the year), 41.5 million
//	events: 176 s wall, 259 MB peak RSS; 369 lost (3.6 nines),
//	availability 99.72 %, repair 1.59 bytes per stored byte per month
//	(19x the churn), policy_mismatches 0.
//
//	/usr/bin/time -v ishtar simulate --nodes 10000 --days 365 --json
//	(the default, 10 of 30) 24.8 million events: 124 s wall on a quiet
//	machine (281 s beside other work), 1.02 GB peak RSS; 0 of 1,609,242
//	lost (>= 5.6 nines measured, 19.8 extrapolated; the worst segment
//	fell to a margin of 8, 18 of 30 shards), availability 99.9999 %,
//	repair 0.219 bytes per stored byte per month (1.46x the churn),
//	audits 0.256.
//
// BenchmarkRun (1,000 nodes, 100,000 segments, 30 days, the defaults):
// go test -run '^$' -bench Run -benchtime 3x -benchmem ./gateway/sim/
// gives 2.2 s/op, 1.1 million events, 6 repairs and 1.0 GB allocated
// per op (3.1 s/op, 2.1 million events and 392,000 repairs with 3 of 5).
package sim
