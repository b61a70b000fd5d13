package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"ishtar/gateway/sim"
	"ishtar/gateway/upkeep/policy"
)

const simulateArgs = "[--nodes 10000] [--segments 1000000] [--days 365] [--k 10 --n 30 | --code 10/30] [--repair-threshold T] [--offline-grace D] [--uptime-mix 30%@99%,70%@60%] [--seed S] [--runs R] [--json] [--sweep PARAM=a,b,c [--svg FILE]]"

// simFlags are the model and policy flags of simulate, parsed again for
// each value of a sweep.
type simFlags struct {
	fs                                         *flag.FlagSet
	nodes, segments, k, n, threshold, margin   *int
	owners, reads                              *int
	days, afr, droppers, churn, bw, uw, rate   *float64
	fraction                                   *float64
	grace, lifetime                            *time.Duration
	mix, code                                  *string
	seed                                       *uint64
	segSize                                    *int64
	noRepair, instant, noSessions, noDiversity *bool
}

func newSimFlags(fs *flag.FlagSet) *simFlags {
	d := sim.Defaults()
	return &simFlags{
		fs:          fs,
		nodes:       fs.Int("nodes", d.Nodes, "nodes in the network at any time"),
		segments:    fs.Int("segments", d.Segments, "segments stored at any time"),
		days:        fs.Float64("days", d.Days, "simulated days"),
		k:           fs.Int("k", d.Policy.K, "data shards per segment"),
		n:           fs.Int("n", d.Policy.N, "shards per segment"),
		code:        fs.String("code", "", "K/N, as --k and --n (for --sweep code=3/5,6/12)"),
		threshold:   fs.Int("repair-threshold", 0, "repair a segment at this many healthy shards or fewer (0: the default, K plus half of N-K rounded up)"),
		margin:      fs.Int("repair-margin", -1, "repair threshold as K plus this (-1: unset)"),
		fraction:    fs.Float64("repair-fraction", -1, "repair threshold as K plus this share of N-K, rounded up (for sweeps across codes; -1: unset)"),
		grace:       fs.Duration("offline-grace", d.Policy.OfflineGrace, "a holder offline this long has its shards counted lost"),
		rate:        fs.Float64("repair-rate", d.Policy.RepairBytesPerSecond, "repair budget per owner, bytes/s"),
		mix:         fs.String("uptime-mix", sim.MixString(d.Mix), "machines: SHARE@UPTIME[/CYCLE],..."),
		lifetime:    fs.Duration("lifetime", d.Lifetime, "mean time a node stays before it leaves for good (0: never)"),
		afr:         fs.Float64("disk-afr", d.DiskAFR, "disk failures per node per year"),
		droppers:    fs.Float64("droppers", d.Droppers, "share of nodes that silently drop what they hold"),
		churn:       fs.Float64("churn", d.ChurnPerMonth, "share of the segments overwritten per 30 days"),
		segSize:     fs.Int64("segment-size", d.SegmentSize, "bytes per segment"),
		owners:      fs.Int("owners", 0, "gateways owning the segments (0: one per node)"),
		bw:          fs.Float64("owner-bandwidth", d.OwnerBandwidth, "each owner's uplink, bytes/s"),
		uw:          fs.Float64("uptime-weight", d.UptimeWeight, "exponent of uptime in the placement weight (1: the daemon's)"),
		reads:       fs.Int("reads", d.Reads, "read attempts sampled over the run"),
		seed:        fs.Uint64("seed", d.Seed, "random seed: the same seed gives the same run"),
		noRepair:    fs.Bool("no-repair", false, "never repair"),
		instant:     fs.Bool("instant-repair", false, "repairs take no time"),
		noSessions:  fs.Bool("no-sessions", false, "every node always online"),
		noDiversity: fs.Bool("no-diversity", false, "allow two shards of a segment in one address block"),
	}
}

