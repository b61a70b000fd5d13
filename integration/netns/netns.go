// Package netns gives a test N "hosts" that talk to each other over a
// real network: each host is a Linux network namespace with its own
// interface and address, all joined by one Ethernet bridge. Processes run
// on a host through `ip netns exec` (Host.Wrap, Host.Command, Host.Run),
// and the test process itself dials and listens inside a host
// (Host.DialContext, Host.Listen, Host.HTTPClient), so a test can reach a
// server that listens on a host's loopback.
//
//	n := netns.New(t, 8)
//	h := n.Host(3)            // h.Name "ishtar-<pid>-<rand>-h3", h.IP "198.18.3.2"
//	cmd := h.Command(ctx, "bin/ishtar", "serve", "--listen", h.Addr(7070))
//	hc := n.Host(1).HTTPClient(10 * time.Second) // dials from host 1
//	h.Cut()                   // unplug host 3; h.Restore() plugs it back
//
// # Address plan
//
// Host i (0 <= i < 250) has the interface eth0 with the address
// 198.18.i.2/24 and an on-link route for the whole test range
// 198.18.0.0/16, so hosts in different /24s reach each other directly on
// the bridge: no router, no IP forwarding (off in every namespace), no
// default route, IPv6 off, loopback up. Every host is in an address block
// of its own, as separate machines on the Internet would be (the
// gateway's address diversity is by /24). 198.18.0.0/15 is reserved for
// network benchmark tests (RFC 2544), so it is nobody's real network; and
// since every address lives only inside the test's own namespaces, the
// same plan serves any number of test runs at once without collisions.
//
// # Topology and names
//
// Nothing is created in the machine's own (root) namespace: the bridge
// br0 lives in a namespace of its own, NAME-br, and host i's cable is a
// veth pair made directly across namespaces, port pI on the bridge side
// and eth0 on the host side. Namespace names are "ishtar-<pid>-<8 hex>-"
// followed by "br" or "h<i>", unique per Net, so test binaries running at
// once never meet. Everything is removed when the test ends, pass or fail
// (t.Cleanup; deleting a namespace destroys its interfaces). Namespaces
// that a killed earlier run left behind (their pid no longer exists) are
// removed by the next New; they never get in its way in any case.
//
// Cut sets a host's bridge port down, as if its cable were pulled at the
// switch: the host keeps its address and routes, but neither it nor
// anyone else gets a packet across (connections to it fail after ARP
// gives up, about 3 s; established ones stall). Restore sets it up again.
//
// # Requirements
//
// Root with CAP_SYS_ADMIN and CAP_NET_ADMIN (a container needs them, e.g.
// --privileged) and iproute2's `ip` with `ip netns`. New skips the test
// without them (not root, no ip, or the first namespace cannot be made),
// but fails it when the CI environment variable is set, so CI never
// silently skips. Linux only.
package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// Range is the test address range; host i is HostIP(i) in the /24
	// 198.18.i.0/24.
	Range = "198.18.0.0/16"
	// MaxHosts bounds New's n (one /24 per host within Range).
	MaxHosts = 250
	// Iface is a host's interface name.
	Iface = "eth0"
	// namePrefix starts every namespace name this package makes.
	namePrefix = "ishtar-"
	// runDir is where `ip netns` keeps its named namespaces.
	runDir = "/var/run/netns"
	// cmdTimeout bounds one ip command.
	cmdTimeout = 30 * time.Second
)

// HostIP returns host i's address.
func HostIP(i int) string { return fmt.Sprintf("198.18.%d.2", i) }

// Net is a set of hosts on one bridge, made by New.
type Net struct {
	t      testing.TB
	prefix string // "ishtar-<pid>-<rand>-"
	bridge string // the bridge's namespace
	hosts  []*Host
}

// Host is one network namespace of a Net.
type Host struct {
	Index  int    // position in the Net
	Name   string // namespace name, for `ip netns exec`
	IP     string // address on eth0, e.g. "198.18.3.2"
	Prefix string // its /24, e.g. "198.18.3.0/24"

	net  *Net
	port string // bridge port of its veth, in the bridge namespace

	mu sync.Mutex
	tr *http.Transport // shared by HTTPClient's clients
}

