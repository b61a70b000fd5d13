package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"ishtar/cmd/ishtar/daemon"
)

// httpGet GETs url under the test's context.
func httpGet(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// chromiumPath finds a Chromium (Debian's chromium package); without one
// the test is skipped, and fails under CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH under CI (.ci/run installs Debian's chromium package)")
	}
	t.Skip("no chromium on PATH")
	return ""
}

// statusJSON runs `ishtar status --data dir --json` and decodes it
// generically (numbers kept as json.Number); exit status 3 (unhealthy)
// still prints the status.
func statusJSON(t *testing.T, dir string) (map[string]any, daemon.Status) {
	t.Helper()
	cmd := exec.Command("ishtar", "status", "--data", dir, "--json")
	cmd.Env = append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitUnhealthy) {
		t.Fatalf("ishtar status --json: %v\n%s", err, stderr.String())
	}
	var generic map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		t.Fatalf("ishtar status --json printed %q: %v", out, err)
	}
	var st daemon.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	return generic, st
}

// jsonValue is the number at a page's data-field path in the status JSON:
// dotted keys, "total" summing a map, an absent count 0.
func jsonValue(st map[string]any, path string) (float64, bool) {
	var cur any = st
	parts := strings.Split(path, ".")
	for i, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false
		}
		if p == "total" && i == len(parts)-1 {
			var sum float64
			for _, v := range m {
				f, _ := v.(json.Number).Float64()
				sum += f
			}
			return sum, true
		}
		v, ok := m[p]
		if !ok {
			if _, err := strconv.Atoi(p); err == nil { // a count of no segment
				return 0, true
			}
			return 0, false
		}
		cur = v
	}
	n, ok := cur.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// pageView is what the test reads of the rendered page.
type pageView struct {
	Fields [][2]string `json:"fields"` // data-field, data-value
	Bars   [][2]string `json:"bars"`   // data-healthy, data-count of the chart's bars
	Peers  int         `json:"peers"`  // rows of the peers table
	Health string      `json:"health"`
}

const readPage = `JSON.stringify({
	fields: Array.from(document.querySelectorAll('[data-field]')).map(e => [e.dataset.field, e.dataset.value]),
	bars: Array.from(document.querySelectorAll('#segments-chart rect')).map(r => [r.dataset.healthy, r.dataset.count]),
	peers: document.querySelectorAll('#peers-table tr.peer').length,
	health: document.getElementById('health').textContent,
})`

// browser is a headless Chromium that records console errors, exceptions
// and every request the page makes.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	errs     []string
	requests []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.errs = append(b.errs, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *cdplog.EventEntryAdded: // the browser's own: CSP violations, failed loads
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.errs = append(b.errs, fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventExceptionThrown:
			b.errs = append(b.errs, fmt.Sprintf("exception: %s line %d", ev.ExceptionDetails.Text, ev.ExceptionDetails.LineNumber))
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev.Request.URL)
		case *network.EventLoadingFailed:
			b.errs = append(b.errs, "loading failed: "+ev.ErrorText)
		case *network.EventResponseReceived:
			if ev.Response.Status >= 400 {
				b.errs = append(b.errs, fmt.Sprintf("%s: %d", ev.Response.URL, int(ev.Response.Status)))
			}
		}
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Network events are on already; console ones need the runtime's.
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("chromium: enable the runtime domain: %v", err)
	}
	return b
}

// load opens url, waits until the page has drawn a status, and reads it.
func (b *browser) load(t *testing.T, url string) pageView {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"] #segments-chart`))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](readPage))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	var v pageView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("page view %q: %v", raw, err)
	}
	return v
}

