// Package devnet runs `ishtar devnet` or `ishtar serve` as a child
// process, for the multi-process tests and the benchmark: it builds the
// binary, starts a devnet (or a node on a data directory made by `ishtar
// init`), waits for its "S3 endpoint:" line on stdout (never sleeping),
// reads the DIR/devnet.env it writes (or serve's output and credentials),
// and stops it with SIGTERM or SIGKILL.
package devnet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"
)

// ReadyPrefix starts the line devnet prints once its S3 endpoint accepts
// connections.
const ReadyPrefix = "S3 endpoint:"

// Build compiles ./cmd/ishtar of the module containing the working
// directory into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ishtar")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "ishtar/cmd/ishtar")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("devnet: go build ishtar/cmd/ishtar: %w\n%s", err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port free at the time of
// the call.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("devnet: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("devnet: find a free port: %w", err)
	}
	return addr, nil
}

// Options describe a devnet process.
type Options struct {
	Bin string // the ishtar binary
	Dir string // its --data directory
	S3  string // its --s3 address
	// Admin is its --admin address (the admin listener); default
	// 127.0.0.1:0, a free port, so that processes run side by side.
	Admin string
	Args  []string // more flags for `ishtar devnet`
	// Env holds more KEY=VALUE variables for the process (ISHTAR_*
	// settings), after this process's own environment.
	Env []string
	// Log, if set, receives every line the process prints (stdout and
	// stderr), prefixed with "stdout: " or "stderr: ".
	Log io.Writer
	// StartTimeout bounds the wait for the ready line; default 2 minutes.
	StartTimeout time.Duration
	// Wrap, if set, is a command that runs the process, e.g. ip netns
	// exec NAME: the process is Wrap... Bin args...
	Wrap []string
}

func (o *Options) admin() string {
	if o.Admin == "" {
		return "127.0.0.1:0"
	}
	return o.Admin
}

// Process is a running devnet or serve process.
type Process struct {
	// Endpoint, AccessKey, SecretKey and Region come from DIR/devnet.env
	// (a devnet), or from the ready output and DIR/s3.credentials (serve).
	Endpoint, AccessKey, SecretKey, Region string
	// Env is DIR/devnet.env as KEY=VALUE strings, ready for exec.Cmd.Env
	// (a devnet only).
	Env []string
	// NodeID and NodeURL are the node's ID and advertised URL as serve
	// prints them (serve only).
	NodeID, NodeURL string

	cmd     *exec.Cmd
	out     *tail
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
	ready   chan string   // the ready line
}

// Start runs `ishtar devnet --data Dir --s3 S3 Args...` and waits until it
// prints its ready line, exits, or StartTimeout passes (then it is
// killed). ctx bounds the wait as well.
func Start(ctx context.Context, o Options) (*Process, error) {
	p, err := start(ctx, o, append([]string{"devnet", "--data", o.Dir, "--s3", o.S3, "--admin", o.admin()}, o.Args...))
	if err != nil {
		return nil, err
	}
	if err := p.readEnv(filepath.Join(o.Dir, "devnet.env")); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// Init runs `ishtar init --data dir`.
func Init(ctx context.Context, bin, dir string, wrap ...string) error {
	args := append(append(append([]string(nil), wrap...), bin), "init", "--data", dir)
	if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("devnet: ishtar init: %w\n%s", err, out)
	}
	return nil
}

// StartServe runs `ishtar serve --data Dir --s3 S3 Args...` on a data
// directory made by Init (Args name its --listen address and its peers)
// and waits until it prints its ready line, as Start does.
func StartServe(ctx context.Context, o Options) (*Process, error) {
	p, err := start(ctx, o, append([]string{"serve", "--data", o.Dir, "--s3", o.S3, "--admin", o.admin()}, o.Args...))
	if err != nil {
		return nil, err
	}
	if err := p.readServe(filepath.Join(o.Dir, "s3.credentials")); err != nil {
		_ = p.Kill()
		return nil, err
	}
	return p, nil
}

