package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/gateway/upkeep"
)

// exitUnhealthy is the exit status of `ishtar status` when the daemon
// answers but is not healthy (1: it could not be asked; 2: usage).
const exitUnhealthy = 3

// runStatus prints the network's view of the owner's data, or of one
// object (BUCKET/KEY), as the running daemon of --data DIR sees it: it
// asks its node (GET /v1/op/status or /v1/op/object, which answer the
// node's own key only) at the URL the daemon wrote to DIR/node.url. It
// exits with status 3 when the daemon is not healthy (Status.Health).
func runStatus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := dataFlag(e, fs)
	asJSON := fs.Bool("json", false, "print the answer as JSON (for scripts)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printFlags(e.stdout, fs, "--data DIR [--json] [BUCKET/KEY]")
			fmt.Fprintf(e.stdout, "\nExit status: 0 healthy, 1 the daemon could not be asked, 2 usage, %d unhealthy.\n", exitUnhealthy)
			return err
		}
		return usageErrorf("status: %v", err)
	}
	var bucket, key string
	switch fs.NArg() {
	case 0:
	case 1:
		var ok bool
		if bucket, key, ok = strings.Cut(fs.Arg(0), "/"); !ok || bucket == "" || key == "" {
			return usageErrorf("status: %q is not BUCKET/KEY", fs.Arg(0))
		}
	default:
		return usageErrorf("status: unexpected argument %q", fs.Arg(1))
	}
	c, err := localNode(*data)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if bucket != "" {
		var v upkeep.ObjectView
		if err := c.Operator(rctx, daemon.OpObject, url.Values{"bucket": {bucket}, "key": {key}}, &v); err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if *asJSON {
			return printJSON(e, v)
		}
		return printObjectStatus(e, v)
	}
	var sv daemon.Status
	if err := c.Operator(rctx, daemon.OpStatus, nil, &sv); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if *asJSON {
		err = printJSON(e, sv)
	} else {
		err = printStatus(e, sv, adminURL(*data))
	}
	if err == nil && !sv.Health.OK {
		err = &exitError{code: exitUnhealthy, err: fmt.Errorf("status: unhealthy: %s", strings.Join(sv.Health.Problems, "; "))}
	}
	return err
}

