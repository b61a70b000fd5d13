package node

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

func nonceN(i int) (n [nonceLen]byte) {
	binary.BigEndian.PutUint64(n[:], uint64(i))
	return n
}

func TestNonceStoreWindow(t *testing.T) {
	c := newNonceStore(10*time.Minute, 100)
	now := time.Unix(1_000_000, 0)
	node := shard.PublicKey{1}
	for i := range 50 {
		ts := now.Unix() - int64(i*12) // spread over the last 10 minutes
		if err := c.add(now, ts, node, nonceN(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.add(now, now.Unix()-12, node, nonceN(1)); err != ErrReplayed {
		t.Fatalf("replay within the window: %v", err)
	}
	if err := c.add(now, now.Unix()-12, shard.PublicKey{2}, nonceN(1)); err != nil {
		t.Fatalf("same nonce from another node: %v", err)
	}
	// Twenty minutes later every old group has expired.
	later := now.Add(20 * time.Minute)
	if err := c.add(later, later.Unix(), node, nonceN(200)); err != nil {
		t.Fatal(err)
	}
	if c.n != 1 || len(c.secs) != 1 {
		t.Fatalf("%d nonces in %d groups remembered, want 1 in 1", c.n, len(c.secs))
	}
}

// A caller flooding signed requests fills the store; the store forgets
// its oldest seconds and keeps accepting fresh requests from everyone,
// with memory bounded by max whatever the rate.
func TestNonceStoreUnderFlood(t *testing.T) {
	const max = 1000
	c := newNonceStore(10*time.Minute, max)
	start := time.Unix(2_000_000, 0)
	heavy, honest := shard.PublicKey{1}, shard.PublicKey{2}
	// Ten minutes of 100 requests a second: 60 times the bound.
	i := 0
	for sec := range 600 {
		now := start.Add(time.Duration(sec) * time.Second)
		for range 100 {
			i++
			if err := c.add(now, now.Unix(), heavy, nonceN(i)); err != nil {
				t.Fatalf("second %d: flood request refused: %v", sec, err)
			}
		}
		if c.n > max {
			t.Fatalf("second %d: %d nonces remembered, bound %d", sec, c.n, max)
		}
		if sec%60 == 0 {
			// The honest caller, stamping a second ago, still gets through.
			if err := c.add(now, now.Unix()-1, honest, nonceN(sec)); err != nil {
				t.Fatalf("second %d: honest request refused: %v", sec, err)
			}
		}
	}
	end := start.Add(599 * time.Second)
	// A replay of the newest seconds is still caught; one stamped before
	// the window shrank is refused as too old, never accepted.
	if err := c.add(end, end.Unix(), heavy, nonceN(i)); err != ErrReplayed {
		t.Fatalf("replay of a recent request: %v", err)
	}
	wantCode(t, c.add(end, end.Unix()-60, heavy, nonceN(i-6000)), ErrBusy)
}

// Under pressure, requests stamped far ahead of the clock are refused, so
// that future stamps cannot pin the store's memory.
func TestNonceStoreRefusesFutureUnderPressure(t *testing.T) {
	c := newNonceStore(10*time.Minute, 100)
	now := time.Unix(3_000_000, 0)
	node := shard.PublicKey{3}
	if err := c.add(now, now.Unix()+300, node, nonceN(0)); err != nil {
		t.Fatalf("a future stamp within the window, no pressure: %v", err)
	}
	for i := 1; i < 80; i++ {
		if err := c.add(now, now.Unix(), node, nonceN(i)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.add(now, now.Unix()+300, node, nonceN(1000)), ErrBusy)
	if err := c.add(now, now.Unix()+minAhead, node, nonceN(1001)); err != nil {
		t.Fatalf("a stamp %d s ahead under pressure: %v", minAhead, err)
	}
	// Full, with nothing older than minKeep seconds: refuse, do not grow.
	for i := 2000; c.n < 100; i++ {
		if err := c.add(now, now.Unix(), node, nonceN(i)); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.add(now, now.Unix(), node, nonceN(5000)), ErrBusy)
	if c.n != 100 {
		t.Fatalf("%d nonces remembered, bound 100", c.n)
	}
}

func BenchmarkNonceStoreAdd(b *testing.B) {
	c := newNonceStore(10*time.Minute, 1<<20)
	now := time.Unix(4_000_000, 0)
	node := shard.PublicKey{4}
	b.ReportAllocs()
	for i := range b.N {
		t := now.Add(time.Duration(i/5000) * time.Second)
		if err := c.add(t, t.Unix(), node, nonceN(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// One caller flooding signed requests used to fill the one nonce cache
// within the window, after which every caller got 503. The window now
// shrinks from its old end: the flood goes on, and so does everyone else.
func TestNonceFloodSparesOthers(t *testing.T) {
	now := time.Unix(8_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Now = clock
		c.MaxNonces = 200
		c.Limits = Limits{PeerRate: -1, BlockRate: -1}
	}})
	ctx := context.Background()
	heavy := n.clientFrom(t, "127.0.40.1")
	heavy.now = clock
	honest := n.clientFrom(t, "127.0.41.1")
	honest.now = clock
	for i := range 2000 { // ten times the bound, 20 a second
		if i%20 == 0 {
			mu.Lock()
			now = now.Add(time.Second)
			mu.Unlock()
		}
		if err := signedGet(ctx, heavy); err != nil {
			t.Fatalf("flood request %d: %v", i, err)
		}
		if i%100 == 0 {
			if err := signedGet(ctx, honest); err != nil {
				t.Fatalf("honest request after %d flood requests: %v", i, err)
			}
		}
	}
	if got := n.srv.nonces.size(); got > 200 {
		t.Fatalf("%d nonces remembered, bound 200", got)
	}
}
