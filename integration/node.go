package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// Node is one node.Server of a test network.
type Node struct {
	Index int
	ID    shard.PublicKey
	URL   string // http://127.0.0.1:port, the same across restarts
	// Store is the decorated store the server writes to and reads from.
	Store *FaultStore
	// Peer is the gateway's client of this node (nil for node 0).
	Peer *FaultPeer

	key  shard.PrivateKey
	addr string
	dir  string
	cfg  Config
	log  *slog.Logger
	mem  *node.MemStore // kept across restarts when Config.MemStores

	mu      sync.Mutex
	db      *meta.DB
	hs      *http.Server
	served  chan struct{}
	running bool
	// handlers counts requests being served, so that stop can wait for
	// them before closing the catalog.
	handlers sync.WaitGroup
}

// shutdownWait bounds how long a stopped node's handlers may take to
// notice their closed connections.
const shutdownWait = 10 * time.Second

func newNode(i int, dir string, cfg Config, log *slog.Logger) (*Node, error) {
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
		key: key, addr: addr, dir: dir, cfg: cfg, log: log,
	}
	if cfg.MemStores {
		nd.mem = node.NewMemStore(cfg.BlockSize)
	}
	return nd, nil
}

// start opens the node's catalog and store and serves on its address.
func (nd *Node) start() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.running {
		return fmt.Errorf("node %d already running", nd.Index)
	}
	db, err := meta.Open(filepath.Join(nd.dir, "catalog"))
	if err != nil {
		return fmt.Errorf("node %d: %w", nd.Index, err)
	}
	var st node.Store = nd.mem
	if nd.mem == nil {
		ds, err := node.NewDiskStore(filepath.Join(nd.dir, "shards"), nd.cfg.BlockSize)
		if err != nil {
			db.Close()
			return fmt.Errorf("node %d: %w", nd.Index, err)
		}
		st = ds
	}
	// Small shards live in the node's catalog, as node.NewServer would
	// arrange; wrapping the InlineStore (found by the server through
	// FaultStore.Unwrap) puts every shard behind the fault decorator.
	nd.Store.setInner(node.NewInlineStore(db, st, node.DefaultInlineMax, nd.cfg.BlockSize))
	ln, err := net.Listen("tcp", nd.addr)
	if err != nil {
		db.Close()
		return fmt.Errorf("node %d listen again on %s: %w", nd.Index, nd.addr, err)
	}
	srv := node.NewServer(node.Config{
		Key:      nd.key,
		Address:  nd.URL,
		Capacity: nd.cfg.NodeCapacity,
		LeafSize: nd.cfg.BlockSize,
	}, nd.Store, db, nd.log)
	hs := srv.HTTPServer()
	inner := hs.Handler
	hs.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nd.handlers.Add(1)
		defer nd.handlers.Done()
		inner.ServeHTTP(w, r)
	})
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			nd.log.Error("serve", "err", err)
		}
	}()
	nd.db, nd.hs, nd.served, nd.running = db, hs, served, true
	return nil
}

// stop closes the listener and every connection at once (a crash, as far
// as peers can tell), then the catalog.
func (nd *Node) stop() error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if !nd.running {
		return nil
	}
	nd.running = false
	err := nd.hs.Close()
	<-nd.served
	// Close does not wait for handlers; they see their connection gone
	// (request context canceled, writes failing) and return, and must
	// before the catalog closes under them.
	idle := make(chan struct{})
	go func() { nd.handlers.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(shutdownWait):
		return fmt.Errorf("stop node %d: handlers still running after %v", nd.Index, shutdownWait)
	}
	if cerr := nd.db.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return fmt.Errorf("stop node %d: %w", nd.Index, err)
	}
	return nil
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
