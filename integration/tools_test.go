package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireTool returns the path of a client binary. A missing one skips
// the test, except under CI, where it fails it: CI installs every client.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed, and CI is set: .ci/run must install it", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// tool runs one client binary with a fixed environment.
type tool struct {
	path string
	env  []string // added to the test process's environment
	dir  string   // working directory; empty: the test's
}

// run runs the tool with args, bounded by timeout, and returns its
// standard output; a failure ends the test with everything it printed.
func (tl tool) run(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	out, errOut, err := tl.try(t, timeout, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(tl.path), strings.Join(args, " "), err,
			lastLines(out, 40), lastLines(errOut, 40))
	}
	return out
}

// try runs the tool like run but returns the failure.
func (tl tool) try(t testing.TB, timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tl.path, args...)
	cmd.Env = append(cleanEnv(), tl.env...)
	cmd.Dir = tl.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// On timeout kill the whole process group: clients may fork helpers.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	t.Logf("%s %s: %v in %v", filepath.Base(tl.path), strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (timeout %v)", err, timeout)
	}
	return o.String(), e.String(), err
}

// cleanEnv is the test process's environment without the variables
// that configure the clients (AWS_PROFILE, AWS_CA_BUNDLE, RCLONE_*, ...):
// each client gets exactly the settings its test gives it.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "RCLONE_"), strings.HasPrefix(k, "RESTIC_"),
			strings.HasPrefix(k, "S3CMD"), strings.HasPrefix(k, "BOTO_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// sameTree runs `diff -r` on two directories.
func sameTree(t testing.TB, a, b string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "diff", "-r", a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("diff -r %s %s: %v\n%s", a, b, err, lastLines(string(out), 40))
	}
}

// sameFile runs cmp on two files.
func sameFile(t testing.TB, a, b string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "cmp", a, b).CombinedOutput()
	if err != nil {
		t.Fatalf("cmp %s %s: %v\n%s", a, b, err, out)
	}
}

// writeFile writes data to dir/name, creating directories.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// treeFiles are the files of the trees the sync tests copy around: empty,
// tiny, a block, above aws cli's 8 MiB multipart threshold, and names
// with spaces, '+', '%' and non-ASCII letters, some nested.
var treeFiles = []struct {
	name string
	size int
}{
	{"empty", 0},
	{"one byte", 1},
	{"a/b/c/deep.txt", 4 * KiB},
	{"a/plus+sign & space.bin", 70 * KiB},
	{"a/perçent%20é.dat", 1 * MiB},
	{"big/nine-mib.bin", 9 * MiB},
	{"z/last", 123},
}

// makeTree writes treeFiles under a new directory and returns it.
func makeTree(t testing.TB, seed uint64) string {
	t.Helper()
	dir := t.TempDir()
	for i, f := range treeFiles {
		writeFile(t, dir, f.name, randBytes(f.size, seed+uint64(i)))
	}
	return dir
}
