package daemon

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/gateway"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

func TestAddressBlocks(t *testing.T) {
	peers := func(addrs ...string) []gateway.PeerInfo {
		var out []gateway.PeerInfo
		for _, a := range addrs {
			out = append(out, gateway.PeerInfo{Addr: a})
		}
		return out
	}
	for _, tc := range []struct {
		addrs []string
		want  int
	}{
		{[]string{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.9:3"}, 1},
		{[]string{"http://10.0.1.1:1", "http://10.0.2.1:1", "http://[::ffff:10.0.2.7]:1"}, 2},
		{[]string{"http://[2001:db8::1]:1", "http://[2001:db8::2]:1", "http://[2001:db8:0:1::1]:1"}, 2},
		{[]string{"http://a.example:1", "http://A.example:2", "http://b.example:1"}, 2},
	} {
		if got := addressBlocks(peers(tc.addrs...)); got != tc.want {
			t.Errorf("addressBlocks(%q) = %d, want %d", tc.addrs, got, tc.want)
		}
	}
}

// testNode serves a node with key on loopback.
func testNode(t *testing.T, key shard.PrivateKey, capacity int64) string {
	t.Helper()
	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	srv := httptest.NewUnstartedServer(nil)
	addr := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = node.NewServer(node.Config{Key: key, Address: addr, Capacity: capacity}, node.NewMemStore(shard.DefaultBlockSize), db, nil)
	srv.Start()
	t.Cleanup(srv.Close)
	return addr
}

func newKey(t *testing.T) shard.PrivateKey {
	t.Helper()
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The directory lists the peers that answered with their record, leaves
// out unreachable ones and this node itself, and picks up a late peer.
func TestPeerDirectory(t *testing.T) {
	self := newKey(t)
	keyA, keyB := newKey(t), newKey(t)
	a := testNode(t, keyA, 1<<30)
	me := testNode(t, self, 1<<30)
	// A peer that fails every request until it comes up.
	var up atomic.Pointer[node.Server]
	late := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := up.Load(); s != nil {
			s.ServeHTTP(w, r)
			return
		}
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer late.Close()
	lateURL := late.URL

	d := newPeerDirectory([]string{a, me, lateURL}, self, nil, nil, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	d.refresh(ctx, false)
	peers := d.Peers()
	if len(peers) != 1 || peers[0].ID != keyA.Public() || peers[0].Addr != a || peers[0].Free != 1<<30 || peers[0].Peer == nil {
		t.Fatalf("peers after the first refresh: %+v", peers)
	}

	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	up.Store(node.NewServer(node.Config{Key: keyB, Address: lateURL, Capacity: 5 << 20}, node.NewMemStore(shard.DefaultBlockSize), db, nil))
	d.refresh(ctx, true)
	peers = d.Peers()
	if len(peers) != 2 || peers[1].ID != keyB.Public() || peers[1].Free != 5<<20 {
		t.Fatalf("peers after the late one came up: %+v", peers)
	}
}

// Each record the directory gets stamps the peer Seen, on the gateway's
// clock, with the record's free space; a failed refresh keeps the last
// record and its stamp, so the gateway can tell a peer that answered
// since it failed.
func TestPeerDirectorySeen(t *testing.T) {
	self, key := newKey(t), newKey(t)
	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var down atomic.Bool
	var srv *node.Server
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	srv = node.NewServer(node.Config{Key: key, Address: ts.URL, Capacity: 7 << 20}, node.NewMemStore(shard.DefaultBlockSize), db, nil)

	d := newPeerDirectory([]string{ts.URL}, self, nil, nil, slog.New(slog.DiscardHandler))
	clock := time.Unix(1000, 0)
	d.now = func() time.Time { return clock }
	ctx := context.Background()
	for i, step := range []struct {
		down bool
		want time.Time
	}{
		{false, time.Unix(1000, 0)},
		{true, time.Unix(1000, 0)},
		{false, time.Unix(1060, 0)},
	} {
		down.Store(step.down)
		d.refresh(ctx, false)
		peers := d.Peers()
		if len(peers) != 1 || !peers[0].Seen.Equal(step.want) || peers[0].Free != 7<<20 {
			t.Fatalf("step %d: peers %+v, want one seen at %v", i, peers, step.want)
		}
		clock = clock.Add(30 * time.Second)
	}
}
