package main

// Tests that run ishtar as a real process (the test binary re-executed as
// "ishtar", see TestMain) and talk to it over loopback.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ishtar/node"
	"ishtar/shard"
)

// startTimeout bounds how long a process may take to print its ready
// lines, and to exit after SIGTERM.
const startTimeout = 60 * time.Second

// proc is a running ishtar process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  map[string]string // "Label:" -> value, from stdout up to readiness
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // signalled after each write
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{written: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		select {
		case s.written <- struct{}{}:
		default:
		}
	}()
	return s.b.Write(p)
}

// waitFor waits until the buffer holds sub, or d has passed.
func (s *syncBuffer) waitFor(sub string, d time.Duration) bool {
	timeout := time.After(d)
	for !strings.Contains(s.String(), sub) {
		select {
		case <-s.written:
		case <-timeout:
			return false
		}
	}
	return true
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startIshtar runs `ishtar args...` and waits until it prints a line
// beginning with readyLabel (e.g. "S3 endpoint:"). The process is killed
// at the end of the test if still running.
func startIshtar(t *testing.T, readyLabel string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("ishtar", args...)
	cmd.Env = append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, lines: make(map[string]string), stderr: newSyncBuffer(), done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if found {
				continue // keep draining
			}
			if k, v, ok := strings.Cut(line, ":"); ok {
				p.lines[k+":"] = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, readyLabel) {
				found = true
				ready <- nil
			}
		}
		if !found {
			ready <- errors.New("stdout closed before " + readyLabel)
		}
		p.done <- cmd.Wait()
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("ishtar %s: %v; stderr:\n%s", args[0], err, p.stderr)
		}
	case <-time.After(startTimeout):
		t.Fatalf("ishtar %s: not ready after %v; stderr:\n%s", args[0], startTimeout, p.stderr)
	}
	return p
}

// stop sends SIGTERM and checks that the process exits with status 0.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("ishtar exited with %v after SIGTERM; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(startTimeout):
		p.t.Fatalf("ishtar did not exit within %v of SIGTERM", startTimeout)
	}
}

func initDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if out, err := exec.Command("ishtar", "init", "--data", dir).CombinedOutput(); err != nil {
		t.Fatalf("ishtar init: %v\n%s", err, out)
	}
	return dir
}

// testShard makes size random bytes, their ID and an owner's store grant.
func testShard(t *testing.T, size int) ([]byte, shard.ID, shard.Grant) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	owner := seed.Keys().Signing
	id := shard.ComputeID(data, shard.DefaultBlockSize)
	now := time.Now()
	g := shard.Grant{
		Op: shard.OpStore, Shard: id, Size: int64(size), Owner: owner.Public(),
		LeaseExpiry: now.Add(30 * 24 * time.Hour).Unix(), Time: now.UnixNano(),
	}
	g.Sign(owner)
	return data, id, g
}

func newNodeClient(t *testing.T, url string) *node.Client {
	t.Helper()
	k, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return node.NewClient(url, k, nil)
}

func serveArgs(dir string, extra ...string) []string {
	return append([]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--s3", "127.0.0.1:0"}, extra...)
}

// A node process restarted keeps its shards.
func TestServeRestartKeepsShards(t *testing.T) {
	dir := initDataDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*startTimeout)
	defer cancel()

	p := startIshtar(t, "Node endpoint:", serveArgs(dir)...)
	nodeID := p.lines["Node ID:"]
	data, id, g := testShard(t, 300<<10+17)
	c := newNodeClient(t, p.lines["Node endpoint:"])
	rc, err := c.PutShard(ctx, id, bytes.NewReader(data), int64(len(data)), g)
	if err != nil {
		t.Fatalf("PutShard: %v", err)
	}
	if rc.Node.String() != nodeID {
		t.Fatalf("receipt from node %s, the process printed %s", rc.Node, nodeID)
	}
	p.stop()

	// Bytes left in the store with no index entry, as by a crash between
	// writing a shard and indexing it, are removed at the next start.
	orphan, orphanID, _ := testShard(t, 200<<10)
	st, err := node.NewDiskStore(filepath.Join(dir, "shards"), shard.DefaultBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.Create(ctx, orphanID, int64(len(orphan)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(orphan); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	p = startIshtar(t, "Node endpoint:", serveArgs(dir)...)
	if !p.stderr.waitFor("removed shards the catalog does not hold", startTimeout) {
		t.Fatalf("no sweep of the unheld shard logged; stderr:\n%s", p.stderr)
	}
	if _, err := st.Stat(ctx, orphanID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("unheld shard still stored after a restart: %v", err)
	}
	if got := p.lines["Node ID:"]; got != nodeID {
		t.Fatalf("node ID changed across a restart: %s, then %s", nodeID, got)
	}
	c = newNodeClient(t, p.lines["Node endpoint:"])
	body, err := c.GetShard(ctx, id, 0, -1)
	if err != nil {
		t.Fatalf("GetShard after restart: %v", err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("shard read back after a restart differs: %d bytes, want %d", len(got), len(data))
	}
	p.stop()
}

// A node whose capacity is too small refuses a store cleanly: 507, and
// nothing of the shard is left behind.
func TestServeFullNodeRefuses(t *testing.T) {
	dir := initDataDir(t)
	// The test's owner holds nothing for the node's: let it store on
	// grace up to the whole capacity (node.stranger_share), so that the
	// refusal is for space, not credit.
	t.Setenv("ISHTAR_NODE_STRANGER_SHARE", "1")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	p := startIshtar(t, "Node endpoint:", serveArgs(dir, "--capacity", "200KiB")...)
	c := newNodeClient(t, p.lines["Node endpoint:"])

	data, id, g := testShard(t, 300<<10)
	_, err := c.PutShard(ctx, id, bytes.NewReader(data), int64(len(data)), g)
	var ne *node.Error
	if !errors.Is(err, node.ErrInsufficientStorage) || !errors.As(err, &ne) || ne.Status != http.StatusInsufficientStorage {
		t.Fatalf("PutShard over capacity: %v, want insufficient_storage (507)", err)
	}
	if _, err := c.GetShard(ctx, id, 0, -1); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("GetShard of a refused shard: %v, want not_found", err)
	}

	// A shard that fits is still taken. Both are larger than the node keeps
	// in its catalog (node.DefaultInlineMax), so each would be a file.
	small, sid, sg := testShard(t, 100<<10)
	if _, err := c.PutShard(ctx, sid, bytes.NewReader(small), int64(len(small)), sg); err != nil {
		t.Fatalf("PutShard within capacity: %v", err)
	}
	p.stop()

	var files []string
	err = filepath.WalkDir(filepath.Join(dir, shardsDir), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || !strings.Contains(files[0], sid.String()) {
		t.Fatalf("shard files after one refused and one stored shard: %q", files)
	}
}

// A listen address in use is a one-line error, exit status 1.
func TestServeAddressInUse(t *testing.T) {
	dir := initDataDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command("ishtar", "serve", "--data", dir, "--listen", ln.Addr().String(), "--s3", "127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("serve on a busy port: %v, want exit status 1", err)
	}
	msg := stderr.String()
	if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "ishtar: serve: ") || !strings.Contains(msg, "address already in use") {
		t.Fatalf("stderr %q, want one line naming the busy address", msg)
	}
}