// adminURL is the status page's URL of the daemon of dir, or "".
func adminURL(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, daemon.AdminURLFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// statusSections print the sections of a status, in order; a new
// section of daemon.Status gets one more function here.
var statusSections = []func(w io.Writer, st daemon.Status){
	printHealth, printSurvey, printBackup, printSpace, printExchange, printPeerSection, printErrors,
}

// printStatus writes every section of st.
func printStatus(e *env, st daemon.Status, admin string) error {
	for i, p := range statusSections {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		p(e.stdout, st)
	}
	if admin != "" {
		fmt.Fprintf(e.stdout, "\nStatus page:   %s/\n", admin)
	}
	return nil
}

// printHealth writes whether the daemon is healthy, and why not.
func printHealth(w io.Writer, st daemon.Status) {
	if st.Health.OK {
		fmt.Fprintln(w, "Health:        healthy")
		return
	}
	fmt.Fprintln(w, "Health:        UNHEALTHY")
	for _, p := range st.Health.Problems {
		fmt.Fprintf(w, "               - %s\n", p)
	}
}

// printSpace writes the space given to others and used by the owner.
func printSpace(w io.Writer, st daemon.Status) {
	u, s := st.Node, st.Space
	fmt.Fprintf(w, "Space given:   %s offered, %s used by others (%d shards of %d owners), %s free\n",
		sizeText(u.Capacity), sizeText(u.Used), u.Shards, u.Owners, sizeText(u.Free))
	fmt.Fprintf(w, "Space used:    %d objects, %s; %s on peers + %s inline of a %s quota\n",
		s.Objects, sizeText(s.LogicalBytes), sizeText(s.StoredBytes), sizeText(s.InlineBytes), sizeText(s.Quota))
}

// printPeerSection writes the peer counts and the verified peers.
func printPeerSection(w io.Writer, st daemon.Status) {
	p := st.Peers
	fmt.Fprintf(w, "Peers:         %d known, %d verified, %d placeable, %d online; expected availability %.1f%% (%d of %d)\n",
		p.Known, p.Verified, p.Placeable, p.Online, 100*p.Availability, st.K, st.N)
	if len(p.List) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  PEER\tADDRESS\tONLINE\tUPTIME\tLAST SEEN\tFREE")
	for _, x := range p.List {
		seen := "never"
		if !x.LastSeen.IsZero() {
			seen = x.LastSeen.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "  %.16s\t%s\t%v\t%.1f%%\t%s\t%s\n", x.ID, x.Address, x.Online, 100*x.Uptime, seen, sizeText(x.Free))
	}
	_ = tw.Flush()
}

// printErrors writes the last warnings and errors the daemon logged.
func printErrors(w io.Writer, st daemon.Status) {
	if len(st.Errors) == 0 {
		fmt.Fprintln(w, "Recent errors: none")
		return
	}
	fmt.Fprintln(w, "Recent errors:")
	for _, x := range st.Errors {
		fmt.Fprintf(w, "  %s %-5s %s\n", x.Time.UTC().Format(time.DateTime), x.Level, x.Message)
	}
}

// printJSON writes v as indented JSON.
func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printSurvey writes the counts of a survey.
func printSurvey(w io.Writer, st daemon.Status) {
	sv := st.Survey
	n := sv.N // of the segments, when they share a code
	if len(sv.Codes) == 1 {
		for c := range sv.Codes {
			_, after, _ := strings.Cut(c, "/")
			n, _ = strconv.Atoi(after)
		}
	}
	byHealthy := func(title string, m map[int]int64) {
		var total int64
		for _, n := range m {
			total += n
		}
		fmt.Fprintf(w, "%s: %d\n", title, total)
		for _, h := range slices.Backward(slices.Sorted(maps.Keys(m))) {
			if len(sv.Codes) > 1 { // n differs between segments
				fmt.Fprintf(w, "  %d shards healthy: %d\n", h, m[h])
			} else {
				fmt.Fprintf(w, "  %d of %d shards healthy: %d\n", h, n, m[h])
			}
		}
	}
	byHealthy("Objects (by their weakest segment)", sv.Objects)
	byHealthy("Segments", sv.Segments)
	if len(sv.Codes) > 1 {
		var codes []string
		for _, c := range slices.Sorted(maps.Keys(sv.Codes)) {
			codes = append(codes, fmt.Sprintf("%s: %d", c, sv.Codes[c]))
		}
		fmt.Fprintf(w, "Codes (k/n):   %s segments; new ones get %d/%d\n", strings.Join(codes, ", "), sv.K, sv.N)
	}
	fmt.Fprintf(w, "Need repair:   %d segments (%d waiting for holders to return; k=%d)\n", sv.NeedRepair, sv.Waiting, sv.K)
	fmt.Fprintf(w, "Lost shards:   %d awaiting repair\n", sv.LostShards)
	u := sv.Upkeep
	fmt.Fprintf(w, "Audits:        %d passed, %d failed, %d shards found lost (since the daemon started)\n", u.AuditsPassed, u.AuditsFailed, u.ShardsLost)
	fmt.Fprintf(w, "Repairs:       %d segments repaired, %d shards (%s) rebuilt, %d failed\n", u.Repairs, u.ShardsRepaired, sizeText(u.BytesRepaired), u.RepairFailures)
	fmt.Fprintf(w, "Leases:        %d renewed, %d shards not held, %d failed batches\n", u.LeasesRenewed, u.NotHeld, u.RenewFailures)
}

// printExchange writes the ledger of fair exchange: what others hold for
// the owner, what this node extends on grace and delegated, and the top
// counterparts.
func printExchange(w io.Writer, st daemon.Status) {
	ex := st.Exchange
	fmt.Fprintf(w, "On the network: %s of yours held by peers (audits passing)\n", sizeText(ex.OnNetwork))
	fmt.Fprintf(w, "Credit:        %d owners store here, %s for them (%s on grace, at most %s; %s each)\n",
		ex.Owners, sizeText(ex.HeldForOthers), sizeText(ex.Debts), sizeText(ex.StrangerCap), sizeText(ex.Grace))
	if ex.Delegated > 0 {
		fmt.Fprintf(w, "Delegated:     %s forwarded to other nodes (this node answers for it)\n", sizeText(ex.Delegated))
	}
	if len(ex.Top) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  OWNER\tHELD FOR THEM\tHELD BY THEM\tTHEIR CREDIT")
	for _, c := range ex.Top {
		fmt.Fprintf(tw, "  %.16s\t%s\t%s\t%s\n", c.Owner, sizeText(c.HeldFor), sizeText(c.HeldBy), signedSize(c.Credit))
	}
	_ = tw.Flush()
}

// signedSize is sizeText for a count that may be negative.
func signedSize(n int64) string {
	if n < 0 {
		return "-" + sizeText(-n)
	}
	return sizeText(n)
}

// printBackup writes the catalog backup's state.
func printBackup(w io.Writer, st daemon.Status) {
	b := st.Backup
	switch {
	case b.RootSeq == 0:
		fmt.Fprintf(w, "Backup:        none yet (%d changes waiting)\n", b.Pending)
	case b.Lag > 0:
		fmt.Fprintf(w, "Backup:        %d changes waiting, the oldest for %s\n", b.Pending, b.Lag.Round(time.Second))
	default:
		fmt.Fprintf(w, "Backup:        up to date\n")
	}
	if b.RootSeq != 0 {
		fmt.Fprintf(w, "               last root %s, held by %d peers; %d snapshots, %d log steps since start\n",
			b.RootTime.UTC().Format(time.DateTime), b.RootHolders, b.Snapshots, b.Logs)
	}
	if b.Failures > 0 {
		fmt.Fprintf(w, "               %d steps failed, the last: %s\n", b.Failures, b.LastError)
	}
}

// printObjectStatus writes one object's segments and their holders.
func printObjectStatus(e *env, v upkeep.ObjectView) error {
	plural := "s"
	if len(v.Segments) == 1 {
		plural = ""
	}
	fmt.Fprintf(e.stdout, "%s/%s: %d bytes in %d segment%s, k=%d n=%d\n", v.Bucket, v.Key, v.Size, len(v.Segments), plural, v.K, v.N)
	for i, s := range v.Segments {
		fmt.Fprintf(e.stdout, "segment %d %s: %d bytes, %d shards healthy, %s\n", i, s.ID, s.Size, s.Healthy, s.Status)
		w := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(w, "  INDEX\tSHARD\tHOLDER\tURL\tHEALTH\tLEASE UNTIL\tLAST AUDIT")
		for _, sh := range s.Shards {
			health := sh.Health
			if sh.Reason != "" {
				health += ": " + sh.Reason
			}
			fmt.Fprintf(w, "  %d\t%.16s\t%.16s\t%s\t%s\t%s\t%s\n", sh.Index, sh.ID, sh.Holder, sh.Address, health,
				sh.LeaseExpiry.UTC().Format(time.DateTime), sh.LastAudit.UTC().Format(time.DateTime))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}
