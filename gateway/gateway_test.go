package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

func TestConfig(t *testing.T) {
	var c Config
	c.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Params != shard.DefaultParams() || c.SegmentSize != 16<<20 || c.MinAcks != 5 || c.Concurrency != 4 ||
		c.Lease != 90*24*time.Hour || c.HedgeAfter != 250*time.Millisecond || c.ReleaseDelay != time.Minute {
		t.Fatalf("defaults %+v", c)
	}
	for name, mod := range map[string]func(*Config){
		"k>=n":          func(c *Config) { c.Params.K = 5 },
		"small segment": func(c *Config) { c.SegmentSize = 100 },
		"acks<k":        func(c *Config) { c.MinAcks = 2 },
		"acks>n":        func(c *Config) { c.MinAcks = 6 },
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
	if _, err := New(Config{MinAcks: 9}, db, seed.Keys(), StaticDirectory{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("New accepted a bad config")
	}
	if _, err := New(Config{}, db, shard.OwnerKeys{}, StaticDirectory{}, slog.New(slog.DiscardHandler)); err == nil {
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

func TestBufPool(t *testing.T) {
	for n, want := range map[int]int{1: 1, 64 << 10: 64 << 10, 16 << 20: 16 << 20, 16<<20 + 1: 18 << 20,
		(16<<20+4096)*5/3 + 1: 28 << 20} {
		if got := classSize(n); got != want {
			t.Errorf("classSize(%d) = %d, want %d", n, got, want)
		}
	}
	p := newBufPool(5 << 20)
	b := p.get(1 << 20)
	if len(b) != 1<<20 || cap(b) != classSize(1<<20) {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	p.put(b)
	p.put(make([]byte, 3<<20+5)) // not a class size: dropped
	p.put(make([]byte, 2<<20))   // a class size, but not the pool's: dropped
	c := p.get(1000 << 10)
	if cap(c) != classSize(1000<<10) || len(c) != 1000<<10 {
		t.Fatalf("reused buffer len %d cap %d", len(c), cap(c))
	}
	if isBig(b) && &c[0] != &b[0] {
		t.Fatal("a big buffer put back was not reused")
	}
	// Small buffers come from the allocator or a sync.Pool.
	s := p.get(100 << 10)
	s[len(s)-1] = 1
	p.put(s)
	// Idle big buffers beyond maxIdle are released.
	var bufs [][]byte
	for range 8 {
		x := p.get(1 << 20)
		x[0], x[len(x)-1] = 1, 2 // writable to the end
		bufs = append(bufs, x)
	}
	for _, x := range bufs {
		p.put(x)
	}
	p.put(c)
	if p.idle > 5<<20 {
		t.Fatalf("%d idle bytes kept, at most %d", p.idle, 5<<20)
	}
	p.releaseIdle()
	if p.idle != 0 || p.mapped.Load() != 0 {
		t.Fatalf("after releaseIdle: %d idle, %d mapped", p.idle, p.mapped.Load())
	}
}
