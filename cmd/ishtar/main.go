// Command ishtar is the one binary of Ishtar, a trust-free storage network:
//
//	ishtar init     --data DIR            create the owner seed, node key and S3 keys
//	ishtar serve    --data DIR [flags]    run the node, the gateway and the S3 endpoint
//	ishtar devnet   --data DIR [flags]    run a whole network on loopback in one process
//	ishtar peers    --data DIR            list the peers the running daemon knows
//	ishtar status   --data DIR [B/K]      show the data's health, or one object's holders
//	ishtar upload   FILE...               store files through the local S3 endpoint
//	ishtar download KEY [DEST]            fetch one
//	ishtar list     [PREFIX]              list them
//	ishtar simulate [--nodes N] [--sweep P=a,b]  simulate durability and availability at scale
//
// Settings come from flags, which override ISHTAR_* environment variables,
// which override the TOML file (--config, or DATA/ishtar.toml). Errors are
// printed as one line, "ishtar: <what failed>: <why>"; the exit status is 1,
// or 2 for a wrong command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal ends the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// env is what a subcommand gets besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"init", "--data DIR [--recover PHRASE]", "create the owner seed, node key and S3 keys", runInit},
		{"recover", "--data DIR --bootstrap URL < PHRASE", "rebuild everything from the recovery phrase and the network", runRecover},
		{"serve", "--data DIR [--listen ADDR] [--s3 ADDR] [--bootstrap URL]... [--tracker [URL]]...", "run the node, gateway and S3 endpoint (or a tracker)", runServe},
		{"devnet", "--data DIR [--nodes 6] [--s3 ADDR] [--admin ADDR]", "run a whole network on loopback", runDevnet},
		{"peers", "--data DIR [--all]", "list the peers the running daemon knows", runPeers},
		{"status", "--data DIR [--json] [BUCKET/KEY]", "show the daemon's health, space, peers and data (exit 3: unhealthy), or one object's holders", runStatus},
		{"upload", "[--bucket B] FILE...", "store files through the local S3 endpoint", runUpload},
		{"download", "[--bucket B] KEY [DEST]", "fetch one object", runDownload},
		{"list", "[--bucket B] [PREFIX]", "list objects", runList},
		{"config", "[--data DIR] [--config FILE] [flags]", "print the effective configuration as TOML", runConfig},
		{"simulate", "[--nodes N] [--days D] [--sweep PARAM=a,b,c] [flags]", "simulate durability and availability of a network at scale", runSimulate},
		{"version", "", "print the version", func(_ context.Context, e *env, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "ishtar", version)
			return err
		}},
	}
}

// run executes the command line args (without the program name).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := &env{stdin: os.Stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	if len(args) == 0 {
		printUsage(stderr)
		return usageErrorf("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		printUsage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	return usageErrorf("unknown command %q (run `ishtar help`)", name)
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ishtar COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n            %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `ishtar COMMAND -h` for a command's flags.")
}

// printFlags writes a command's usage line and flags.
func printFlags(w io.Writer, fs *flag.FlagSet, args string) {
	fmt.Fprintf(w, "Usage: ishtar %s %s\n\nFlags:\n", fs.Name(), args)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode prints err as one line and returns the exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	fmt.Fprintln(stderr, "ishtar: "+msg)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	return 1
}

// exitError is a failure with an exit status of its own.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
