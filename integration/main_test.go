package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"ishtar/integration/devnet"
)

// binDir holds the ishtar binary built for this test run (on first use).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ishtar-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// ishtarBin builds cmd/ishtar once per test binary and returns its path.
func ishtarBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		binPath, binErr = devnet.Build(ctx, binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// needProcesses skips a test that runs child processes in -short mode.
func needProcesses(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
}

// devnetRun is a devnet process of a test, restartable on its data dir
// and S3 address.
type devnetRun struct {
	t    testing.TB
	dir  string
	s3   string
	args []string
	env  []string  // more ISHTAR_* settings
	log  io.Writer // every line the process prints, if set
	*devnet.Process
}

// startDevnet starts `ishtar devnet` on a fresh data dir; the process is
// killed when the test ends.
func startDevnet(t testing.TB, args ...string) *devnetRun {
	t.Helper()
	return startDevnetWith(t, nil, nil, args...)
}

// startDevnetWith is startDevnet with more environment variables for the
// process (ISHTAR_* settings) and a writer for every line it prints.
func startDevnetWith(t testing.TB, env []string, log io.Writer, args ...string) *devnetRun {
	t.Helper()
	needProcesses(t)
	addr, err := devnet.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	d := &devnetRun{t: t, dir: t.TempDir(), s3: addr, args: args, env: env, log: log}
	d.start()
	return d
}

// start (re)starts the process on the same data dir and address.
func (d *devnetRun) start() {
	d.t.Helper()
	p, err := devnet.Start(d.t.Context(), devnet.Options{
		Bin: ishtarBin(d.t), Dir: d.dir, S3: d.s3, Args: d.args, Env: d.env, Log: d.log, StartTimeout: time.Minute,
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.Process = p
	d.t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			d.t.Error(err)
		}
		if d.t.Failed() {
			d.t.Logf("devnet output (last lines):\n%s", lastLines(p.Output(), 60))
		}
	})
}

// restart stops the process with SIGTERM (a clean exit is required) and
// starts it again.
func (d *devnetRun) restart() {
	d.t.Helper()
	if err := d.Stop(time.Minute); err != nil {
		d.t.Fatal(err)
	}
	d.start()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
