package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"ishtar/gateway/upkeep/policy"
)

// Class is one kind of machine in the network: a share of the nodes
// with the same uptime and session rhythm.
type Class struct {
	Share  float64 // of the nodes, in (0, 1]; the shares of a mix sum to 1
	Uptime float64 // long-run share of time online, in (0, 1]
	// Cycle is the mean length of one online period plus one offline
	// period; both are exponential, online with mean Uptime x Cycle.
	// Zero: 30 days for Uptime >= 0.9 (servers: rare, hours-long
	// outages), 1 day otherwise (home machines: nights off).
	Cycle time.Duration
}

// Config is one simulated network and the policy it runs. Build it with
// Defaults and change what must differ; Run validates it.
type Config struct {
	Nodes    int     // nodes at any time (a departed node is replaced)
	Segments int     // segments stored at any time
	Days     float64 // simulated time
	Seed     uint64  // the run is a function of Config, Seed included

	// Policy is the upkeep policy the gateways run: K, N,
	// RepairThreshold, OfflineGrace, RepairBytesPerSecond, audits and
	// leases come from it (policy.DefaultsFor).
	Policy policy.Config

	Mix []Class // the machines; Defaults: 30 % at 99 %, 70 % at 60 %
	// Lifetime is the mean time a node stays in the network before it
	// leaves for good, with its data (exponential); zero: never.
	Lifetime time.Duration
	// DiskAFR is the yearly rate of disk failures per node: the node
	// stays, empty, and audits find its shards gone.
	DiskAFR float64
	// Droppers is the share of nodes that acknowledge shards and
	// silently drop them (always online, one address block per 50 of
	// them: an operator posing as many peers).
	Droppers float64

	SegmentSize int64 // bytes before coding; a shard is SegmentSize/K
	// ChurnPerMonth is the share of the stored segments overwritten per
	// 30 days (the old one released, a new one uploaded).
	ChurnPerMonth float64
	// Owners is the number of gateways owning the segments (segment s
	// belongs to s mod Owners); each uploads and repairs through its own
	// uplink of OwnerBandwidth bytes/s, repairs capped by the policy's
	// RepairBytesPerSecond. Zero: Nodes.
	Owners         int
	OwnerBandwidth float64

	// UptimeWeight is the exponent of uptime in the placement weight:
	// 1 is segstore.Weight, what the daemon runs; 0 ignores uptime; 2
	// favours reliable peers more.
	UptimeWeight float64
	// Diversity: no two shards of a segment in one address block.
	Diversity bool

	// Repair off: nothing is ever repaired (for closed-form checks).
	Repair bool
	// InstantRepair: a repair takes no time or bandwidth.
	InstantRepair bool
	// Sessions off: every node is always online.
	Sessions bool

	// Reads is the number of sampled read attempts over the run.
	Reads int
}

// Defaults returns the network of the issue: nodes home machines and
// servers, the daemon's policy defaults.
func Defaults() Config {
	return Config{
		Nodes:          10000,
		Segments:       1000000,
		Days:           365,
		Seed:           1,
		Policy:         policy.Defaults(),
		Mix:            []Class{{Share: 0.3, Uptime: 0.99}, {Share: 0.7, Uptime: 0.6}},
		Lifetime:       2 * 365 * 24 * time.Hour,
		DiskAFR:        0.02,
		Droppers:       0.01,
		SegmentSize:    16 << 20,
		ChurnPerMonth:  0.05,
		OwnerBandwidth: 2 << 20,
		UptimeWeight:   1,
		Diversity:      true,
		Repair:         true,
		Sessions:       true,
		Reads:          1000000,
	}
}

