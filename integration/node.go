package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"sync"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/node"
	"ishtar/shard"
)

// Node is one daemon of a test network.
type Node struct {
	Index int
	ID    shard.PublicKey
	URL   string // http://127.0.0.1:port, the same across restarts
	// Store is the decorated store the node writes to and reads from.
	Store *FaultStore
	// Peer is the gateway's client of this node (nil for node 0).
	Peer *FaultPeer

	net  *Net
	key  shard.PrivateKey
	addr string
	dir  string
	mem  *node.MemStore // kept across restarts when Config.MemStores

	mu      sync.Mutex
	d       *daemon.Daemon
	cancel  context.CancelFunc
	done    chan error
	running bool
}

func newNode(n *Net, i int, dir string) (*Node, error) {
	key, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("node %d key: %w", i, err)
	}
	// Take a free port now and keep it: restarts listen on the same one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("node %d listen: %w", i, err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return nil, fmt.Errorf("node %d listen: %w", i, err)
	}
	nd := &Node{
		Index: i, ID: key.Public(), URL: "http://" + addr, Store: &FaultStore{},
		net: n, key: key, addr: addr, dir: dir,
	}
	if i > 0 {
		nd.Peer = &FaultPeer{}
	}
	if n.Config.MemStores {
		nd.mem = node.NewMemStore(n.Config.BlockSize)
	}
	return nd, nil
}

// start opens the node's daemon and runs it until it is ready.
func (nd *Node) start() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.running {
		return fmt.Errorf("node %d already running", nd.Index)
	}
	n := nd.net
	opts := daemon.Options{
		Log: n.logs.logger(fmt.Sprintf("node-%d", nd.Index)),
		// Every shard, small ones kept in the catalog included, goes
		// through the fault decorator.
		WrapStore:     func(st node.Store) node.Store { nd.Store.setInner(st); return nd.Store },
		WrapPeer:      n.wrapPeer,
		HTTPClient:    n.hc,
		ShutdownGrace: -1, // a stop is a crash, as far as peers can tell
	}
	if nd.mem != nil {
		opts.Store = nd.mem
	}
	d, err := daemon.Open(n.daemonConfig(nd), n.identity(nd), opts)
	if err != nil {
		return fmt.Errorf("node %d: %w", nd.Index, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- d.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return fmt.Errorf("node %d: %w", nd.Index, err)
	}
	nd.d, nd.cancel, nd.done, nd.running = d, cancel, done, true
	return nil
}

// stop ends the node's daemon at once (a crash, as far as peers can
// tell): its listener and every connection close, then its catalog.
func (nd *Node) stop() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.running {
		return nil
	}
	nd.running = false
	nd.cancel()
	if err := <-nd.done; err != nil {
		return fmt.Errorf("stop node %d: %w", nd.Index, err)
	}
	return nil
}

// daemon returns the running daemon.
func (nd *Node) daemon() *daemon.Daemon {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.d
}

// Running reports whether the node is serving.
func (nd *Node) Running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.running
}

// Shards returns how many shards the node's store holds and their bytes
// (through the store, under any fault).
func (nd *Node) Shards(ctx context.Context) (count int, bytes int64, err error) {
	err = nd.Store.Walk(ctx, func(info node.Info) error {
		count++
		bytes += info.Size
		return nil
	})
	return count, bytes, err
}
