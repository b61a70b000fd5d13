package node

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node/peers"
	"ishtar/shard"
)

// exchangeNode is a node serving on a loopback listener that advertises
// its real URL, with a registry (every loopback peer placeable).
type exchangeNode struct {
	url string
	key shard.PrivateKey
	srv *Server
	reg *peers.Registry
}

func startExchangeNode(tb testing.TB) *exchangeNode {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	n := &exchangeNode{url: "http://" + ln.Addr().String(), key: newKey(tb)}
	var db *meta.DB
	n.reg, db = openRegistry(tb, n.key.Public())
	cfg := Config{Key: n.key, Address: n.url, Capacity: 1 << 30, LeafSize: testLeafSize, Registry: n.reg}
	n.srv = NewServer(cfg, NewMemStore(testLeafSize), db, nil)
	hs := n.srv.HTTPServer()
	go func() { _ = hs.Serve(ln) }()
	tb.Cleanup(func() { _ = hs.Close() })
	return n
}

// openRegistry opens a registry of self over an in-memory catalog.
func openRegistry(tb testing.TB, self shard.PublicKey) (*peers.Registry, *meta.DB) {
	tb.Helper()
	db, err := meta.Open("node", meta.InMemory())
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := peers.Open(peers.Config{Self: self, PlaceablePerBlock: -1}, db, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { reg.Close(); db.Close() })
	return reg, db
}

// fillVerified puts n verified records of fresh keys into reg, each in its
// own loopback /24 at a closed port (challenges to them are refused at
// once and carry no bytes).
func fillVerified(tb testing.TB, reg *peers.Registry, n int) {
	tb.Helper()
	now := time.Now()
	for i := range n {
		k := newKey(tb)
		rec := signedRecord(tb, k, fmt.Sprintf("http://127.%d.%d.1:1", 1+i/250, i%250), 1, now)
		if err := reg.Verified(rec); err != nil {
			tb.Fatal(err)
		}
	}
}

// countingClient is an HTTP client that counts the bytes its connections
// carry both ways (HTTP, not TCP/IP headers).
type countingClient struct {
	*http.Client
	bytes atomic.Int64
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func newCountingClient() *countingClient {
	c := &countingClient{}
	var d net.Dialer
	c.Client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{conn, &c.bytes}, nil
		},
		MaxIdleConnsPerHost:   4,
		ExpectContinueTimeout: time.Second,
	}}
	return c
}

// BenchmarkExchangeNothingNew measures the bytes (both ways, HTTP headers
// included) of a round of discovery against a tracker that knows 500
// peers (as many as the asker takes from one source, NewPerSource), once
// the asker is up to date: a hello, and a GET /v1/peers from
// the asker's cursor that answers no records.
func BenchmarkExchangeNothingNew(b *testing.B) {
	tracker := startExchangeNode(b)
	fillVerified(b, tracker.reg, 500)
	asker := startExchangeNode(b)
	hc := newCountingClient()
	d := NewDiscovery(DiscoveryConfig{Key: asker.key, Record: asker.srv.Record, Trackers: []string{tracker.url},
		HTTPClient: hc.Client, RequestTimeout: 5 * time.Second}, asker.reg)
	ctx := context.Background()
	d.Round(ctx) // takes the 500 records and announces itself
	d.Round(ctx)
	if st := asker.reg.Stats(); st.New+st.Tried < 501 {
		b.Fatalf("the asker knows %d + %d peers, not 501", st.New, st.Tried)
	}
	hc.bytes.Store(0)
	b.ResetTimer()
	for b.Loop() {
		d.Round(ctx)
	}
	b.ReportMetric(float64(hc.bytes.Load())/float64(b.N), "bytes/round")
}

// BenchmarkExchangePage measures taking a full page of records from a
// peer: the GET, decoding, verifying every signature and merging them
// into a registry that did not know them.
func BenchmarkExchangePage(b *testing.B) {
	src := startExchangeNode(b)
	fillVerified(b, src.reg, MaxPeerPage)
	c := NewClient(src.url, newKey(b), nil)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		reg, _ := openRegistry(b, newKey(b).Public())
		b.StartTimer()
		recs, _, _, err := c.Peers(ctx, 0)
		if err != nil || len(recs) != MaxPeerPage {
			b.Fatalf("Peers = %d records, %v", len(recs), err)
		}
		if added, refused := reg.AddAll(recs, "198.51.100.0/24"); added != MaxPeerPage || refused != 0 {
			b.Fatalf("AddAll = %d added, %d refused", added, refused)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*MaxPeerPage), "µs/record")
}
