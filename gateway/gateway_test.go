package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/shard"
)

func TestConfig(t *testing.T) {
	var c Config
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Params != shard.WideParams() || c.Fallback != shard.DefaultParams() || c.SegmentSize != 16<<20 || c.MinAcks != 30 || c.Concurrency != 4 ||
		c.Lease != 90*24*time.Hour || c.HedgeAfter != 250*time.Millisecond || c.ReleaseDelay != time.Minute {
		t.Fatalf("defaults %+v", c)
	}
	for name, mod := range map[string]func(*Config){
		"k>=n":          func(c *Config) { c.Params.K = 30 },
		"fallback k>=n": func(c *Config) { c.Fallback.K = 5 },
		"fallback acks": func(c *Config) { c.FallbackMinAcks = 6 },
		"small segment": func(c *Config) { c.SegmentSize = 100 },
		"acks<k":        func(c *Config) { c.MinAcks = 2 },
		"acks>n":        func(c *Config) { c.MinAcks = 31 },
		"concurrency":   func(c *Config) { c.Concurrency = -1 },
		"backoff":       func(c *Config) { c.BackoffMax = time.Millisecond },
		"attempts":      func(c *Config) { c.PutAttempts = -2 },
	} {
		c := Config{}
		c.Defaults()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seed, _ := shard.NewSeed(rand.Reader)
	if _, err := New(Config{MinAcks: 9}, db, seed.Keys(), segstore.StaticDirectory{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("New accepted a bad config")
	}
	if _, err := New(Config{}, db, shard.OwnerKeys{}, segstore.StaticDirectory{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("New accepted no owner keys")
	}
}

func TestSemaphore(t *testing.T) {
	s := newSemaphore(10)
	ctx := context.Background()
	if err := s.acquire(ctx, 6); err != nil {
		t.Fatal(err)
	}
	// 8 does not fit; a waiter behind it must not overtake it (FIFO).
	got := make(chan int64, 2)
	go func() {
		if s.acquire(ctx, 8) == nil {
			got <- 8
		}
	}()
	queued := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.waiters) == 1
	}
	for i := 0; !queued(); i++ { // poll for the condition, bounded
		if i == 10000 {
			t.Fatal("the waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.acquire(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled acquire: %v", err)
	}
	s.release(6)
	if n := <-got; n != 8 {
		t.Fatal(n)
	}
	// More than the size is clamped, never deadlocks.
	s.release(8)
	if err := s.acquire(ctx, 100); err != nil {
		t.Fatal(err)
	}
	s.release(100)
	if s.cur != 0 {
		t.Fatalf("cur %d", s.cur)
	}
}
