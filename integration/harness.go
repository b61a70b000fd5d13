package integration

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/gateway"
	"ishtar/gateway/segstore"
	"ishtar/s3api"
	"ishtar/shard"
)

// Config describes a test network. Zero fields take the defaults noted.
type Config struct {
	Nodes        int   // all nodes, the gateway's own (node 0) included; default 6
	K, N         int   // erasure code; default 3 of 5
	BlockSize    int   // AEAD block and Merkle leaf size; default shard.DefaultBlockSize
	SegmentSize  int64 // default: the gateway's default (16 MiB)
	NodeCapacity int64 // bytes each node offers; default 8 GiB
	Capacity     int64 // the owner's quota (gateway Config.Capacity); default 64 GiB
	// MemStores keeps shard bytes in memory (node.MemStore) instead of one
	// file each, for tests of many tiny objects where fsyncs dominate.
	MemStores bool
	// Gateway, when set, has the last word on the gateway's configuration.
	Gateway func(*gateway.Config)
	// Backup turns the catalog backup on: off by default, since these
	// tests count the shards and bytes of the objects they store (the
	// backup is tested with serve processes: TestRecoverFromPhrase).
	Backup bool
}

func (c *Config) defaults() {
	if c.Nodes == 0 {
		c.Nodes = 6
	}
	if c.K == 0 && c.N == 0 {
		c.K, c.N = 3, 5
	}
	if c.BlockSize == 0 {
		c.BlockSize = shard.DefaultBlockSize
	}
	if c.NodeCapacity == 0 {
		c.NodeCapacity = 8 << 30
	}
	if c.Capacity == 0 {
		c.Capacity = 64 << 30
	}
}

// Credentials of every test network's S3 endpoint.
const (
	AccessKey = "AKIAISHTARINTEGRATION"
	SecretKey = "integration/secret+key/000000000000000000"
	Region    = "us-east-1"
)

// Net is a running test network: daemons (cmd/ishtar/daemon) on
// loopback, node 0 with the gateway.
type Net struct {
	Config  Config
	Owner   shard.OwnerKeys
	Gateway *gateway.Gateway
	// Endpoint is the S3 API over TLS (the client of S3 trusts it);
	// PlainEndpoint the same over plain HTTP.
	Endpoint      string
	PlainEndpoint string

	nodes    []*Node
	hc       *http.Client // the gateway's client of the storage nodes
	tlsSrv   *httptest.Server
	plainSrv *httptest.Server
	logs     *logBuffer
}

// Run starts a network described by cfg, calls fn with it, and tears it
// down when the test ends.
func Run(t *testing.T, cfg Config, fn func(t *testing.T, n *Net)) {
	t.Helper()
	n := Start(t, cfg)
	fn(t, n)
}

// Start starts a network described by cfg; it is torn down when t ends.
func Start(t testing.TB, cfg Config) *Net {
	t.Helper()
	cfg.defaults()
	if cfg.Nodes < cfg.N+1 {
		t.Fatalf("integration: %d nodes cannot hold %d shards besides the gateway's own", cfg.Nodes, cfg.N)
	}
	n := &Net{Config: cfg, logs: newLogBuffer()}
	t.Cleanup(func() {
		n.close(t)
		if t.Failed() {
			t.Logf("network log (warnings and errors, last %d KiB):\n%s", maxLog>>10, n.logs.String())
		}
	})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ExpectContinueTimeout = 2 * time.Second
	tr.MaxIdleConnsPerHost = 32
	n.hc = &http.Client{Transport: tr}
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n.Owner = seed.Keys()
	root := t.TempDir()
	for i := range cfg.Nodes {
		nd, err := newNode(n, i, filepath.Join(root, fmt.Sprintf("node-%d", i)))
		if err != nil {
			t.Fatalf("integration: %v", err)
		}
		n.nodes = append(n.nodes, nd)
	}
	// The storage nodes first: the gateway's node asks them for their
	// records before it is ready.
	for _, nd := range append(n.nodes[1:], n.nodes[0]) {
		if err := nd.start(); err != nil {
			t.Fatalf("integration: %v", err)
		}
	}
	gw := n.nodes[0].daemon()
	n.Gateway = gw.Gateway()
	n.tlsSrv = httptest.NewUnstartedServer(gw.S3Handler())
	n.tlsSrv.StartTLS()
	n.plainSrv = httptest.NewServer(gw.S3Handler())
	n.Endpoint, n.PlainEndpoint = n.tlsSrv.URL, n.plainSrv.URL
	return n
}