// New creates n hosts (1 <= n <= MaxHosts) on one bridge and removes them
// when the test ends. It skips the test when not run as root or when `ip
// netns` is unavailable, unless the CI environment variable is set: then
// it fails. Any other setup error fails the test.
func New(t testing.TB, n int) *Net {
	t.Helper()
	if n < 1 || n > MaxHosts {
		t.Fatalf("netns: %d hosts, want 1 to %d", n, MaxHosts)
	}
	unavailable := func(err error) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("netns: network namespaces unavailable with CI set: %v", err)
		}
		t.Skipf("netns: network namespaces unavailable: %v", err)
	}
	if err := available(); err != nil {
		unavailable(err)
	}
	removeStale(t)

	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // never fails
	nt := &Net{t: t, prefix: fmt.Sprintf("%s%d-%s-", namePrefix, os.Getpid(), hex.EncodeToString(rnd[:]))}
	nt.bridge = nt.prefix + "br"
	var created []string // namespaces to delete, even after a failed setup
	t.Cleanup(func() {
		for _, h := range nt.hosts {
			h.mu.Lock()
			if h.tr != nil {
				h.tr.CloseIdleConnections()
			}
			h.mu.Unlock()
		}
		for _, name := range created {
			if out, err := ip("netns", "del", name); err != nil {
				t.Errorf("netns: delete %s: %v\n%s", name, err, out)
			}
		}
	})

	fail := func(err error) {
		t.Helper()
		t.Fatalf("netns: setup: %v", err)
	}
	addNS := func(name string) {
		t.Helper()
		if out, err := ip("netns", "add", name); err != nil {
			err = fmt.Errorf("ip netns add %s: %w\n%s", name, err, out)
			if len(created) == 0 {
				unavailable(err) // root without the capabilities, e.g. in a container
			}
			fail(err)
		}
		created = append(created, name)
		// Before any interface exists, so new ones inherit the defaults.
		if err := isolate(name); err != nil {
			fail(err)
		}
	}
	addNS(nt.bridge)
	for i := range n {
		h := &Host{Index: i, Name: fmt.Sprintf("%sh%d", nt.prefix, i), IP: HostIP(i),
			Prefix: fmt.Sprintf("198.18.%d.0/24", i), net: nt, port: fmt.Sprintf("p%d", i)}
		addNS(h.Name)
		nt.hosts = append(nt.hosts, h)
	}

	// The bridge, and every host's cable: a veth pair across namespaces.
	br := []string{"link add br0 type bridge", "link set br0 up", "link set lo up"}
	for _, h := range nt.hosts {
		br = append(br,
			fmt.Sprintf("link add %s type veth peer name %s netns %s", h.port, Iface, h.Name),
			fmt.Sprintf("link set %s master br0 up", h.port))
	}
	if err := batch(nt.bridge, br); err != nil {
		fail(err)
	}
	for _, h := range nt.hosts {
		if err := batch(h.Name, []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev %s", h.IP, Iface),
			fmt.Sprintf("link set %s up", Iface),
			fmt.Sprintf("route add %s dev %s", Range, Iface),
		}); err != nil {
			fail(err)
		}
	}
	return nt
}

// Len returns the number of hosts.
func (n *Net) Len() int { return len(n.hosts) }

// Host returns host i.
func (n *Net) Host(i int) *Host { return n.hosts[i] }

// Hosts returns every host, in order.
func (n *Net) Hosts() []*Host { return append([]*Host(nil), n.hosts...) }

// Bridge returns the name of the bridge's namespace.
func (n *Net) Bridge() string { return n.bridge }

// Prefix returns the start shared by every namespace name of n.
func (n *Net) Prefix() string { return n.prefix }

// Addr returns "IP:port" on the host.
func (h *Host) Addr(port int) string { return net.JoinHostPort(h.IP, strconv.Itoa(port)) }

// URL returns "http://IP:port" on the host.
func (h *Host) URL(port int) string { return "http://" + h.Addr(port) }

// String returns the host's namespace name.
func (h *Host) String() string { return h.Name }

// Wrap returns the command prefix that runs a program on the host, `ip
// netns exec NAME`, as devnet.Options.Wrap wants it. `ip netns exec`
// execs the program (its pid is the program's), in a mount namespace of
// its own with /sys remounted; the file system is otherwise shared.
func (h *Host) Wrap() []string { return []string{"ip", "netns", "exec", h.Name} }

// Command returns a command that runs name with args on the host.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	argv := append(append(h.Wrap(), name), args...)
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

