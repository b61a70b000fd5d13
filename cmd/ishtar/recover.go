package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/shard"
)

// runRecover rebuilds a data directory from the recovery phrase (read
// from standard input) and the network: it writes the owner seed, a
// fresh node key and S3 credentials, learns the network from the
// bootstrap peers, finds the owner's newest catalog backup and restores
// it. `ishtar serve --data DIR` then carries on. On failure it leaves the
// directory as it found it.
func runRecover(ctx context.Context, e *env, args []string) error {
	l := newLoader("recover", []string{"data", "network.bootstrap", "network.trackers"}, e.lookupEnv)
	if err := l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, l.fs, "--data DIR --bootstrap URL < PHRASE")
		}
		return err
	}
	if l.fs.NArg() > 0 {
		return usageErrorf("recover: unexpected argument %q (the phrase is read from standard input)", l.fs.Arg(0))
	}
	cfg, err := l.load()
	if err != nil {
		return err
	}
	if len(cfg.Network.Bootstrap) == 0 && len(cfg.Network.Trackers) == 0 {
		return usageErrorf("recover: give --bootstrap URL (any peer of the network)")
	}
	phrase, err := readPhrase(e.stdin)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	seed, err := shard.ParsePhrase(phrase)
	if err != nil {
		return fmt.Errorf("recover: the recovery phrase: %w", err)
	}
	dir := cfg.Data
	if name, err := existingIdentity(dir); err != nil {
		return fmt.Errorf("recover: %w", err)
	} else if name != "" {
		return fmt.Errorf("recover: %s already exists; recover into a new --data directory", filepath.Join(dir, name))
	}
	if _, err := os.Stat(filepath.Join(dir, daemon.CatalogDir)); err == nil {
		return fmt.Errorf("recover: %s already exists; recover into a new --data directory", filepath.Join(dir, daemon.CatalogDir))
	}
	id, err := newIdentity(seed)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if err := writeIdentity(dir, id); err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	log := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	fmt.Fprintf(e.stdout, "Owner ID:      %s\n", id.owner.Signing.Public())
	fmt.Fprintf(e.stdout, "Looking for the catalog's backup on the network...\n")
	r, err := daemon.Recover(ctx, cfg.Config, id.daemon(), daemon.Options{Log: log})
	if err != nil {
		for _, name := range append([]string{daemon.CatalogDir, daemon.ShardsDir}, identityFiles...) {
			_ = os.RemoveAll(filepath.Join(dir, name))
		}
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "Peers:         %d verified; %d of %d root holders asked had a valid root\n", r.Peers, r.Valid, r.Asked)
	fmt.Fprintf(w, "Backup:        of %s (root %d)\n", r.RootTime().UTC().Format(time.DateTime), r.Root.Seq)
	fmt.Fprintf(w, "Recovered:     %d buckets, %d objects\n", r.Buckets, r.Objects)
	fmt.Fprintf(w, "Access key:    %s (secret in %s)\n", id.creds.AccessKeyID, filepath.Join(dir, credentialsFile))
	fmt.Fprintf(w, "Run `ishtar serve --data %s` to carry on.\n", dir)
	return nil
}

// readPhrase reads the recovery phrase: the first non-empty line of r.
func readPhrase(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no standard input to read the recovery phrase from")
	}
	sc := bufio.NewScanner(io.LimitReader(r, 4096))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			return line, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read the recovery phrase: %w", err)
	}
	return "", errors.New("no recovery phrase on standard input (pipe in the line `ishtar init` printed)")
}
