package daemon

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

// startDaemon runs a storage-only daemon (or a tracker) on loopback until
// the test ends and returns it once ready. Its rounds of discovery after
// the first two (the one before ready and the one Run starts with) are
// the test's to run: the exchange interval is an hour.
func startDaemon(t *testing.T, tracker bool, trackers ...string) *Daemon {
	t.Helper()
	var cfg Config
	cfg.Defaults()
	cfg.Data = t.TempDir()
	cfg.Listen, cfg.S3Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.StorageOnly = true
	cfg.Gateway.AddressDiversity = false // every node is in 127.0.0.0/24
	cfg.Network.Trackers = trackers
	cfg.Network.Tracker = tracker
	cfg.Network.ExchangeInterval = time.Hour
	key, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(cfg, Identity{Node: key}, Options{ShutdownGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- d.Run(ctx, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon %s: %v", d.NodeURL(), err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon ended before ready: %v", err)
	}
	return d
}

// Six nodes that know only a tracker know each other, each verified at
// its address, after a few rounds of exchange: a node announces itself to
// the tracker, the tracker challenges it, the others take its record from
// the tracker and challenge it in turn.
func TestTrackerConvergence(t *testing.T) {
	tr := startDaemon(t, true)
	if tr.Gateway() != nil || tr.S3URL() != "" {
		t.Fatal("a tracker runs a gateway")
	}
	rec, err := tr.Node().Record()
	if err != nil || rec.Capacity != 0 {
		t.Fatalf("the tracker offers %d bytes (%v)", rec.Capacity, err)
	}
	all := []*Daemon{tr}
	for range 6 {
		all = append(all, startDaemon(t, false, tr.NodeURL()))
	}
	const maxRounds = 4
	ctx := context.Background()
	for round := 1; ; round++ {
		var wg sync.WaitGroup
		for _, d := range all {
			wg.Go(func() { d.Discovery().Round(ctx) })
		}
		wg.Wait()
		missing := 0
		for _, d := range all {
			for _, o := range all {
				if o == d {
					continue
				}
				if p, ok := d.Registry().Get(o.NodeID()); !ok || !p.Tried {
					missing++
				}
			}
		}
		t.Logf("after round %d: %d of %d pairs do not know each other", round, missing, len(all)*(len(all)-1))
		if missing == 0 {
			break
		}
		if round == maxRounds {
			t.Fatalf("not every node knows every other after %d rounds", maxRounds)
		}
	}
	// Every storage node is placeable for the others; the tracker is not
	// (it offers nothing).
	for _, d := range all[1:] {
		for _, o := range all[1:] {
			if o == d {
				continue
			}
			if p, _ := d.Registry().Get(o.NodeID()); !p.Placeable {
				t.Errorf("%s: %s is not placeable: %s", d.NodeURL(), o.NodeURL(), p.Why)
			}
		}
		if p, _ := d.Registry().Get(tr.NodeID()); p.Placeable {
			t.Errorf("%s: the tracker is placeable", d.NodeURL())
		}
	}
}
