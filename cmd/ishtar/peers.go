package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/node"
	"ishtar/node/peers"
)

// runPeers prints the peers the running daemon of --data DIR knows: it
// asks its node's registry (GET /v1/registry, which answers the node's
// own key only) at the URL the daemon wrote to DIR/node.url.
func runPeers(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := dataFlag(e, fs)
	all := fs.Bool("all", false, "list peers heard of but not verified too")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, fs, "--data DIR [--all]")
			return err
		}
		return usageErrorf("peers: %v", err)
	}
	c, err := localNode(*data)
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := c.Registry(rctx)
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	if err := printPeers(e, v.Peers, *all); err != nil {
		return err
	}
	return printRefused(e, v.Stats.Refused)
}

// dataFlag adds --data DIR to fs: the running daemon's data directory
// (default ISHTAR_DATA, else ~/.ishtar).
func dataFlag(e *env, fs *flag.FlagSet) *string {
	def := ""
	if v, ok := e.lookupEnv("ISHTAR_DATA"); ok {
		def = v
	} else if home, err := os.UserHomeDir(); err == nil {
		def = filepath.Join(home, ".ishtar")
	}
	return fs.String("data", def, "the daemon's data `DIR`")
}

// localNode returns a client of the node of the daemon running on dir, at
// the URL it wrote to dir/node.url, signing with its own node key (the
// key its operator queries and registry answer).
func localNode(dir string) (*node.Client, error) {
	b, err := os.ReadFile(filepath.Join(dir, daemon.NodeURLFile))
	if err != nil {
		return nil, fmt.Errorf("is the daemon of %s running? %w", dir, err)
	}
	key, err := loadNodeKey(filepath.Join(dir, nodeKeyFile))
	if err != nil {
		return nil, err
	}
	return node.NewClient(strings.TrimSpace(string(b)), key, nil), nil
}

// printPeers writes the table of peers: verified ones first, by uptime.
func printPeers(e *env, list []peers.Peer, all bool) error {
	slices.SortStableFunc(list, func(a, b peers.Peer) int {
		switch {
		case a.Tried != b.Tried:
			if a.Tried {
				return -1
			}
			return 1
		case a.Uptime != b.Uptime:
			if a.Uptime > b.Uptime {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Record.Address, b.Record.Address)
	})
	w := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tURL\tLAST SEEN\tUPTIME\tFREE\tPLACEABLE")
	shown := 0
	for _, p := range list {
		if !p.Tried && !all {
			continue
		}
		seen := "never"
		if !p.LastSeen.IsZero() {
			seen = time.Since(p.LastSeen).Round(time.Second).String() + " ago"
		}
		place := "yes"
		if !p.Placeable {
			place = "no: " + p.Why
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.0f%%\t%s\t%s\n", p.Record.Node, p.Record.Address, seen, 100*p.Uptime, sizeText(p.Record.Free), place)
		shown++
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "%d peers shown of %d known\n", shown, len(list))
	return err
}

// printRefused writes the records the registry refused since the node
// started, by reason, if any.
func printRefused(e *env, refused map[string]int64) error {
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(refused)) {
		if refused[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, refused[r]))
		}
	}
	if len(parts) == 0 {
		return nil
	}
	_, err := fmt.Fprintf(e.stdout, "records refused since start: %s\n", strings.Join(parts, ", "))
	return err
}
