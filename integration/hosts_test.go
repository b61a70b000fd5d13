package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ishtar/integration/devnet"
	"ishtar/integration/netns"
	"ishtar/node"
	"ishtar/node/peers"
)

// How TestHosts drives the network layer: trackers, --bootstrap, peer
// exchange with tables kept on disk, the paged GET /v1/peers and `ishtar
// peers`.
var (
	// trackerModeArgs make `ishtar serve` a tracker-only node: it serves
	// the peer protocol and collects node records, stores nothing, runs
	// no gateway and no S3 endpoint, so the test waits for its GET
	// /v1/info to answer instead of an "S3 endpoint:" line (startTracker).
	trackerModeArgs = []string{"--tracker-mode"}
	// networkEnv speeds peer exchange up (network.exchange_interval),
	// and turns the catalog backup off: the test counts what each host
	// holds.
	networkEnv = []string{"ISHTAR_NETWORK_EXCHANGE_INTERVAL=1s", "ISHTAR_GATEWAY_BACKUP=false"}
)

// trackerArgs make a node learn peers from the tracker at url
// (repeatable).
func trackerArgs(url string) []string { return []string{"--tracker", url} }

// bootstrapArgs make a node join through the peer at url, any node.
func bootstrapArgs(url string) []string { return []string{"--bootstrap", url} }

// peersPath is the node's table of known peers: GET, public (unsigned),
// answers JSON {"peers":[{"id":"<64 hex>","url":"http://…","capacity":…,
// "free":…,"version":…,"seq":…,"time":…,"expires":"RFC3339","sig":…}],
// "next":N,"more":bool} (node.PeerPage); the next page is GET
// peersPath?after=N, the first ?after=0.
const (
	peersPath   = "/v1/peers"
	peersCursor = "after"
)

// peersCommand is `ishtar peers` on a node's data directory, run on its
// host while the node runs; its output names every known peer's ID.
func peersCommand(bin, dir string) []string { return []string{bin, "peers", "--data", dir} }

// The hosts of TestHosts: one tracker, one gateway, seven storage hosts
// and one that joins late. Every host is a network namespace with an
// address in a /24 of its own (see package netns), so address diversity
// (on, the default) can put each shard of a segment on another host.
const (
	trackerHost  = 0
	gatewayHost  = 1
	firstStorage = 2
	lastStorage  = 8 // seven storage hosts: with k=3 of n=5, two may be away
	joinerHost   = 9
	hostCount    = 10

	hostNodePort = 7070
	hostS3       = "127.0.0.1:9000" // on each host's own loopback
	hostsK       = 3                // gateway.k, the default for fewer than 30 places
	hostsN       = 5                // gateway.n, likewise
)

// hostNode is an `ishtar serve` process on one host, restartable on its
// data directory.
type hostNode struct {
	h    *netns.Host
	dir  string
	args []string
	env  []string
	logs *lineLog // every line its processes printed
	*devnet.Process
}

func (hn *hostNode) url() string { return hn.h.URL(hostNodePort) }

// start starts the process; the caller fails the test on error (start
// runs in goroutines).
func (hn *hostNode) start(t *testing.T) error {
	if hn.logs == nil {
		hn.logs = &lineLog{}
	}
	p, err := devnet.StartServe(t.Context(), devnet.Options{
		Bin: ishtarBin(t), Dir: hn.dir, S3: hostS3, Env: hn.env, Log: hn.logs, Wrap: hn.h.Wrap(),
		StartTimeout: time.Minute,
		Args:         append([]string{"--listen", hn.h.Addr(hostNodePort), "--advertise", hn.url()}, hn.args...),
	})
	if err != nil {
		return fmt.Errorf("%s: %w", hn.h.IP, err)
	}
	hn.Process = p
	t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("serve on %s (%s) output (last lines):\n%s", hn.h.IP, hn.dir, lastLines(p.Output(), 30))
		}
	})
	return nil
}

// client returns a client of the node that connects from host from.
func (hn *hostNode) client(t *testing.T, from *netns.Host) *node.Client {
	return node.NewClient(hn.url(), freshKey(t), from.HTTPClient(10*time.Second))
}

// used returns the bytes the node holds for others (capacity - free), as
// its signed record says, asked from its own host (so also while cut).
func (hn *hostNode) used(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	rec, err := hn.client(t, hn.h).Info(ctx)
	if err != nil {
		t.Fatalf("info of %s: %v", hn.h.IP, err)
	}
	return rec.Capacity - rec.Free
}

