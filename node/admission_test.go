package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"ishtar/shard"
)

// clientFrom returns a client of n signing as a new key whose connections
// come from the loopback address local (e.g. "127.0.1.1"): another
// address block than the tests' usual 127.0.0.1.
func (n *testNode) clientFrom(t testing.TB, local string) *Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, ExpectContinueTimeout: 5 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return NewClient(n.ts.URL, newKey(t), &http.Client{Transport: tr})
}

// stallReader yields one byte, then nothing until stop is closed.
type stallReader struct {
	sent bool
	stop <-chan struct{}
}

func (r *stallReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		p[0] = 1
		return 1, nil
	}
	<-r.stop
	return 0, io.ErrUnexpectedEOF
}

// hostage starts an upload that declares size bytes, sends one and
// stalls until the test ends. Its outcome arrives on the returned
// channel.
func hostage(t *testing.T, c *Client, size int64, stop <-chan struct{}) <-chan error {
	t.Helper()
	owner := newKey(t)
	var id shard.ID
	id[0], id[1] = byte(size), byte(keySeq.Add(1))
	g := newGrant(owner, shard.OpStore, id, size)
	done := make(chan error, 1)
	go func() {
		_, err := c.PutShard(context.Background(), id, &stallReader{stop: stop}, size, g)
		done <- err
	}()
	return done
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *Server) uploadsInFlight() (int, int64) {
	s.adm.mu.Lock()
	defer s.adm.mu.Unlock()
	return s.adm.uploads, s.adm.reserved
}

// Uploads that declare the largest shard and send one byte used to
// reserve their whole size before the body, so a few of them took all the
// free space and honest stores got 507. Now each holds one step.
func TestCapacityNotHostage(t *testing.T) {
	const maxShard = 8 << 20
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Capacity = 5 * maxShard
		c.MaxShardSize = maxShard
	}})
	stop := make(chan struct{})
	defer close(stop)
	const attackers = 20 // declaring 4 times the capacity
	for i := range attackers {
		// Fresh identities, from their own address block.
		hostage(t, n.clientFrom(t, "127.0.1.1"), maxShard, stop)
		waitFor(t, "the hostage upload to be admitted", func() bool { u, _ := n.srv.uploadsInFlight(); return u == i+1 })
	}
	if _, reserved := n.srv.uploadsInFlight(); reserved > attackers*reserveStep {
		t.Fatalf("%d stalled uploads reserve %d bytes, want at most one step each", attackers, reserved)
	}
	c := n.client(t)
	rec, err := c.Info(context.Background())
	if err != nil || rec.Free != 5*maxShard {
		t.Fatalf("record free %d (%v), want the whole capacity %d", rec.Free, err, 5*maxShard)
	}
	b, id := testShard(7, 2<<20)
	put(t, c, newKey(t), b, id)
}

// The node bounds uploads in flight per identity, per address block and
// in total, refusing the excess as busy (503 with Retry-After), never as
// full; callers from other blocks are still admitted.
func TestUploadSlots(t *testing.T) {
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Limits = Limits{UploadsPerPeer: 2, UploadsPerBlock: 3, Uploads: 5}
	}})
	stop := make(chan struct{})
	defer close(stop)
	admitted := 0
	start := func(c *Client) <-chan error {
		done := hostage(t, c, 4<<20, stop)
		admitted++
		waitFor(t, "the upload to be admitted", func() bool { u, _ := n.srv.uploadsInFlight(); return u == admitted })
		return done
	}
	refused := func(c *Client, why string) {
		t.Helper()
		err := <-hostage(t, c, 4<<20, stop)
		wantCode(t, err, ErrBusy)
		var e *Error
		if errors.As(err, &e) && e.RetryAfter < time.Second {
			t.Fatalf("%s: busy without a Retry-After: %v", why, err)
		}
	}
	one := n.clientFrom(t, "127.0.2.1")
	start(one)
	start(one)
	refused(one, "third upload of one identity")
	start(n.clientFrom(t, "127.0.2.2"))
	refused(n.clientFrom(t, "127.0.2.3"), "fourth upload of one address block")
	start(n.clientFrom(t, "127.0.3.1"))
	start(n.clientFrom(t, "127.0.4.1"))
	refused(n.clientFrom(t, "127.0.5.1"), "sixth upload in all")
	if got := n.srv.Refusals()[ErrBusy.Code]; got != 3 {
		t.Fatalf("%d busy refusals counted, want 3", got)
	}
}

