package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serveName starts an HTTP server on l answering its host's name.
func serveName(t *testing.T, l net.Listener, name string) {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", name, r.RemoteAddr)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func get(hc *http.Client, url string) (string, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// dial tries a connection for a second.
func dial(from *Host, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return from.DialContext(ctx, "tcp", addr)
}

func rootLinks(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, " ")
}

func namespaces(t *testing.T) string {
	t.Helper()
	out, err := ip("netns", "list")
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	return string(out)
}

func TestNet(t *testing.T) {
	before := rootLinks(t)
	var prefix string
	t.Run("hosts", func(t *testing.T) {
		n := New(t, 4)
		prefix = n.Prefix()
		if n.Len() != 4 || n.Host(3).IP != "198.18.3.2" || n.Host(3).Prefix != "198.18.3.0/24" {
			t.Fatalf("hosts: %d, host 3 %s in %s", n.Len(), n.Host(3).IP, n.Host(3).Prefix)
		}
		if !strings.Contains(namespaces(t), n.Bridge()) {
			t.Fatalf("no bridge namespace %s in\n%s", n.Bridge(), namespaces(t))
		}

		// Each host serves its name on its address, and host 3 on its
		// loopback too.
		for _, h := range n.Hosts() {
			l, err := h.Listen("tcp", h.Addr(8080))
			if err != nil {
				t.Fatal(err)
			}
			serveName(t, l, h.Name)
		}
		lo, err := n.Host(3).Listen("tcp", "127.0.0.1:8080") // the same port: another namespace
		if err != nil {
			t.Fatal(err)
		}
		serveName(t, lo, "loopback of "+n.Host(3).Name)

		// Every host reaches every other across /24s, from its own address.
		for _, from := range n.Hosts() {
			hc := from.HTTPClient(10 * time.Second)
			for _, to := range n.Hosts() {
				got, err := get(hc, to.URL(8080))
				if err != nil {
					t.Fatalf("%s -> %s: %v", from.IP, to.IP, err)
				}
				if want := to.Name + " " + from.IP + ":"; !strings.HasPrefix(got, want) {
					t.Fatalf("%s -> %s: %q, want %q...", from.IP, to.IP, got, want)
				}
			}
		}
		got, err := get(n.Host(3).HTTPClient(10*time.Second), "http://127.0.0.1:8080/")
		if err != nil || !strings.HasPrefix(got, "loopback of ") {
			t.Fatalf("host 3's loopback: %q, %v", got, err)
		}
		if _, err := get(n.Host(2).HTTPClient(10*time.Second), "http://127.0.0.1:8080/"); err == nil {
			t.Fatal("host 2 reached host 3's loopback")
		}

		// No forwarding, no default route, one interface besides lo.
		ctx := t.Context()
		for _, h := range []*Host{n.Host(0), n.Host(3)} {
			out, err := h.Run(ctx, "cat", "/proc/sys/net/ipv4/ip_forward")
			if err != nil || strings.TrimSpace(string(out)) != "0" {
				t.Fatalf("%s: ip_forward %q, %v", h.Name, out, err)
			}
			out, err = h.Run(ctx, "ip", "-4", "route", "show")
			if err != nil {
				t.Fatal(err)
			}
			if routes := string(out); strings.Contains(routes, "default") || !strings.Contains(routes, Range+" dev eth0") {
				t.Fatalf("%s: routes\n%s", h.Name, routes)
			}
			out, err = h.Run(ctx, "ip", "-o", "link", "show")
			if err != nil {
				t.Fatal(err)
			}
			if links := strings.Count(string(out), "\n"); links != 2 {
				t.Fatalf("%s: %d links, want lo and eth0:\n%s", h.Name, links, out)
			}
		}

		// A cut host is unreachable, and back once restored.
		h1 := n.Host(1)
		h1.Cut()
		if c, err := dial(n.Host(0), h1.Addr(8080)); err == nil {
			c.Close()
			t.Fatal("reached a cut host")
		}
		if c, err := dial(h1, n.Host(2).Addr(8080)); err == nil {
			c.Close()
			t.Fatal("a cut host reached another")
		}
		if _, err := get(h1.HTTPClient(5*time.Second), h1.URL(8080)); err != nil {
			t.Fatalf("a cut host cannot reach itself: %v", err)
		}
		hc := n.Host(0).HTTPClient(5 * time.Second)
		h1.Restore()
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := get(hc, h1.URL(8080))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("restored host still unreachable: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // polling, not synchronisation
		}
	})
	if prefix == "" {
		return // skipped
	}
	if ns := namespaces(t); strings.Contains(ns, prefix) {
		t.Fatalf("namespaces of %s left after the test:\n%s", prefix, ns)
	}
	if after := rootLinks(t); after != before {
		t.Fatalf("the root namespace's links changed: %s, then %s", before, after)
	}
}

// A namespace left by a killed run (its pid gone) is removed by New.
func TestStale(t *testing.T) {
	if err := available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d-00000000-h0", namePrefix, cmd.Process.Pid)
	if out, err := ip("netns", "add", stale); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = ip("netns", "del", stale) })
	New(t, 1)
	if strings.Contains(namespaces(t), stale) {
		t.Fatalf("stale namespace %s kept", stale)
	}
}

// DialContext honours its context.
func TestDialContext(t *testing.T) {
	n := New(t, 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := n.Host(0).DialContext(ctx, "tcp", n.Host(1).Addr(9))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a canceled context: %v", err)
	}
}

// After dials and listens in hosts, every thread of the test process is
// back in the process's own namespace.
func TestThreadsComeBack(t *testing.T) {
	n := New(t, 2)
	l, err := n.Host(1).Listen("tcp", n.Host(1).Addr(0))
	if err != nil {
		t.Fatal(err)
	}
	serveName(t, l, "h1")
	hc := n.Host(0).HTTPClient(10 * time.Second)
	for range 50 {
		if _, err := get(hc, "http://"+l.Addr().String()); err != nil {
			t.Fatal(err)
		}
		n.Host(0).Transport().CloseIdleConnections() // a new dial each time
	}
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		ns, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err != nil {
			continue // the thread ended
		}
		if ns != self {
			t.Errorf("thread %s is in %s, the process in %s", task.Name(), ns, self)
		}
	}
}