// lineLog keeps every line a process prints.
type lineLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hostsNet is TestHosts' network of processes.
type hostsNet struct {
	net     *netns.Net
	tracker *trackerProc // the tracker-only node, killed in step 5
	gw      *hostNode    // the gateway host's node, whose S3 endpoint the test uses
	storage []*hostNode  // firstStorage..lastStorage
	joiner  *hostNode    // started in step 5
}

// nodes returns the processes that store (and the gateway's).
func (hn *hostsNet) nodes() []*hostNode {
	out := append([]*hostNode{hn.gw}, hn.storage...)
	if hn.joiner != nil && hn.joiner.Process != nil {
		out = append(out, hn.joiner)
	}
	return out
}

// storers returns the nodes the gateway may place shards on.
func (hn *hostsNet) storers() []*hostNode { return hn.nodes()[1:] }

// initNodes makes a data directory with `ishtar init` for each host, in
// parallel.
func initNodes(t *testing.T, hosts []*netns.Host) []*hostNode {
	t.Helper()
	nodes := make([]*hostNode, len(hosts))
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		nodes[i] = &hostNode{h: h, dir: filepath.Join(t.TempDir(), fmt.Sprintf("h%d", h.Index))}
		wg.Go(func() { errs[i] = devnet.Init(t.Context(), ishtarBin(t), nodes[i].dir) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// startNodes starts processes in parallel.
func startNodes(t *testing.T, nodes ...*hostNode) {
	t.Helper()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, hn := range nodes {
		wg.Go(func() { errs[i] = hn.start(t) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// stopNodes stops processes with SIGTERM in parallel; each must exit
// cleanly within a minute.
func stopNodes(t *testing.T, nodes ...*hostNode) {
	t.Helper()
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, hn := range nodes {
		wg.Go(func() { errs[i] = hn.Stop(time.Minute) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it returns nil or the deadline passes; then
// the test fails with cond's last error.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, limit, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(250 * time.Millisecond): // polling, not synchronisation
		}
	}
}

// hostObject is an object the test wrote, to read back byte-exact.
type hostObject struct {
	key  string
	data []byte
}

// TestHosts runs Ishtar on real hosts: ten network namespaces, each with
// its own address in its own /24, on one bridge (package netns), every
// process `ishtar serve` of the built binary on its host.
//
//  1. every node, knowing only the tracker, learns every other: every
//     host reaches every other node, and each node's GET /v1/peers (and
//     the tracker's) lists every other node, as does `ishtar peers`;
//  2. uploads through the gateway host's S3 endpoint put each object's
//     n shards on n distinct hosts (the storage nodes' used space);
//  3. with two hosts' links cut, every object reads byte-exact, and an
//     upload still succeeds without them;
//  4. once the links are back, new uploads put shards on them again;
//  5. with the tracker killed, a new host joins through another peer
//     (--bootstrap) and everyone learns of it;
//  6. after every process restarts (SIGTERM, same data directories),
//     every node knows the others again without the tracker (from the
//     tables kept on disk), nothing stored is lost, every object reads
//     back.
func TestHosts(t *testing.T) {
	needProcesses(t)
	ishtarBin(t) // build before the clock starts
	began := time.Now()
	n := netns.New(t, hostCount)
	t.Logf("%d hosts ready in %v: namespaces %s*, host i at 198.18.i.2/24",
		hostCount, time.Since(began).Round(time.Millisecond), n.Prefix())

	all := initNodes(t, n.Hosts())
	hn := &hostsNet{net: n, gw: all[gatewayHost], storage: all[firstStorage : lastStorage+1]}
	for _, x := range append([]*hostNode{hn.gw, all[joinerHost]}, hn.storage...) {
		x.args = []string{"--capacity", "1GiB"}
	}
	hn.tracker = startTracker(t, all[trackerHost])
	hn.joiner = all[joinerHost]
	for _, x := range append([]*hostNode{hn.gw, hn.joiner}, hn.storage...) {
		x.env = networkEnv
	}
	for _, x := range append([]*hostNode{hn.gw}, hn.storage...) {
		x.args = append(x.args, trackerArgs(hn.tracker.url())...)
	}
	startNodes(t, append([]*hostNode{hn.gw}, hn.storage...)...)
	t.Logf("%d serve processes up after %v", len(hn.nodes())+1, time.Since(began).Round(time.Millisecond))

	// 1. Everyone knows everyone, through the tracker.
	checkReachable(t, hn)
	waitTables(t, n.Host(trackerHost), hn.nodes(), time.Minute, hn.tracker.hostNode)
	checkPeersCommand(t, hn.gw, hn.nodes())
	t.Logf("1. every node known after %v", time.Since(began).Round(time.Millisecond))

	// 2. Shards land on distinct hosts.
	gwHost := n.Host(gatewayHost)
	c := NewS3Client(hn.gw.Endpoint, hn.gw.AccessKey, hn.gw.SecretKey, gwHost.HTTPClient(clientTimeout))
	bucket := createBucket(t, c, "hosts")
	var objs []hostObject
	var firstHosts []*hostNode // those holding the first object's shards
	for i := range 6 {
		o := hostObject{key: fmt.Sprintf("first/%d", i), data: randBytes(32*KiB+i*24*KiB, uint64(9000+i))}
		grew := putOnHosts(t, c, bucket, o, hn.storage, i == 0)
		if len(grew) != hostsN {
			t.Fatalf("object %s: shards on %d storage hosts %v, want %d distinct", o.key, len(grew), ips(grew), hostsN)
		}
		blocks := make(map[string]bool)
		for _, g := range grew {
			blocks[peers.AddressBlock(g.url())] = true
		}
		if len(blocks) != hostsN {
			t.Fatalf("object %s: shards in %d address blocks, want %d", o.key, len(blocks), hostsN)
		}
		if i == 0 {
			firstHosts = grew
		}
		objs = append(objs, o)
	}
	t.Logf("2. %d objects, each on %d distinct hosts, after %v", len(objs), hostsN, time.Since(began).Round(time.Millisecond))

	// 3. Two hosts away: cut two that hold shards of the first object, so
	// it must be rebuilt from the three left.
	cut := firstHosts[:hostsN-hostsK]
	usedBefore := map[*hostNode]int64{}
	for _, x := range cut {
		usedBefore[x] = x.used(t)
		x.h.Cut()
	}
	t.Logf("3. cut %v", ips(cut))
	for _, o := range objs {
		got, _ := getObject(t, c, bucket, o.key, "")
		sameBytes(t, "read with two hosts cut: "+o.key, got, o.data)
	}
	// An upload succeeds on the five hosts left. It may take the gateway's
	// request timeout (30 s): a shard sent to a cut host over a connection
	// kept alive from before the cut gets no error, only silence, and puts
	// are not hedged as reads are.
	during := hostObject{key: "during-cut", data: randBytes(56*KiB, 9200)}
	putStart := time.Now()
	putObject(t, c, bucket, during.key, during.data)
	t.Logf("3. an upload with two hosts cut took %v", time.Since(putStart).Round(time.Millisecond))
	objs = append(objs, during)
	got, _ := getObject(t, c, bucket, during.key, "")
	sameBytes(t, "put with two hosts cut", got, during.data)
	for _, x := range cut {
		if u := x.used(t); u != usedBefore[x] {
			t.Fatalf("cut host %s took a shard: used %d, then %d", x.h.IP, usedBefore[x], u)
		}
	}
	t.Logf("3. every object read byte-exact with %v cut after %v", ips(cut), time.Since(began).Round(time.Millisecond))

	// 4. The links come back: new uploads use those hosts again.
	for _, x := range cut {
		x.h.Restore()
	}
	back := 0
	waitFor(t, "uploads put shards on the restored hosts", 2*time.Minute, func() error {
		o := hostObject{key: fmt.Sprintf("back/%d", back), data: randBytes(24*KiB, uint64(9300+back))}
		back++
		putObject(t, c, bucket, o.key, o.data)
		objs = append(objs, o)
		var idle []string
		for _, x := range cut {
			if x.used(t) == usedBefore[x] {
				idle = append(idle, x.h.IP)
			}
		}
		if len(idle) > 0 {
			return fmt.Errorf("after %d uploads, no new shard on %v", back, idle)
		}
		return nil
	})
	t.Logf("4. restored hosts used again after %d uploads, %v", back, time.Since(began).Round(time.Millisecond))

	// 5. The tracker dies; a new host joins through another peer.
	hn.tracker.kill(t)
	hn.joiner.args = append(hn.joiner.args, bootstrapArgs(hn.storage[0].url())...)
	startNodes(t, hn.joiner)
	waitTables(t, n.Host(joinerHost), hn.nodes(), time.Minute)
	t.Logf("5. %s joined through %s after %v", hn.joiner.h.IP, hn.storage[0].h.IP, time.Since(began).Round(time.Millisecond))

	// 6. Every process restarts on its data directory; the tracker stays
	// dead, so the nodes find each other from the tables on disk.
	nodes := hn.nodes()
	used := make([]int64, len(nodes))
	for i, x := range nodes {
		used[i] = x.used(t)
	}
	stopNodes(t, nodes...)
	for _, h := range n.Hosts() {
		h.Transport().CloseIdleConnections() // to processes gone
	}
	startNodes(t, hn.storers()...) // the gateway's peers first
	startNodes(t, hn.gw)
	for i, x := range nodes {
		if u := x.used(t); u != used[i] {
			t.Fatalf("%s holds %d bytes after its restart, %d before", x.h.IP, u, used[i])
		}
	}
	checkReachable(t, hn)
	waitTables(t, n.Host(gatewayHost), nodes, time.Minute)
	c = NewS3Client(hn.gw.Endpoint, hn.gw.AccessKey, hn.gw.SecretKey, gwHost.HTTPClient(clientTimeout))
	for _, o := range objs {
		got, _ := getObject(t, c, bucket, o.key, "")
		sameBytes(t, "read after every process restarted: "+o.key, got, o.data)
	}
	after := hostObject{key: "after-restart", data: randBytes(64*KiB, 9400)}
	if grew := putOnHosts(t, c, bucket, after, hn.storers(), false); len(grew) != hostsN {
		t.Fatalf("after the restart: shards on %d storage hosts %v, want %d", len(grew), ips(grew), hostsN)
	}
	t.Logf("6. %d processes restarted, %d objects read byte-exact, after %v", len(nodes), len(objs), time.Since(began).Round(time.Millisecond))

	// Cut links and restarts are ordinary events: warnings, never errors.
	for _, x := range all {
		if x.logs == nil {
			continue
		}
		for _, line := range strings.Split(x.logs.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s logged an error: %s", x.h.IP, line)
			}
		}
	}
}

func ips(nodes []*hostNode) []string {
	out := make([]string, len(nodes))
	for i, x := range nodes {
		out[i] = x.h.IP
	}
	return out
}

// putOnHosts uploads o through c and returns the storage nodes whose used
// space grew. With retry, SlowDown (too few peers known yet) is retried
// for up to a minute.
func putOnHosts(t *testing.T, c *s3.Client, bucket string, o hostObject, storage []*hostNode, retry bool) []*hostNode {
	t.Helper()
	before := make([]int64, len(storage))
	for i, x := range storage {
		before[i] = x.used(t)
	}
	if retry {
		waitFor(t, "first upload", time.Minute, func() error {
			_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key),
				Body: strings.NewReader(string(o.data))})
			return err
		})
	} else {
		putObject(t, c, bucket, o.key, o.data)
	}
	var grew []*hostNode
	for i, x := range storage {
		if x.used(t) > before[i] {
			grew = append(grew, x)
		}
	}
	return grew
}

// checkReachable has every node's host ask every other node for its
// signed record: every pair of hosts talks across the bridge.
func checkReachable(t *testing.T, hn *hostsNet) {
	t.Helper()
	nodes := hn.nodes()
	errs := make(chan error, len(nodes)*len(nodes))
	var wg sync.WaitGroup
	for _, from := range nodes {
		for _, to := range nodes {
			if from == to {
				continue
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				rec, err := to.client(t, from.h).Info(ctx)
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s -> %s: %w", from.h.IP, to.h.IP, err)
				case rec.Node.String() != to.NodeID || rec.Address != to.url():
					errs <- fmt.Errorf("%s -> %s: node %s at %s, want %s at %s", from.h.IP, to.h.IP, rec.Node, rec.Address, to.NodeID, to.url())
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
}

// trackerProc is the tracker-only node.
type trackerProc struct {
	*hostNode
	cmd  *exec.Cmd
	done chan struct{} // closed once it exited
}

// startTracker runs `ishtar serve` with trackerModeArgs on x's host and
// waits (a minute at most) until its GET /v1/info answers.
func startTracker(t *testing.T, x *hostNode) *trackerProc {
	t.Helper()
	x.logs = &lineLog{}
	x.env = networkEnv
	args := append([]string{"serve", "--data", x.dir, "--listen", x.h.Addr(hostNodePort), "--advertise", x.url(), "--s3", hostS3},
		trackerModeArgs...)
	tr := &trackerProc{hostNode: x, cmd: x.h.Command(context.Background(), ishtarBin(t), args...), done: make(chan struct{})}
	tr.cmd.Env = append(os.Environ(), x.env...)
	tr.cmd.Stdout, tr.cmd.Stderr = x.logs, x.logs
	tr.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := tr.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = tr.cmd.Wait()
		close(tr.done)
	}()
	t.Cleanup(func() {
		tr.kill(t)
		if t.Failed() {
			t.Logf("tracker on %s output:\n%s", x.h.IP, lastLines(x.logs.String(), 30))
		}
	})
	hc := x.h.HTTPClient(5 * time.Second)
	waitFor(t, "the tracker answers", time.Minute, func() error {
		select {
		case <-tr.done:
			t.Fatalf("the tracker exited: %v\n%s", tr.cmd.ProcessState, x.logs)
		default:
		}
		resp, err := hc.Get(x.url() + "/v1/info")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var rec struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil || resp.StatusCode != http.StatusOK || rec.ID == "" {
			return fmt.Errorf("GET /v1/info: %s, %v", resp.Status, err)
		}
		return nil
	})
	return tr
}

// kill kills the tracker (SIGKILL) and waits until it is gone.
func (tr *trackerProc) kill(t *testing.T) {
	select {
	case <-tr.done:
		return
	default:
	}
	if err := tr.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Error(err)
	}
	<-tr.done
}

// peerEntry is one record of GET /v1/peers (see peersPath).
type peerEntry struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// peersPage is one page of GET /v1/peers.
type peersPage struct {
	Peers []peerEntry `json:"peers"`
	Next  uint64      `json:"next"`
	More  bool        `json:"more"`
}

// listPeers reads a node's whole table, page by page, as a map of ID to
// URL.
func listPeers(ctx context.Context, hc *http.Client, base string) (map[string]string, error) {
	out := make(map[string]string)
	cursor := uint64(0)
	for range 100 {
		u := base + peersPath + "?" + peersCursor + "=" + strconv.FormatUint(cursor, 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", u, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
		}
		var page peersPage
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("GET %s: %w: %.200s", u, err, body)
		}
		for _, p := range page.Peers {
			out[strings.ToLower(p.ID)] = p.URL
		}
		if !page.More {
			return out, nil
		}
		cursor = page.Next
	}
	return nil, fmt.Errorf("%s%s: more than 100 pages", base, peersPath)
}

// waitTables waits until the table of every node, and of every one of
// also (the tracker), lists every other node with its URL; the tables are
// asked from host from.
func waitTables(t *testing.T, from *netns.Host, nodes []*hostNode, limit time.Duration, also ...*hostNode) {
	t.Helper()
	hc := from.HTTPClient(20 * time.Second)
	waitFor(t, "every node knows every other", limit, func() error {
		var errs []error
		for _, x := range append(append([]*hostNode(nil), nodes...), also...) {
			table, err := listPeers(t.Context(), hc, x.url())
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", x.h.IP, err))
				continue
			}
			var missing []string
			for _, y := range nodes {
				if y != x && table[strings.ToLower(y.NodeID)] != y.url() {
					missing = append(missing, y.h.IP)
				}
			}
			if len(missing) > 0 {
				errs = append(errs, fmt.Errorf("%s knows %d peers, not %v", x.h.IP, len(table), missing))
			}
		}
		return errors.Join(errs...)
	})
}

// checkPeersCommand runs `ishtar peers` on x's host: it names every other
// node.
func checkPeersCommand(t *testing.T, x *hostNode, nodes []*hostNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := x.h.Run(ctx, peersCommand(ishtarBin(t), x.dir)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range nodes {
		if y != x && !strings.Contains(strings.ToLower(string(out)), strings.ToLower(y.NodeID)) {
			t.Fatalf("ishtar peers on %s does not name %s (%s):\n%s", x.h.IP, y.h.IP, y.NodeID, out)
		}
	}
}
