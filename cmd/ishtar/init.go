package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"ishtar/shard"
)

// runInit creates a data directory's identity: owner seed, node key and S3
// credentials. It never replaces an existing one.
func runInit(_ context.Context, e *env, args []string) error {
	l := newLoader("init", []string{"data"}, e.lookupEnv)
	var recoverPhrase string
	l.fs.StringVar(&recoverPhrase, "recover", "", "restore the owner seed from this recovery phrase instead of making a new one")
	if err := l.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, l.fs, "--data DIR [--recover PHRASE]")
		}
		return err
	}
	if l.fs.NArg() > 0 {
		return usageErrorf("init: unexpected argument %q", l.fs.Arg(0))
	}
	cfg, err := l.load()
	if err != nil {
		return err
	}
	var seed shard.Seed
	if recoverPhrase != "" {
		if seed, err = shard.ParsePhrase(recoverPhrase); err != nil {
			return fmt.Errorf("init: --recover: %w", err)
		}
	}
	dir := cfg.Data
	if name, err := existingIdentity(dir); err != nil {
		return fmt.Errorf("init: %w", err)
	} else if name != "" {
		return fmt.Errorf("init: %s already exists; refusing to overwrite an identity (use another --data)", filepath.Join(dir, name))
	}
	id, err := newIdentity(seed)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := writeIdentity(dir, id); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	printIdentity(e, dir, id, recoverPhrase == "")
	return nil
}

func printIdentity(e *env, dir string, id identity, showPhrase bool) {
	w := e.stdout
	fmt.Fprintf(w, "Initialized Ishtar in %s\n", dir)
	fmt.Fprintf(w, "Owner ID:          %s\n", id.owner.Signing.Public())
	fmt.Fprintf(w, "Node ID:           %s\n", id.node.Public())
	fmt.Fprintf(w, "S3 access key:     %s (secret in %s)\n", id.creds.AccessKeyID, filepath.Join(dir, credentialsFile))
	if showPhrase {
		fmt.Fprintf(w, "Recovery phrase:   %s\n", id.seed.Phrase())
		fmt.Fprintln(w, "Write the recovery phrase down and keep it away from this machine: it alone")
		fmt.Fprintf(w, "recovers everything you store. It is not shown again (%s holds it).\n", filepath.Join(dir, seedFile))
	} else {
		fmt.Fprintln(w, "Owner seed restored from the recovery phrase.")
	}
}
