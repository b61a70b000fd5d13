package policy

import (
	"errors"
	"fmt"
	"time"

	"ishtar/shard"
)

// Config holds the policy's parameters. Build one with Defaults or
// DefaultsFor, change what must differ, and give it to New, which
// validates it.
type Config struct {
	// K and N are the erasure code: any K of a segment's N shards rebuild
	// it (shard.Params). Segments of another code (SegmentState.K, N) are
	// judged by their own, repaired at RepairThresholdFor(K, N).
	K, N int

	// RepairThreshold: a segment of the code K, N is repaired once its healthy shards fall
	// to this many or fewer (default K plus half of N-K, rounded up, at
	// most N-1: 4 for 3 of 5, 20 for 10 of 30; or K when N is K+1). A
	// wide code repaired only at K+1 waits for K of K+1 holders to be
	// online at once, and loses data while it waits (gateway/sim).
	RepairThreshold int
	// OfflineGrace: a peer unreachable for less than this is Away, its
	// shards still count as healthy (default 24 h: a home machine off
	// for the night causes no repair; gateway/sim); at or beyond it, they
	// are lost.
	OfflineGrace time.Duration
	// ProbeAfter: a holder not contacted for this long is probed (asked
	// to prove its key at its address), so that one that left is seen
	// down, and one that came back seen up, well within OfflineGrace
	// (zero: OfflineGrace/4, as New sets it). MaxProbes bounds the probes of one call
	// of ProbesDue (default 256).
	ProbeAfter time.Duration
	MaxProbes  int

	// AuditInterval: each shard is audited about once per interval
	// (default 14 days), as far as the audit budget allows.
	AuditInterval time.Duration
	// AuditBytesPerSecond is the ceiling on audit traffic (default 64
	// KiB/s: about 1.2 million shards per AuditInterval).
	AuditBytesPerSecond float64
	// AuditOverhead is what one audit costs besides its leaf and Merkle
	// path: request, nonce, signature, node key and encoding (default
	// 1 KiB).
	AuditOverhead int64
	// RecheckAfter is how long after a failed audit the shard is audited
	// again, on a new random leaf (default 15 min).
	RecheckAfter time.Duration
	// SuspectReputation: shards of a peer whose reputation is at or below
	// it are audited SuspectSpeedup times as often (default 0.5: one fresh
	// demerit in the registry's 1/(1+d)).
	SuspectReputation float64
	// LeafSize is the Merkle leaf size of shards (default
	// shard.DefaultBlockSize, 64 KiB).
	LeafSize int

	// RepairBytesPerSecond is the repair budget, separate from audits'
	// (default 1 MiB/s). A repair costs K shards read and one written per
	// shard made.
	RepairBytesPerSecond float64

	// BurstWindow bounds what unused budget saves up: a budget never holds
	// more than BurstWindow of its rate (default 10 min). Call the upkeep
	// loop more often than this or budget is lost.
	BurstWindow time.Duration

	// Lease is the lease a renewal asks for (default 90 days) and
	// RenewBefore how close to its expiry a lease is renewed (default
	// Lease/3).
	Lease, RenewBefore time.Duration
	// RenewBatch bounds the shard IDs of one renewal (default and maximum
	// shard.MaxRenewBatch, 4096).
	RenewBatch int

	// MinAcks: an upload commits a segment once this many of its shards
	// are stored (default K+1, at most N); repair places the others.
	MinAcks int
}

// SuspectSpeedup is how many times as often the shards of a suspect peer
// (reputation at or below Config.SuspectReputation) are audited.
const SuspectSpeedup = 4

// FailuresToLose is how many consecutive failed audits make a shard lost:
// a failure is checked again once (Config.RecheckAfter), and the second
// one is believed.
const FailuresToLose = 2

// Defaults returns the defaults for the network's code (shard.WideParams:
// 10 of 30).
func Defaults() Config {
	p := shard.WideParams()
	return DefaultsFor(p.K, p.N)
}

// RepairThresholdFor is the default repair threshold of a K-of-N code: K
// plus half of N-K, rounded up, at most N-1.
func RepairThresholdFor(k, n int) int { return min(k+(n-k+1)/2, n-1) }

// DefaultsFor returns the defaults for a K-of-N code.
func DefaultsFor(k, n int) Config {
	return Config{
		K: k, N: n,
		RepairThreshold:      RepairThresholdFor(k, n),
		OfflineGrace:         24 * time.Hour,
		MaxProbes:            256,
		AuditInterval:        14 * 24 * time.Hour,
		AuditBytesPerSecond:  64 << 10,
		AuditOverhead:        1 << 10,
		RecheckAfter:         15 * time.Minute,
		SuspectReputation:    0.5,
		LeafSize:             shard.DefaultBlockSize,
		RepairBytesPerSecond: 1 << 20,
		BurstWindow:          10 * time.Minute,
		Lease:                90 * 24 * time.Hour,
		RenewBefore:          30 * 24 * time.Hour,
		RenewBatch:           shard.MaxRenewBatch,
		MinAcks:              min(k+1, n),
	}
}

