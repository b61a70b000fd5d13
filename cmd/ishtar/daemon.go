package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"ishtar/gateway"
	"ishtar/s3api"
)

// daemon is what `ishtar serve` runs, and `ishtar devnet` several times
// over: nodes and, over the first node's catalog, the gateway and its S3
// endpoint.
type daemon struct {
	log   *slog.Logger
	nodes []*peerNode // nodes[0] is the owner's own node
	dir   *peerDirectory
	gw    *gateway.Gateway
	s3ln  net.Listener
	s3url string
	srv   servers
}

// openDaemon opens the catalog and store of cfg.Data, binds every
// listener and opens the gateway; nothing is served before run.
func openDaemon(cfg *Config, id identity, log *slog.Logger) (_ *daemon, err error) {
	d := &daemon{log: log}
	defer func() {
		if err != nil {
			_ = d.close()
		}
	}()
	n, err := openNode(cfg, cfg.Data, id.node, cfg.Listen, log.With("component", "node"))
	if err != nil {
		return nil, err
	}
	d.nodes = append(d.nodes, n)
	if err := d.openGateway(cfg, id, cfg.Peers); err != nil {
		return nil, err
	}
	return d, nil
}

// openGateway opens the gateway over nodes[0]'s catalog with a directory
// of peers, and binds the S3 listener.
func (d *daemon) openGateway(cfg *Config, id identity, peers []string) error {
	own := d.nodes[0]
	d.dir = newPeerDirectory(peers, id.node, d.log.With("component", "directory"))
	gw, err := gateway.New(cfg.gatewayConfig(id.node.Public()), own.db, id.owner, d.dir, d.log.With("component", "gateway"))
	if err != nil {
		return err
	}
	d.gw = gw
	if d.s3ln, err = listenTCP(cfg.S3Listen, "s3"); err != nil {
		return err
	}
	d.s3url = "http://" + dialable(d.s3ln.Addr())
	creds := s3api.StaticCredentials{id.creds.AccessKeyID: id.creds.SecretAccessKey}
	h := s3api.NewHandler(gw, creds, cfg.S3, d.log.With("component", "s3"))
	s3srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	// The S3 endpoint drains first: its requests may still need the nodes.
	d.srv.add("s3", s3srv, d.s3ln)
	for i, n := range d.nodes {
		d.srv.add(fmt.Sprintf("node %d", i), n.http, n.ln)
	}
	return nil
}

// run serves until ctx ends, then shuts down: S3 and node servers drain,
// the gateway's background work stops, the catalogs close. Once every
// server is started, run refreshes the peer directory once (so that a
// first upload finds the peers) and calls ready.
func (d *daemon) run(ctx context.Context, ready func()) error {
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	var gwErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		d.dir.run(bg)
	}()
	go func() {
		defer wg.Done()
		gwErr = d.gw.Run(bg)
	}()
	for i, n := range d.nodes {
		wg.Go(func() { n.node.Maintain(bg) })
		// A crash between writing a shard and indexing it (or the other
		// way round on delete) leaves bytes no one holds.
		wg.Go(func() {
			removed, err := n.node.Sweep(bg)
			switch {
			case err != nil && bg.Err() == nil:
				d.log.Warn("sweeping unheld shards", "node", i, "err", err)
			case removed > 0:
				d.log.Info("removed shards the catalog does not hold", "node", i, "shards", removed)
			}
		})
	}
	err := d.srv.run(ctx, d.log, func() {
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		d.dir.refresh(rctx, false)
		cancel()
		if ready != nil {
			ready()
		}
	})
	stop()
	wg.Wait()
	if gwErr != nil {
		err = errors.Join(err, fmt.Errorf("gateway: %w", gwErr))
	}
	return errors.Join(err, d.close())
}

// close closes the listeners (already closed after run) and catalogs.
func (d *daemon) close() error {
	if d.s3ln != nil {
		_ = d.s3ln.Close()
	}
	var err error
	for _, n := range d.nodes {
		_ = n.ln.Close()
		if cerr := n.db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close catalog: %w", cerr))
		}
	}
	return err
}