// Run runs args on the host and returns its combined output; a failure's
// error holds the output too.
func (h *Host) Run(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("netns: Run: no command")
	}
	out, err := h.Command(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("netns: %s: %s: %w\n%s", h.Name, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Cut unplugs the host: its bridge port goes down, so no packet reaches
// it or leaves it until Restore. It fails the test on error (call it from
// the test's goroutine).
func (h *Host) Cut() {
	h.net.t.Helper()
	h.setPort("down")
}

// Restore plugs the host back in after Cut.
func (h *Host) Restore() {
	h.net.t.Helper()
	h.setPort("up")
}

func (h *Host) setPort(state string) {
	h.net.t.Helper()
	if out, err := ip("-n", h.net.bridge, "link", "set", h.port, state); err != nil {
		h.net.t.Fatalf("netns: %s: set bridge port %s %s: %v\n%s", h.Name, h.port, state, err, out)
	}
}

// DialContext dials addr from inside the host, as a program run there
// would: the socket is made in the host's namespace (on an OS thread of
// its own while the socket is made). Use IP addresses, not names.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.in(func() error {
		var err error
		c, err = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 15 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens on addr inside the host, e.g. h.Addr(0) or
// "127.0.0.1:0" (the host's own loopback).
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.in(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// Transport returns an HTTP transport whose connections are made from
// inside the host (DialContext), one per host for the whole test, never
// using a proxy.
func (h *Host) Transport() *http.Transport {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tr == nil {
		h.tr = &http.Transport{
			DialContext:           h.DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 2 * time.Minute,
			ExpectContinueTimeout: time.Second,
		}
	}
	return h.tr
}

// HTTPClient returns a client that connects from inside the host, with
// the given overall timeout per request (0: none).
func (h *Host) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Transport: h.Transport(), Timeout: timeout}
}

// in runs f on an OS thread switched into the host's namespace, and
// switches the thread back before any other goroutine may run on it.
// Sockets f makes belong to the host's namespace for good.
func (h *Host) in(f func() error) error { return inNamespace(h.Name, f) }

// inNamespace runs f in a goroutine locked to its thread while the thread
// is in namespace name. Threads are switched back, never discarded: a
// discarded thread would take with it every child process started from
// it with a parent-death signal (devnet's Pdeathsig), since that signal
// follows the thread, not the process. Only if switching back fails is the
// thread left locked, so that it ends with the goroutine.
func inNamespace(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: open this thread's namespace: %w", err)
			return
		}
		defer syscall.Close(orig)
		if err := setns(runDir+"/"+name, -1); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: enter %s: %w", name, err)
			return
		}
		err = f()
		if back := setns("", orig); back != nil {
			// Stuck in the namespace: the thread stays locked and ends
			// with this goroutine.
			errc <- errors.Join(err, fmt.Errorf("netns: leave %s: %w", name, back))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// setns switches the calling thread into the network namespace of the
// file at path, or of fd if path is empty.
func setns(path string, fd int) error {
	if path != "" {
		var err error
		if fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err != nil {
			return err
		}
		defer syscall.Close(fd)
	}
	if _, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); errno != 0 {
		return errno
	}
	return nil
}

// isolate turns IP forwarding and IPv6 off in a namespace. /proc/sys/net
// shows the namespace of the thread that opens it.
func isolate(name string) error {
	return inNamespace(name, func() error {
		set := func(key, val string, optional bool) error {
			err := os.WriteFile("/proc/sys/net/"+key, []byte(val), 0)
			if optional && errors.Is(err, os.ErrNotExist) {
				return nil // no IPv6 in this kernel: nothing to turn off
			}
			if err != nil {
				return fmt.Errorf("netns: %s: set %s: %w", name, key, err)
			}
			return nil
		}
		if err := set("ipv4/ip_forward", "0", false); err != nil {
			return err
		}
		for _, key := range []string{"ipv6/conf/all/disable_ipv6", "ipv6/conf/default/disable_ipv6"} {
			if err := set(key, "1", true); err != nil {
				return err
			}
		}
		return nil
	})
}

// available reports why network namespaces cannot be used here, if so.
func available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("needs Linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("iproute2's ip: %w", err)
	}
	if out, err := ip("netns", "list"); err != nil {
		return fmt.Errorf("ip netns list: %w\n%s", err, out)
	}
	return nil
}

// removeStale deletes the namespaces of earlier runs whose process is
// gone (a test binary killed before its cleanup). Errors are only logged:
// stale namespaces never collide with new names.
func removeStale(t testing.TB) {
	t.Helper()
	out, err := ip("netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ") // "NAME (id: 3)"
		rest, ok := strings.CutPrefix(name, namePrefix)
		if !ok {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive (or not ours to judge)
		}
		if out, err := ip("netns", "del", name); err != nil {
			t.Logf("netns: stale namespace %s: %v\n%s", name, err, out)
		} else {
			t.Logf("netns: removed stale namespace %s (pid %d is gone)", name, pid)
		}
	}
}

// ip runs iproute2's ip with a bounded wait.
func ip(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	return exec.CommandContext(ctx, "ip", args...).CombinedOutput()
}

// batch runs ip commands (one per line, without "ip") in a namespace.
func batch(ns string, lines []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %w\n%s\ncommands:\n%s", ns, err, out.String(), strings.Join(lines, "\n"))
	}
	return nil
}
