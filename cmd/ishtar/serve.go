package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"
)

// shutdownGrace bounds how long in-flight requests may take to finish
// once a shutdown begins.
const shutdownGrace = 10 * time.Second

// runServe runs the daemon until SIGINT or SIGTERM.
func runServe(ctx context.Context, e *env, args []string) error {
	l := newLoader("serve", nil, e.lookupEnv)
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
	id, err := loadIdentity(cfg.Data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	d, err := openDaemon(&cfg, id, log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(e.stdout, "Node ID:       %s\n", id.node.Public())
	fmt.Fprintf(e.stdout, "Node endpoint: %s\n", d.node.url)
	d.printReady(e.stdout)
	log.Info("serving", "node", id.node.Public().String(), "address", d.node.url, "data", cfg.Data)
	if err := d.run(ctx, log); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
