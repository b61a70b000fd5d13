package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/shard"
)

// runServe runs the daemon until SIGINT or SIGTERM.
func runServe(ctx context.Context, e *env, args []string) error {
	l := newLoader("serve", nil, e.lookupEnv)
	pprofAddr := addPprofFlag(l.fs)
	initFirst := l.fs.Bool("init", false, "first create the data directory's identity if it has none, as `ishtar init` does (containers)")
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
	if *initFirst {
		if err := initIfNone(e, cfg.Data); err != nil {
			return fmt.Errorf("serve: --init: %w", err)
		}
	}
	id, err := loadIdentity(cfg.Data)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	cfg.Node.Version = version
	d, err := daemon.Open(cfg.Config, id.daemon(), daemon.Options{Log: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ready := func() {
		w := e.stdout
		fmt.Fprintf(w, "Node ID:       %s\n", id.node.Public())
		fmt.Fprintf(w, "Node endpoint: %s\n", d.NodeURL())
		if d.AdminURL() != "" && cfg.Network.Tracker {
			fmt.Fprintf(w, "Admin:         %s/\n", d.AdminURL())
		}
		if cfg.Network.Tracker {
			fmt.Fprintf(w, "Tracker:       collecting and handing out node records\n")
			log.Info("serving as a tracker", "node", id.node.Public().String(), "address", d.NodeURL(), "data", cfg.Data)
			return
		}
		st := d.Registry().Stats()
		fmt.Fprintf(w, "Peers:         %d verified, %d placeable, %d heard of\n", st.Tried, st.Placeable, st.New)
		fmt.Fprintf(w, "Access key:    %s (secret in %s)\n", id.creds.AccessKeyID, filepath.Join(cfg.Data, credentialsFile))
		// Recorded before it is printed: whoever reads the line finds it.
		if err := writeS3Endpoint(cfg.Data, d.S3URL()); err != nil {
			log.Warn("the file commands will not find the S3 endpoint", "err", err)
		}
		fmt.Fprintf(w, "S3 endpoint:   %s\n", d.S3URL())
		if d.AdminURL() != "" {
			fmt.Fprintf(w, "Status page:   %s/\n", d.AdminURL())
		}
		if d.AdminToken() != "" {
			fmt.Fprintf(w, "Admin token:   in %s (the admin listener is not on loopback)\n", filepath.Join(cfg.Data, daemon.AdminTokenFile))
		}
		d.WarnPlacement()
		log.Info("serving", "node", id.node.Public().String(), "address", d.NodeURL(), "s3", d.S3URL(), "data", cfg.Data)
	}
	runErr := d.Run(ctx, ready)
	if err := removeS3Endpoint(cfg.Data); err != nil {
		log.Warn("remove the recorded S3 endpoint", "err", err)
	}
	if runErr != nil {
		return fmt.Errorf("serve: %w", runErr)
	}
	return nil
}

// initIfNone creates dir's identity, as `ishtar init` does, unless it has
// one.
func initIfNone(e *env, dir string) error {
	name, err := existingIdentity(dir)
	if err != nil || name != "" {
		return err
	}
	id, err := newIdentity(shard.Seed{})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeIdentity(dir, id); err != nil {
		return err
	}
	printIdentity(e, dir, id, true)
	return nil
}