// A body that trickles in slower than MinRate, after RequestTimeout to
// get going, is cut, and its slot and reservation are given back.
func TestSlowBodyCut(t *testing.T) {
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.RequestTimeout = 300 * time.Millisecond
		c.MinRate = 64 << 20
	}})
	stop := make(chan struct{})
	defer close(stop)
	done := hostage(t, n.clientFrom(t, "127.0.6.1"), 8<<20, stop)
	select {
	case err := <-done:
		var e *Error
		if errors.As(err, &e) && !errors.Is(err, ErrTimeout) {
			t.Fatalf("stalled body answered %v, want timeout or a cut connection", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled body was never cut")
	}
	waitFor(t, "the slot to be given back", func() bool { u, r := n.srv.uploadsInFlight(); return u == 0 && r == 0 })
	if got := n.srv.Refusals()[ErrTimeout.Code]; got != 1 {
		t.Fatalf("%d timeouts counted, want 1", got)
	}
}

// Signed requests are rate-limited per identity after the signature
// verifies, and per address block before: one heavy caller is refused
// (busy, Retry-After) while others go on.
func TestRequestRateLimits(t *testing.T) {
	now := time.Unix(5_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	n := startNode(t, nodeOpts{cfg: func(c *Config) {
		c.Limits = Limits{PeerRate: 10, BlockRate: 50}
		c.Now = clock
	}})
	ctx := context.Background()
	heavy := n.clientFrom(t, "127.0.7.1")
	heavy.now = clock
	for i := range 20 { // the burst: twice the rate
		if err := signedGet(ctx, heavy); err != nil {
			t.Fatalf("request %d within the burst: %v", i, err)
		}
	}
	err := signedGet(ctx, heavy)
	wantCode(t, err, ErrBusy)
	other := n.clientFrom(t, "127.0.7.2")
	other.now = clock
	if err := signedGet(ctx, other); err != nil {
		t.Fatalf("another identity of the block: %v", err)
	}
	// The block's own budget: 100 at once, then refused before any
	// signature is checked, even for fresh identities.
	for i := 0; i < 200; i++ {
		c := n.clientFrom(t, "127.0.7.3")
		c.now = clock
		if err = signedGet(ctx, c); err != nil {
			break
		}
	}
	wantCode(t, err, ErrBusy)
	elsewhere := n.clientFrom(t, "127.0.8.1")
	elsewhere.now = clock
	if err := signedGet(ctx, elsewhere); err != nil {
		t.Fatalf("a caller of another block: %v", err)
	}
	// A second later the heavy caller has ten more.
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if err := signedGet(ctx, heavy); err != nil {
		t.Fatalf("after a second: %v", err)
	}
}

// A node that is truly full answers 507; one whose space is only held by
// uploads in flight answers busy.
func TestFullIsFull(t *testing.T) {
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Capacity = 3<<20 + 2*ho }})
	c := n.client(t)
	owner := newKey(t)
	b, id := testShard(8, 2<<20)
	put(t, c, owner, b, id)
	big, bigID := testShard(9, 2<<20)
	_, err := c.PutShard(context.Background(), bigID, bytes.NewReader(big), int64(len(big)), newGrant(owner, shard.OpStore, bigID, int64(len(big))))
	wantCode(t, err, ErrInsufficientStorage)

	stop := make(chan struct{})
	defer close(stop)
	hostage(t, n.clientFrom(t, "127.0.9.1"), 1<<20, stop)
	waitFor(t, "the hostage upload", func() bool { u, _ := n.srv.uploadsInFlight(); return u == 1 })
	small, smallID := testShard(10, 1<<20)
	_, err = c.PutShard(context.Background(), smallID, bytes.NewReader(small), int64(len(small)), newGrant(owner, shard.OpStore, smallID, int64(len(small))))
	wantCode(t, err, ErrBusy)
}