// daemonConfig is node i's daemon configuration.
func (n *Net) daemonConfig(nd *Node) daemon.Config {
	var c daemon.Config
	c.Defaults()
	c.Data, c.Listen, c.S3Listen = nd.dir, nd.addr, "127.0.0.1:0"
	c.Capacity = n.Config.NodeCapacity
	c.StorageOnly = nd.Index > 0
	c.Node.LeafSize = n.Config.BlockSize
	gc := &c.Gateway
	gc.Params = shard.Params{K: n.Config.K, N: n.Config.N, BlockSize: n.Config.BlockSize}
	gc.SegmentSize = n.Config.SegmentSize
	gc.Capacity = n.Config.Capacity
	gc.AddressDiversity = false
	c.Upkeep.Backup = n.Config.Backup
	if n.Config.Gateway != nil {
		n.Config.Gateway(gc)
	}
	if nd.Index == 0 {
		for _, o := range n.nodes[1:] {
			c.Network.Bootstrap = append(c.Network.Bootstrap, o.URL)
		}
	}
	c.S3.Region = Region
	return c
}

// identity is node i's identity: every node is the owner's (their records
// link them to it), node 0 runs the owner's gateway.
func (n *Net) identity(nd *Node) daemon.Identity {
	id := daemon.Identity{Node: nd.key, Owner: n.Owner}
	if nd.Index == 0 {
		id.S3 = s3api.StaticCredentials{AccessKey: SecretKey}
	}
	return id
}

// wrapPeer puts the gateway's client of a storage node behind the
// node's FaultPeer.
func (n *Net) wrapPeer(id shard.PublicKey, p segstore.Peer) segstore.Peer {
	for _, nd := range n.nodes[1:] {
		if nd.ID == id {
			nd.Peer.setInner(p)
			return nd.Peer
		}
	}
	return p
}

// close stops the S3 servers, the gateway's node and then the others.
func (n *Net) close(t testing.TB) {
	for _, s := range []*httptest.Server{n.tlsSrv, n.plainSrv} {
		if s != nil {
			s.CloseClientConnections()
			s.Close()
		}
	}
	for _, nd := range n.nodes {
		nd.Store.Set(FaultNone) // release hung readers
		if nd.Peer != nil {
			nd.Peer.Set(FaultNone)
		}
		if err := nd.stop(); err != nil {
			t.Errorf("integration: %v", err)
		}
	}
	if n.hc != nil {
		n.hc.CloseIdleConnections()
	}
}

// Node returns node i (0 is the gateway's own).
func (n *Net) Node(i int) *Node { return n.nodes[i] }

// Nodes returns all nodes.
func (n *Net) Nodes() []*Node { return n.nodes }

// StopNode stops storage node i abruptly: its listener and every open
// connection close, its catalog is closed. Its files stay.
func (n *Net) StopNode(t testing.TB, i int) {
	t.Helper()
	if i == 0 {
		t.Fatal("integration: node 0 carries the gateway's catalog and cannot be stopped")
	}
	if err := n.nodes[i].stop(); err != nil {
		t.Fatalf("integration: %v", err)
	}
}

// StartNode restarts storage node i on the same address with the same
// key, files and catalog, so the gateway's manifests stay valid.
func (n *Net) StartNode(t testing.TB, i int) {
	t.Helper()
	if err := n.nodes[i].start(); err != nil {
		t.Fatalf("integration: %v", err)
	}
}