// Validate reports everything wrong with c (errors.Join: one line each).
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("sim: "+format, a...)) }
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	// About 13 bytes per shard slot: 2^27 slots is under 2 GiB.
	const maxNodes, maxSlots = 1 << 24, 1 << 27
	if c.Nodes < c.Policy.N || c.Nodes > maxNodes {
		bad("nodes %d: need N (%d) to %d", c.Nodes, c.Policy.N, maxNodes)
	}
	if c.Segments < 1 || c.Policy.N > 0 && int64(c.Segments)*int64(c.Policy.N) > maxSlots {
		bad("segments %d: need 1 to %d shards in all", c.Segments, maxSlots)
	}
	if !(c.Days > 0 && c.Days <= 100*365) {
		bad("days %v: need > 0 and <= 36500", c.Days)
	}
	if len(c.Mix) == 0 {
		bad("uptime mix: empty")
	}
	var share float64
	for _, cl := range c.Mix {
		if !(cl.Share > 0 && cl.Share <= 1) || !(cl.Uptime > 0 && cl.Uptime <= 1) || cl.Cycle < 0 {
			bad("uptime mix class %v@%v: need share and uptime in (0, 1]", cl.Share, cl.Uptime)
		}
		share += cl.Share
	}
	if len(c.Mix) > 0 && math.Abs(share-1) > 1e-6 {
		bad("uptime mix: shares sum to %v, need 1", share)
	}
	if c.Lifetime < 0 {
		bad("lifetime %v: need >= 0", c.Lifetime)
	}
	if !(c.DiskAFR >= 0 && c.DiskAFR <= 100) {
		bad("disk AFR %v: need 0 to 100", c.DiskAFR)
	}
	if !(c.Droppers >= 0 && c.Droppers < 0.5) {
		bad("droppers %v: need 0 <= share < 0.5", c.Droppers)
	}
	if c.SegmentSize < 1 || c.SegmentSize > 1<<40 {
		bad("segment size %d: need 1 to 1 TiB", c.SegmentSize)
	}
	if !(c.ChurnPerMonth >= 0 && c.ChurnPerMonth <= 30) {
		bad("churn %v: need 0 to 30 per month", c.ChurnPerMonth)
	}
	if c.Owners < 0 || c.Owners > c.Segments {
		bad("owners %d: need 0 to segments (%d)", c.Owners, c.Segments)
	}
	if !(c.OwnerBandwidth > 0) {
		bad("owner bandwidth %v: need > 0", c.OwnerBandwidth)
	}
	if !(c.UptimeWeight >= 0 && c.UptimeWeight <= 16) {
		bad("uptime weight %v: need 0 to 16", c.UptimeWeight)
	}
	if c.Reads < 0 || c.Reads > 1<<31 {
		bad("reads %d: need 0 to 2^31", c.Reads)
	}
	return errors.Join(errs...)
}

// cycle is the mean session cycle of cl.
func (cl Class) cycle() time.Duration {
	switch {
	case cl.Cycle > 0:
		return cl.Cycle
	case cl.Uptime >= 0.9:
		return 30 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// ParseMix parses an uptime mix: comma-separated SHARE@UPTIME classes,
// each a fraction or a percentage, optionally /CYCLE (a duration), as in
// "30%@99%,70%@60%" or "0.5@0.9/48h,0.5@0.7".
func ParseMix(s string) ([]Class, error) {
	var out []Class
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		share, rest, ok := strings.Cut(part, "@")
		if !ok {
			return nil, fmt.Errorf("sim: uptime mix %q: want SHARE@UPTIME[/CYCLE]", part)
		}
		up, cyc, hasCycle := strings.Cut(rest, "/")
		var cl Class
		var err error
		if cl.Share, err = parseFraction(share); err != nil {
			return nil, fmt.Errorf("sim: uptime mix %q: share: %w", part, err)
		}
		if cl.Uptime, err = parseFraction(up); err != nil {
			return nil, fmt.Errorf("sim: uptime mix %q: uptime: %w", part, err)
		}
		if hasCycle {
			if cl.Cycle, err = time.ParseDuration(cyc); err != nil || cl.Cycle <= 0 {
				return nil, fmt.Errorf("sim: uptime mix %q: cycle %q: want a positive duration", part, cyc)
			}
		}
		out = append(out, cl)
		if len(out) > 64 {
			return nil, errors.New("sim: uptime mix: more than 64 classes")
		}
	}
	return out, nil
}

// parseFraction parses "0.6" or "60%" into a number in (0, 1].
func parseFraction(s string) (float64, error) {
	s = strings.TrimSpace(s)
	div := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, div = t, 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	v /= div
	if !(v > 0 && v <= 1) {
		return 0, fmt.Errorf("%v is not in (0, 1]", v)
	}
	return v, nil
}

// MixString formats a mix as ParseMix reads it.
func MixString(mix []Class) string {
	var b strings.Builder
	for i, cl := range mix {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%g%%@%g%%", cl.Share*100, cl.Uptime*100)
		if cl.Cycle > 0 {
			fmt.Fprintf(&b, "/%v", cl.Cycle)
		}
	}
	return b.String()
}
