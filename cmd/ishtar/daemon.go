package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// daemon is what `ishtar serve` runs: the node and, over the same catalog,
// the gateway and its S3 endpoint.
type daemon struct {
	node *peerNode
	srv  servers
}

// openDaemon opens the catalog and store of cfg.Data and binds every
// listener; nothing is served before run.
func openDaemon(cfg *Config, id identity, log *slog.Logger) (*daemon, error) {
	n, err := openNode(cfg, cfg.Data, id.node, cfg.Listen, nil, log.With("component", "node"))
	if err != nil {
		return nil, err
	}
	d := &daemon{node: n}
	d.srv.add("node", n.http, n.ln)
	return d, nil
}

// printReady prints the S3 endpoint lines once it accepts connections.
func (d *daemon) printReady(w io.Writer) {}

// run serves until ctx ends, then shuts down and closes the catalog.
func (d *daemon) run(ctx context.Context, log *slog.Logger) error {
	err := d.srv.run(ctx, log)
	if cerr := d.node.db.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close catalog: %w", cerr))
	}
	return err
}
