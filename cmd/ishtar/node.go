package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// catalogSyncPacing is the longest a catalog's WAL waits after an fsync
// while commits of concurrent writers overlap, so that they share the next
// one (meta.WithSyncPacing). 4 KiB PUTs from 16 clients on a 2-core
// devnet: 255 -> 350 objects/s, fsyncs per object 4.5 -> 2.
const catalogSyncPacing = 4 * time.Millisecond

// peerNode is one running node: its catalog, its shard store and the peer
// protocol server on a bound listener.
type peerNode struct {
	db   *meta.DB
	node *node.Server
	http *http.Server
	ln   net.Listener
	url  string // the advertised base URL
}

// openNode opens the catalog (dir/catalog) and shard store (dir/shards)
// and binds the peer protocol listener; nothing is served yet.
func openNode(cfg *Config, dir string, key shard.PrivateKey, listen string, log *slog.Logger) (_ *peerNode, err error) {
	n := &peerNode{}
	db, err := meta.Open(filepath.Join(dir, catalogDir), meta.WithLogger(log.With("component", "pebble")),
		meta.WithSyncPacing(catalogSyncPacing))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = db.Close()
		}
	}()
	n.db = db
	nc := cfg.nodeConfig(key, "x") // the address is known once bound
	nc.Defaults()
	st, err := node.NewDiskStore(filepath.Join(dir, shardsDir), nc.LeafSize)
	if err != nil {
		return nil, err
	}
	if n.ln, err = listenTCP(listen, "node"); err != nil {
		return nil, err
	}
	n.url = cfg.advertise(n.ln.Addr().String())
	if cfg.Advertise == "" && isUnspecified(n.ln.Addr()) {
		log.Warn("the node listens on all interfaces but advertises an unspecified address; set --advertise to the URL peers reach it at", "listen", n.ln.Addr().String())
	}
	nc.Address = n.url
	if err := nc.Validate(); err != nil {
		_ = n.ln.Close()
		return nil, err
	}
	n.node = node.NewServer(nc, st, db, log)
	n.ln = n.node.LimitListener(n.ln)
	n.http = n.node.HTTPServer()
	return n, nil
}

// listenTCP binds addr, naming what it is for in the error.
func listenTCP(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		return nil, fmt.Errorf("%s: listen on %s: %w", what, addr, err)
	}
	return ln, nil
}

// dialable is a's host:port with an unspecified IP (listening on every
// interface) replaced by loopback, for URLs printed to local users.
func dialable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port)) // Go listens dual-stack
}

func isUnspecified(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsUnspecified()
}

// servers runs http.Servers until ctx ends or one fails, then shuts them
// all down within the grace period.
type servers struct {
	list []served
}

type served struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

func (s *servers) add(name string, srv *http.Server, ln net.Listener) {
	s.list = append(s.list, served{name, srv, ln})
}

// run serves every server until ctx ends (nil) or one stops on its own
// (its error), and returns once all of them are shut down. ready, if not
// nil, is called once every server is started.
func (s *servers) run(ctx context.Context, log *slog.Logger, ready func()) error {
	errc := make(chan error, len(s.list))
	for _, sv := range s.list {
		go func() {
			err := sv.srv.Serve(sv.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			if err != nil {
				err = fmt.Errorf("%s server: %w", sv.name, err)
			}
			errc <- err
		}()
	}
	if ready != nil {
		ready()
	}
	var first error
	pending := len(s.list)
	select {
	case <-ctx.Done():
	case first = <-errc:
		pending--
		if first == nil {
			first = errors.New("a server stopped unexpectedly")
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	for _, sv := range s.list {
		if err := sv.srv.Shutdown(sctx); err != nil {
			log.Warn("server shutdown", "server", sv.name, "err", err)
			_ = sv.srv.Close()
		}
	}
	for range pending {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
