package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"
)

// shutdownGrace bounds how long in-flight requests may take to finish
// once a shutdown begins.
const shutdownGrace = 10 * time.Second

// runServe runs the daemon until SIGINT or SIGTERM.
func runServe(ctx context.Context, e *env, args []string) error {
	l := newLoader("serve", nil, e.lookupEnv)
	pprofAddr := addPprofFlag(l.fs)
	if err := l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, l.fs, "--data DIR [flags]")
		}
		return err
	}
	if l.fs.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", l.fs.Arg(0))
	}
	cfg, err := l.load()
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	if _, err := startPprof(ctx, *pprofAddr, log); err != nil {
		return err
	}
	id, err := loadIdentity(cfg.Data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	d, err := openDaemon(&cfg, id, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ready := func() {
		w := e.stdout
		fmt.Fprintf(w, "Node ID:       %s\n", id.node.Public())
		fmt.Fprintf(w, "Node endpoint: %s\n", d.nodes[0].url)
		fmt.Fprintf(w, "Peers:         %d of %d reachable\n", d.dir.known(), len(cfg.Peers))
		fmt.Fprintf(w, "Access key:    %s (secret in %s)\n", id.creds.AccessKeyID, filepath.Join(cfg.Data, credentialsFile))
		fmt.Fprintf(w, "S3 endpoint:   %s\n", d.s3url)
		warnPlacement(log, &cfg, d.dir.Peers())
		log.Info("serving", "node", id.node.Public().String(), "address", d.nodes[0].url, "s3", d.s3url, "data", cfg.Data)
	}
	if err := d.run(ctx, ready); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