// The status page of a devnet, after an upload, in a real headless
// Chromium: every number it shows is the one `ishtar status --json`
// prints, the chart has a bar per healthy-shard count with the segments'
// counts, every peer has a row, and the page logs no error and asks for
// nothing but its own daemon.
func TestStatusPageInChromium(t *testing.T) {
	b := newBrowser(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "net")
	startIshtar(t, "Try:", "devnet", "--data", dir, "--s3", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	var admin string
	for _, kv := range devnetEnv(t, dir) {
		if v, ok := strings.CutPrefix(kv, "ISHTAR_ADMIN_URL="); ok {
			admin = v
		}
	}
	if !strings.HasPrefix(admin, "http://127.0.0.1:") {
		t.Fatalf("devnet.env has no ISHTAR_ADMIN_URL on loopback: %q", admin)
	}
	writeRandom(t, filepath.Join(tmp, "f.bin"), 200<<10+7)
	runIshtar(t, nil, "upload", "--data", dir, filepath.Join(tmp, "f.bin"))

	// A status read before and after the page: the page's numbers are the
	// status's once nothing changed in between (a background pass may
	// change a counter: then again, a few times at most). The backup's
	// lag grows while changes wait: the page's is between the two.
	var view pageView
	var after map[string]any
	var st daemon.Status
	stable := false
	for attempt := 0; attempt < 5 && !stable; attempt++ {
		before, _ := statusJSON(t, dir)
		view = b.load(t, admin+"/")
		after, st = statusJSON(t, dir)
		stable = true
		for _, f := range view.Fields {
			x, _ := jsonValue(before, f[0])
			y, _ := jsonValue(after, f[0])
			if x != y && f[0] != "backup.lag" {
				stable = false
			}
		}
	}
	if !stable {
		t.Fatalf("the status kept changing while the page loaded")
	}
	if len(view.Fields) < 30 {
		t.Fatalf("the page shows %d numbers: %v", len(view.Fields), view.Fields)
	}
	seen := map[string]bool{}
	for _, f := range view.Fields {
		seen[f[0]] = true
		got, err := strconv.ParseFloat(f[1], 64)
		want, ok := jsonValue(after, f[0])
		if err != nil || !ok {
			t.Errorf("page field %s = %q: not a number of the status (%v)", f[0], f[1], err)
			continue
		}
		if f[0] == "backup.lag" {
			if got < 0 || got > want {
				t.Errorf("page backup lag %v, the status's %v after it", got, want)
			}
			continue
		}
		if got != want {
			t.Errorf("page field %s = %v, ishtar status --json has %v", f[0], got, want)
		}
	}
	for _, f := range []string{"space.objects", "space.stored_bytes", "node.capacity", "segments.total", "peers.verified", "backup.pending"} {
		if !seen[f] {
			t.Errorf("the page does not show %s", f)
		}
	}
	if st.Space.Objects != 1 || st.Peers.Verified != 5 {
		t.Errorf("status: %d objects, %d verified peers", st.Space.Objects, st.Peers.Verified)
	}
	if len(view.Bars) != st.N+1 {
		t.Fatalf("the chart has %d bars for n=%d", len(view.Bars), st.N)
	}
	for _, bar := range view.Bars {
		h, _ := strconv.Atoi(bar[0])
		if bar[1] != strconv.FormatInt(st.Segments[h], 10) {
			t.Errorf("chart bar %s shows %s segments, the status %d", bar[0], bar[1], st.Segments[h])
		}
	}
	if view.Peers != len(st.Peers.List) || view.Health != "healthy" || !st.Health.OK {
		t.Errorf("page: %d peer rows, health %q; status: %d peers, health %+v", view.Peers, view.Health, len(st.Peers.List), st.Health)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		t.Errorf("the page logged errors: %q", b.errs)
	}
	if len(b.requests) == 0 {
		t.Fatalf("no request recorded")
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, admin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page asked for %s, outside its daemon", u)
		}
	}
	// The page's own files come from the daemon.
	resp, err := httpGet(t, admin+"/static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("app.js: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
}

// A daemon without peers is unhealthy (no peer to place shards on):
// `ishtar status` prints why and exits with status 3, --json too (its
// answer printed all the same); its admin listener says so at /readyz and
// is healthy at /healthz. The status finds the daemon and its status page
// from its data directory.
func TestStatusUnhealthyExit(t *testing.T) {
	dir := initDataDir(t)
	startIshtar(t, "S3 endpoint:", serveArgs(dir)...)
	for _, args := range [][]string{{"status", "--data", dir}, {"status", "--data", dir, "--json"}} {
		cmd := exec.Command("ishtar", args...)
		cmd.Env = append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitUnhealthy {
			t.Fatalf("ishtar %v: %v, want exit status %d\n%s", args, err, exitUnhealthy, stderr.String())
		}
		if msg := stderr.String(); strings.Count(msg, "\n") != 1 ||
			!strings.HasPrefix(msg, "ishtar: status: unhealthy: 0 placeable peers, fewer than n=5") {
			t.Errorf("ishtar %v: stderr %q", args, msg)
		}
		if len(args) == 3 && (!strings.Contains(stdout.String(), "Health:        UNHEALTHY\n               - 0 placeable peers") ||
			!strings.Contains(stdout.String(), "Status page:   http://127.0.0.1:")) {
			t.Errorf("ishtar status printed:\n%s", stdout.String())
		}
		var st daemon.Status
		if len(args) == 4 && (json.Unmarshal(stdout.Bytes(), &st) != nil || st.Health.OK || len(st.Health.Problems) != 1) {
			t.Errorf("ishtar status --json printed:\n%s", stdout.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, daemon.AdminURLFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503} {
		resp, err := httpGet(t, admin+path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
}