// Validate reports everything wrong with c (errors.Join: one line each).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("policy: "+format, a...)) }
	if c.K < 1 || c.K >= c.N || c.N > shard.MaxShards {
		bad("code %d of %d: need 1 <= K < N <= %d", c.K, c.N, shard.MaxShards)
	}
	// Below K a repair is asked only when it is impossible; at N or above
	// every segment is always repaired.
	if c.RepairThreshold < c.K || c.RepairThreshold >= c.N {
		bad("RepairThreshold %d: need K (%d) <= RepairThreshold < N (%d)", c.RepairThreshold, c.K, c.N)
	}
	// Fewer than K acknowledged shards cannot be read back; more than N
	// can never be stored.
	if c.MinAcks < c.K || c.MinAcks > c.N {
		bad("MinAcks %d: need K (%d) <= MinAcks <= N (%d)", c.MinAcks, c.K, c.N)
	}
	if c.OfflineGrace <= 0 {
		bad("OfflineGrace %v: need > 0", c.OfflineGrace)
	}
	// A holder must be probed more than once within the grace: a peer
	// back after one failed probe is seen before its shards are lost.
	if c.ProbeAfter < 0 || c.ProbeAfter > c.OfflineGrace/2 {
		bad("ProbeAfter %v: need 0 <= ProbeAfter <= OfflineGrace/2 (%v)", c.ProbeAfter, c.OfflineGrace/2)
	}
	if c.MaxProbes < 1 {
		bad("MaxProbes %d: need >= 1", c.MaxProbes)
	}
	if c.AuditInterval <= 0 {
		bad("AuditInterval %v: need > 0", c.AuditInterval)
	}
	if !(c.AuditBytesPerSecond > 0) {
		bad("AuditBytesPerSecond %v: need > 0", c.AuditBytesPerSecond)
	}
	if c.AuditOverhead < 0 {
		bad("AuditOverhead %d: need >= 0", c.AuditOverhead)
	}
	if c.RecheckAfter <= 0 || c.RecheckAfter >= c.AuditInterval {
		bad("RecheckAfter %v: need 0 < RecheckAfter < AuditInterval (%v)", c.RecheckAfter, c.AuditInterval)
	}
	if !(c.SuspectReputation >= 0 && c.SuspectReputation < 1) {
		bad("SuspectReputation %v: need 0 <= SuspectReputation < 1", c.SuspectReputation)
	}
	if c.LeafSize < 1 || c.LeafSize > shard.MaxBlockSize {
		bad("LeafSize %d: need 1 to %d", c.LeafSize, shard.MaxBlockSize)
	}
	if !(c.RepairBytesPerSecond > 0) {
		bad("RepairBytesPerSecond %v: need > 0", c.RepairBytesPerSecond)
	}
	if c.BurstWindow <= 0 {
		bad("BurstWindow %v: need > 0", c.BurstWindow)
	}
	if c.Lease <= 0 || c.RenewBefore <= 0 || c.RenewBefore >= c.Lease {
		bad("Lease %v, RenewBefore %v: need 0 < RenewBefore < Lease", c.Lease, c.RenewBefore)
	}
	// A peer away at renewal time must come back, still within its grace,
	// before the lease lapses: otherwise away shards expire while counted
	// healthy.
	if c.OfflineGrace > 0 && c.RenewBefore > 0 && c.OfflineGrace >= c.RenewBefore {
		bad("OfflineGrace %v: need < RenewBefore (%v)", c.OfflineGrace, c.RenewBefore)
	}
	if c.RenewBatch < 1 || c.RenewBatch > shard.MaxRenewBatch {
		bad("RenewBatch %d: need 1 to %d", c.RenewBatch, shard.MaxRenewBatch)
	}
	return errors.Join(errs...)
}

// Policy is a validated Config. Its methods are pure: no I/O, no clock,
// no goroutines, no global randomness; the same inputs give the same
// outputs. A Policy is immutable and safe for concurrent use.
type Policy struct {
	c Config
}

// New validates c and returns its Policy.
func New(c Config) (Policy, error) {
	if err := c.Validate(); err != nil {
		return Policy{}, err
	}
	if c.ProbeAfter == 0 {
		c.ProbeAfter = c.OfflineGrace / 4
	}
	return Policy{c: c}, nil
}

// Config returns the policy's configuration.
func (p Policy) Config() Config { return p.c }