// config builds the simulation from the flags.
func (f *simFlags) config() (sim.Config, error) {
	c := sim.Defaults()
	k, n := *f.k, *f.n
	if *f.code != "" {
		ks, ns, ok := strings.Cut(*f.code, "/")
		var err1, err2 error
		k, err1 = strconv.Atoi(ks)
		n, err2 = strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil {
			return c, fmt.Errorf("--code %q: want K/N, as 3/5", *f.code)
		}
	}
	if k < 1 || n <= k || n > 64 {
		return c, fmt.Errorf("code %d of %d: need 1 <= k < n <= 64", k, n)
	}
	c.Policy = policy.DefaultsFor(k, n)
	if *f.threshold != 0 {
		c.Policy.RepairThreshold = *f.threshold
	}
	if *f.margin >= 0 {
		c.Policy.RepairThreshold = k + *f.margin
	}
	if fr := *f.fraction; fr >= 0 {
		if fr > 1 {
			return c, fmt.Errorf("--repair-fraction %v: need 0 to 1", fr)
		}
		c.Policy.RepairThreshold = min(k+int(math.Ceil(fr*float64(n-k))), n-1)
	}
	c.Policy.OfflineGrace = *f.grace
	c.Policy.RepairBytesPerSecond = *f.rate
	mix, err := sim.ParseMix(*f.mix)
	if err != nil {
		return c, err
	}
	c.Mix = mix
	c.Nodes, c.Segments, c.Days = *f.nodes, *f.segments, *f.days
	c.Lifetime, c.DiskAFR, c.Droppers, c.ChurnPerMonth = *f.lifetime, *f.afr, *f.droppers, *f.churn
	c.SegmentSize, c.Owners, c.OwnerBandwidth, c.UptimeWeight = *f.segSize, *f.owners, *f.bw, *f.uw
	c.Reads, c.Seed = *f.reads, *f.seed
	c.Repair, c.InstantRepair, c.Sessions, c.Diversity = !*f.noRepair, *f.instant, !*f.noSessions, !*f.noDiversity
	return c, c.Validate()
}

// runSimulate runs the simulator (gateway/sim) and prints its result, or
// one row per value of --sweep.
func runSimulate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	f := newSimFlags(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON (for scripts)")
	series := fs.Bool("series", false, "with --json, include the daily time series")
	runs := fs.Int("runs", 1, "runs with consecutive seeds, pooled (the interval of the nines narrows)")
	sweep := fs.String("sweep", "", "PARAM=a,b,c: one run (of --runs) per value of the flag PARAM")
	svg := fs.String("svg", "", "with --sweep, write a plot of durability and availability to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, fs, simulateArgs)
			return err
		}
		return usageErrorf("simulate: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("simulate: unexpected argument %q", fs.Arg(0))
	}
	if *runs < 1 || *runs > 1000 {
		return usageErrorf("simulate: --runs %d: need 1 to 1000", *runs)
	}
	if *svg != "" && *sweep == "" {
		return usageErrorf("simulate: --svg needs --sweep")
	}
	if *sweep == "" {
		c, err := f.config()
		if err != nil {
			return usageErrorf("simulate: %v", err)
		}
		r, err := sim.RunSeeds(ctx, c, *runs)
		if err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
		if !*series {
			r.Series = nil
		}
		if *asJSON {
			return printJSON(e, r)
		}
		return printSimResult(e, c, r)
	}
	param, list, ok := strings.Cut(*sweep, "=")
	if !ok || list == "" || fs.Lookup(param) == nil || !isModelFlag(param) {
		return usageErrorf("simulate: --sweep %q: want PARAM=a,b,c with PARAM a model or policy flag", *sweep)
	}
	values := strings.Split(list, ",")
	if len(values) > 100 {
		return usageErrorf("simulate: --sweep: more than 100 values")
	}
	var pts []sim.Point
	var cfgs []sim.Config
	for _, v := range values {
		if err := fs.Set(param, strings.TrimSpace(v)); err != nil {
			return usageErrorf("simulate: --sweep %s=%s: %v", param, v, err)
		}
		c, err := f.config()
		if err != nil {
			return usageErrorf("simulate: --sweep %s=%s: %v", param, v, err)
		}
		cfgs = append(cfgs, c)
		pts = append(pts, sim.Point{Value: strings.TrimSpace(v)})
	}
	for i := range pts {
		r, err := sim.RunSeeds(ctx, cfgs[i], *runs)
		if err != nil {
			return fmt.Errorf("simulate: %s=%s: %w", param, pts[i].Value, err)
		}
		r.Series = nil
		pts[i].Result = r
		if !*asJSON {
			fmt.Fprintf(e.stderr, "simulate: %s=%s done in %.0fs\n", param, pts[i].Value, r.WallSeconds)
		}
	}
	if *svg != "" {
		if err := writeSweepSVG(*svg, param, cfgs[0], pts); err != nil {
			return fmt.Errorf("simulate: %w", err)
		}
	}
	if *asJSON {
		type row struct {
			Value string `json:"value"`
			sim.Result
		}
		rows := make([]row, len(pts))
		for i, p := range pts {
			rows[i] = row{p.Value, p.Result}
		}
		return printJSON(e, rows)
	}
	return printSweep(e, param, pts)
}