// readServe reads what serve printed before its ready line, and its S3
// credentials.
func (p *Process) readServe(creds string) error {
	for _, line := range strings.Split(p.out.String(), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "stdout: "), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "Node ID":
			p.NodeID = v
		case "Node endpoint":
			p.NodeURL = v
		case "S3 endpoint":
			p.Endpoint = v
		}
	}
	var c struct {
		AccessKeyID     string `toml:"access_key_id"`
		SecretAccessKey string `toml:"secret_access_key"`
	}
	if _, err := toml.DecodeFile(creds, &c); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	p.AccessKey, p.SecretKey, p.Region = c.AccessKeyID, c.SecretAccessKey, "us-east-1"
	if p.NodeID == "" || p.NodeURL == "" || p.Endpoint == "" || p.AccessKey == "" || p.SecretKey == "" {
		return fmt.Errorf("devnet: serve printed no node ID, node endpoint or S3 endpoint, or %s lacks keys:\n%s", creds, p.out)
	}
	return nil
}

// start runs the binary with args (wrapped by o.Wrap) and waits for its
// ready line.
func start(ctx context.Context, o Options, args []string) (*Process, error) {
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	argv := append(append(append([]string(nil), o.Wrap...), o.Bin), args...)
	p := &Process{
		cmd:   exec.Command(argv[0], argv[1:]...),
		out:   &tail{},
		done:  make(chan struct{}),
		ready: make(chan string, 1),
	}
	if len(o.Env) > 0 {
		p.cmd.Env = append(os.Environ(), o.Env...)
	}
	// The child dies with the test process, whatever happens to it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("devnet: start %s: %w", o.Bin, err)
	}
	var copying sync.WaitGroup
	copying.Go(func() { p.copyLines(stdout, "stdout: ", o.Log, true) })
	copying.Go(func() { p.copyLines(stderr, "stderr: ", o.Log, false) })
	go func() {
		copying.Wait() // Wait must not run before the pipes are drained
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()

	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
	case <-p.done:
		return nil, fmt.Errorf("devnet: exited before ready (%v):\n%s", p.waitErr, p.out)
	case <-timer.C:
		_ = p.Kill()
		return nil, fmt.Errorf("devnet: not ready after %v:\n%s", o.StartTimeout, p.out)
	case <-ctx.Done():
		_ = p.Kill()
		return nil, fmt.Errorf("devnet: waiting for ready: %w", ctx.Err())
	}
	return p, nil
}

// copyLines copies r line by line into the tail and log; on stdout it
// reports the first ready line.
func (p *Process) copyLines(r io.Reader, prefix string, log io.Writer, stdout bool) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readySent := false
	for sc.Scan() {
		line := sc.Text()
		p.out.add(prefix + line)
		if log != nil {
			fmt.Fprintln(log, prefix+line)
		}
		if stdout && !readySent && strings.HasPrefix(strings.TrimSpace(line), ReadyPrefix) {
			p.ready <- line
			readySent = true
		}
	}
	// Keep draining after a scanner error so the child never blocks.
	_, _ = io.Copy(io.Discard, r)
}

// readEnv parses devnet.env: lines "export KEY=VALUE" or "KEY=VALUE",
// values optionally quoted.
func (p *Process) readEnv(path string) error {
	env, err := ParseEnv(path)
	if err != nil {
		return err
	}
	p.Endpoint, p.AccessKey = env["ISHTAR_S3_ENDPOINT"], env["AWS_ACCESS_KEY_ID"]
	p.SecretKey, p.Region = env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"]
	if p.Endpoint == "" || p.AccessKey == "" || p.SecretKey == "" || p.Region == "" {
		return fmt.Errorf("devnet: %s lacks ISHTAR_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_REGION", path)
	}
	for k, v := range env {
		p.Env = append(p.Env, k+"="+v)
	}
	return nil
}

// ParseEnv reads a devnet.env file.
func ParseEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	env := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("devnet: %s: malformed line %q", path, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[strings.TrimSpace(k)] = v
	}
	return env, nil
}

// PID returns the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Output returns the last lines the process printed.
func (p *Process) Output() string { return p.out.String() }

// Kill sends SIGKILL and waits for the process to be gone. Killing an
// exited process is not an error.
func (p *Process) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devnet: kill %d: %w", p.PID(), err)
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout for a clean exit (status 0);
// past it the process is killed and Stop fails.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devnet: terminate %d: %w", p.PID(), err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.Kill()
		return fmt.Errorf("devnet: still running %v after SIGTERM:\n%s", timeout, p.out)
	}
	if p.waitErr != nil {
		return fmt.Errorf("devnet: exit after SIGTERM: %w\n%s", p.waitErr, p.out)
	}
	return nil
}

// tail keeps the last lines a process printed.
type tail struct {
	mu    sync.Mutex
	lines []string
}

const maxTail = 400

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > maxTail {
		t.lines = append(t.lines[:0], t.lines[len(t.lines)-maxTail:]...)
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
