// Command bench is `make bench`'s end-to-end benchmark: it builds
// cmd/ishtar, starts `ishtar devnet` (k=3, n=5: too few nodes for 10 of
// 30; encryption on) as a child process, drives it with an aws-sdk-go-v2
// client, and prints one line per figure:
//
//	BENCH <name> <value> <unit>
//
// In the same run and with the same client it measures a plain HTTP server
// (this program re-executed with -plain) that only writes bodies to files
// with fsync and reads them back, prints its figures as plain_<name>, and
// each of Ishtar's as a ratio to it, <name>_vs_plain (Ishtar's value over
// the plain one's: above 1 is better for throughputs, worse for times and
// memory), so results compare across noisy machines.
//
// Every figure has a fixed amount of work (a number of objects), so the
// run's duration is bounded. Run it from the module's root:
//
//	go run ./integration/bench
//
// To see where the devnet's time goes, -pprof DIR runs it with --pprof and
// saves a CPU, block and mutex profile of each figure (its first
// -pprof-seconds) in DIR; -no-plain skips the baseline:
//
//	go run ./integration/bench -no-plain -pprof /tmp/prof
//	go tool pprof -top /tmp/prof/put_64MiB_4c.cpu.pprof
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"ishtar/integration/devnet"
)

// options are the amounts of work.
type options struct {
	bigObjects   int   // 64 MiB objects, spread over the big clients
	bigClients   int   // parallel clients for 64 MiB objects
	smallObjects int   // 4 KiB objects, spread over the small clients
	smallClients int   // parallel clients for 4 KiB objects
	listKeys     int   // keys listed (completed with server-side copies)
	rssSize      int64 // the upload whose peak RSS is measured
	keep         bool  // keep the data directories
	noPlain      bool  // skip the baseline (quicker, for profiling)
	pprofDir     string
	pprofSeconds int
}

func main() {
	var o options
	plain := flag.String("plain", "", "internal: serve the plain baseline in `DIR` and print its address")
	flag.IntVar(&o.bigObjects, "big", 16, "number of 64 MiB objects")
	flag.IntVar(&o.bigClients, "big-clients", 4, "parallel clients for 64 MiB objects")
	flag.IntVar(&o.smallObjects, "small", 4000, "number of 4 KiB objects")
	flag.IntVar(&o.smallClients, "small-clients", 16, "parallel clients for 4 KiB objects")
	flag.IntVar(&o.listKeys, "list", 10000, "keys to list in pages of 1000")
	flag.Int64Var(&o.rssSize, "rss-size", 2<<30, "size in bytes of the upload whose peak RSS is measured")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directories")
	flag.BoolVar(&o.noPlain, "no-plain", false, "skip the plain baseline (no ratios)")
	flag.StringVar(&o.pprofDir, "pprof", "", "run the devnet with --pprof and save CPU, block and mutex profiles of each figure in `DIR`")
	flag.IntVar(&o.pprofSeconds, "pprof-seconds", 5, "length of each profile taken with -pprof")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *plain != "" {
		err = servePlain(ctx, *plain)
	} else {
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// target is one server under test.
type target struct {
	name     string // "" for Ishtar, "plain" for the baseline
	endpoint string
	ak, sk   string
	pid      int
}

func run(ctx context.Context, o options) error {
	root, err := os.MkdirTemp("", "ishtar-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: data in", root)
	} else {
		defer os.RemoveAll(root)
	}
	bin, err := devnet.Build(ctx, root)
	if err != nil {
		return err
	}
	addr, err := devnet.FreeAddr()
	if err != nil {
		return err
	}
	args := []string{"--capacity", "256GiB", "--log-level", "warn"}
	var prof *profiler
	if o.pprofDir != "" {
		paddr, err := devnet.FreeAddr()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
		args = append(args, "--pprof", paddr)
		prof = &profiler{addr: paddr, dir: o.pprofDir, seconds: o.pprofSeconds}
	}
	fmt.Fprintln(os.Stderr, "bench: starting devnet")
	dn, err := devnet.Start(ctx, devnet.Options{Bin: bin, Dir: filepath.Join(root, "devnet"), S3: addr, Args: args})
	if err != nil {
		return err
	}
	defer dn.Kill()
	targets := []target{{endpoint: dn.Endpoint, ak: dn.AccessKey, sk: dn.SecretKey, pid: dn.PID()}}
	if !o.noPlain {
		pl, err := startPlain(ctx, filepath.Join(root, "plain"))
		if err != nil {
			return err
		}
		defer pl.kill()
		targets = append(targets, target{name: "plain", endpoint: pl.endpoint, ak: "plain", sk: "plain", pid: pl.pid()})
	}
	start := time.Now()
	for _, fig := range figures(o) {
		var vals [2]float64
		for i, tg := range targets {
			fmt.Fprintf(os.Stderr, "bench: %s on %s\n", fig.name, nameOf(tg))
			var wait func() error
			if tg.name == "" {
				wait = prof.start(ctx, fig.name)
			}
			cpu0, _ := cpuTimes(tg.pid)
			v, err := fig.run(ctx, tg)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", fig.name, nameOf(tg), err)
			}
			if cpu1, err := cpuTimes(tg.pid); err == nil {
				fmt.Fprintf(os.Stderr, "bench: %s on %s: %.1f %s, server CPU %.2f s user + %.2f s system\n",
					fig.name, nameOf(tg), v, fig.unit, cpu1[0]-cpu0[0], cpu1[1]-cpu0[1])
			}
			if wait != nil {
				if err := wait(); err != nil {
					return err
				}
			}
			vals[i] = v
		}
		fmt.Printf("BENCH %s %.1f %s\n", fig.name, vals[0], fig.unit)
		if len(targets) > 1 {
			fmt.Printf("BENCH plain_%s %.1f %s\n", fig.name, vals[1], fig.unit)
			fmt.Printf("BENCH %s_vs_plain %.3f x\n", fig.name, vals[0]/vals[1])
		}
	}
	fmt.Fprintf(os.Stderr, "bench: done in %v\n", time.Since(start).Round(time.Second))
	return nil
}

func nameOf(t target) string {
	if t.name == "" {
		return "ishtar"
	}
	return t.name
}

// figure is one measured number; run does its fixed work on a target.
type figure struct {
	name, unit string
	run        func(ctx context.Context, t target) (float64, error)
}

func figures(o options) []figure {
	return []figure{
		{fmt.Sprintf("rss_peak_%dMiB_upload", o.rssSize>>20), "MiB", func(ctx context.Context, t target) (float64, error) {
			return peakRSS(ctx, t, o.rssSize)
		}},
		{fmt.Sprintf("put_64MiB_%dc", o.bigClients), "MB/s", func(ctx context.Context, t target) (float64, error) {
			return putBig(ctx, t, o)
		}},
		{fmt.Sprintf("get_64MiB_%dc", o.bigClients), "MB/s", func(ctx context.Context, t target) (float64, error) {
			return getBig(ctx, t, o)
		}},
		{fmt.Sprintf("put_4KiB_%dc", o.smallClients), "ops/s", func(ctx context.Context, t target) (float64, error) {
			return putSmall(ctx, t, o)
		}},
		{fmt.Sprintf("get_4KiB_%dc", o.smallClients), "ops/s", func(ctx context.Context, t target) (float64, error) {
			return getSmall(ctx, t, o)
		}},
		{fmt.Sprintf("list_%d_by_1000", o.listKeys), "ms", func(ctx context.Context, t target) (float64, error) {
			return listKeys(ctx, t, o)
		}},
	}
}