// isModelFlag: flags --sweep may vary.
func isModelFlag(name string) bool {
	switch name {
	case "json", "series", "runs", "sweep", "svg":
		return false
	}
	return true
}

func writeSweepSVG(path, param string, c sim.Config, pts []sim.Point) error {
	title := fmt.Sprintf("%d nodes, %d segments, %g days, %s", c.Nodes, c.Segments, c.Days, sim.MixString(c.Mix))
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sim.PlotSVG(fh, title, param, pts); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func printSimResult(e *env, c sim.Config, r sim.Result) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	p := c.Policy
	fmt.Fprintf(tw, "network\t%d nodes (%s), %d segments of %d MiB, %g days, %d run(s) from seed %d\n",
		c.Nodes, sim.MixString(c.Mix), c.Segments, c.SegmentSize>>20, c.Days, r.Runs, c.Seed)
	fmt.Fprintf(tw, "policy\t%d of %d (expansion %.2fx), repair at <= %d healthy, offline grace %v\n",
		p.K, p.N, r.Expansion, p.RepairThreshold, p.OfflineGrace)
	fmt.Fprintf(tw, "durability\t%s (segments lost %d of %d; 95%% interval %s)\n",
		ninesText(r.DurabilityNines, r.DurabilityNinesBound), r.SegmentsLost, r.SegmentsStored, intervalText(r))
	if r.ExtrapolatedNines > 0 {
		fmt.Fprintf(tw, "\textrapolated from near losses: %.1f nines\n", r.ExtrapolatedNines)
	}
	fmt.Fprintf(tw, "availability\t%.4f%% of %d sampled reads\n", 100*r.Availability, r.Reads)
	fmt.Fprintf(tw, "repair\t%.3f bytes per stored byte per month (%.1fx the churn of %.3f), %d repairs\n",
		r.RepairPerStoredMonth, r.RepairToChurn, r.ChurnPerStoredMonth, r.Repairs)
	fmt.Fprintf(tw, "audits\t%.4f bytes per stored byte per month\n", r.AuditPerStoredMonth)
	fmt.Fprintf(tw, "nodes\t%d departed, %d disk failures, %d droppers, %d shards found lost\n",
		r.NodesDeparted, r.DiskFailures, r.Droppers, r.ShardsFoundLost)
	fmt.Fprintf(tw, "run\t%d events in %.1fs\n", r.Events, r.WallSeconds)
	return tw.Flush()
}

func ninesText(v float64, bound bool) string {
	if bound {
		return fmt.Sprintf(">= %.1f nines", v)
	}
	return fmt.Sprintf("%.1f nines", v)
}

func intervalText(r sim.Result) string {
	if r.NinesHigh < 0 {
		return fmt.Sprintf("%.1f and more", r.NinesLow)
	}
	return fmt.Sprintf("%.1f to %.1f", r.NinesLow, r.NinesHigh)
}

func printSweep(e *env, param string, pts []sim.Point) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tdurability\tlost\textrapolated\tavailability\trepair/stored/month\trepair/churn\texpansion\n", param)
	for _, p := range pts {
		r := p.Result
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.1f\t%.4f%%\t%.3f\t%.1fx\t%.2fx\n", p.Value,
			ninesText(r.DurabilityNines, r.DurabilityNinesBound), r.SegmentsLost, r.SegmentsStored,
			r.ExtrapolatedNines, 100*r.Availability, r.RepairPerStoredMonth, r.RepairToChurn, r.Expansion)
	}
	return tw.Flush()
}
