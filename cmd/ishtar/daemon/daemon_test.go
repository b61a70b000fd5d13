package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/gateway/upkeep"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/s3api"
	"ishtar/shard"
)

// stops stops the daemons started by startDaemon (used by one test at a
// time: no test here runs in parallel).
var stops = map[*Daemon]func(){}

// startDaemon runs a storage-only daemon (or a tracker) on loopback until
// the test ends and returns it once ready. Its rounds of discovery after
// the first two (the one before ready and the one Run starts with) are
// the test's to run: the exchange interval is an hour.
func startDaemon(t *testing.T, tracker bool, trackers ...string) *Daemon {
	t.Helper()
	return startDaemonWith(t, func(cfg *Config, _ *Identity) {
		cfg.Network.Trackers = trackers
		cfg.Network.Tracker = tracker
	})
}

// startDaemonWith is startDaemon with its configuration and identity
// (a storage-only node) adjusted by mod.
func startDaemonWith(t *testing.T, mod func(*Config, *Identity)) *Daemon {
	t.Helper()
	var cfg Config
	cfg.Defaults()
	cfg.Data = t.TempDir()
	cfg.Listen, cfg.S3Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.StorageOnly = true
	cfg.Gateway.AddressDiversity = false // every node is in 127.0.0.0/24
	cfg.Network.ExchangeInterval = time.Hour
	key, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Node: key}
	opts := Options{ShutdownGrace: -1}
	mod(&cfg, &id)
	if optMod != nil {
		optMod(&opts)
	}
	return runDaemon(t, cfg, id, opts)
}

// optMod, if set, adjusts the Options of the next startDaemonWith.
var optMod func(*Options)

// restartDaemon runs again a daemon that was stopped, on its data
// directory, identity and address.
func restartDaemon(t *testing.T, old *Daemon) *Daemon {
	t.Helper()
	cfg := old.cfg
	cfg.Listen = old.NodeAddr()
	return runDaemon(t, cfg, old.id, old.opts)
}

// runDaemon opens and runs a daemon until the test ends (or stops[d] is
// called) and returns it once ready.
func runDaemon(t *testing.T, cfg Config, id Identity, opts Options) *Daemon {
	t.Helper()
	d, err := Open(cfg, id, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- d.Run(ctx, func() { close(ready) }) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon %s: %v", d.NodeURL(), err)
			}
		})
	}
	stops[d] = stop
	t.Cleanup(stop)
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("daemon ended before ready: %v", err)
	}
	return d
}

// Six nodes that know only a tracker know each other, each verified at
// its address, after a few rounds of exchange: a node announces itself to
// the tracker, the tracker challenges it, the others take its record from
// the tracker and challenge it in turn.
func TestTrackerConvergence(t *testing.T) {
	tr := startDaemon(t, true)
	if tr.Gateway() != nil || tr.S3URL() != "" {
		t.Fatal("a tracker runs a gateway")
	}
	rec, err := tr.Node().Record()
	if err != nil || rec.Capacity != 0 {
		t.Fatalf("the tracker offers %d bytes (%v)", rec.Capacity, err)
	}
	all := []*Daemon{tr}
	for range 6 {
		all = append(all, startDaemon(t, false, tr.NodeURL()))
	}
	knowEachOther(t, all, 4)
	// Every storage node is placeable for the others; the tracker is not
	// (it offers nothing).
	for _, d := range all[1:] {
		for _, o := range all[1:] {
			if o == d {
				continue
			}
			if p, _ := d.Registry().Get(o.NodeID()); !p.Placeable {
				t.Errorf("%s: %s is not placeable: %s", d.NodeURL(), o.NodeURL(), p.Why)
			}
		}
		if p, _ := d.Registry().Get(tr.NodeID()); p.Placeable {
			t.Errorf("%s: the tracker is placeable", d.NodeURL())
		}
	}
}

// knowEachOther runs rounds of discovery on every daemon of all at once
// until each has verified every other, failing after maxRounds.
func knowEachOther(t *testing.T, all []*Daemon, maxRounds int) {
	t.Helper()
	ctx := context.Background()
	for round := 1; ; round++ {
		var wg sync.WaitGroup
		for _, d := range all {
			wg.Go(func() { d.Discovery().Round(ctx) })
		}
		wg.Wait()
		missing := 0
		for _, d := range all {
			for _, o := range all {
				if p, ok := d.Registry().Get(o.NodeID()); o != d && (!ok || !p.Tried) {
					missing++
				}
			}
		}
		t.Logf("after round %d: %d of %d pairs do not know each other", round, missing, len(all)*(len(all)-1))
		if missing == 0 {
			return
		}
		if round == maxRounds {
			t.Fatalf("not every node knows every other after %d rounds", maxRounds)
		}
	}
}

// Leases are renewed while the owner's daemon runs, so the shards outlive
// many lease periods; once it stops, the nodes delete them after the
// lease and its grace, and their space is free again.
func TestLeasesRenewedThenLapse(t *testing.T) {
	const lease, grace = 3 * time.Second, 2 * time.Second
	storage, urls := startStorage(t, 3, func(c *Config) { c.Node.LeaseGrace = grace })
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Gateway.Lease = lease
		c.Upkeep.Interval = time.Second
	})
	ctx := context.Background()
	g := gw.Gateway()
	data := make([]byte, 200<<10+7)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	put(t, gw, "k", data)
	stored := time.Now()
	used := func() (n int64) {
		for _, d := range storage {
			rec, err := d.Node().Record()
			if err != nil {
				t.Fatal(err)
			}
			n += rec.Capacity - rec.Free
		}
		return n
	}
	held := used()
	if held == 0 {
		t.Fatal("the storage nodes hold nothing")
	}
	// Three renewals of each of the 3 shards: well past the first lease
	// and its grace.
	deadline := time.Now().Add(30 * time.Second)
	for gw.Upkeep().Stats().LeasesRenewed < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("upkeep after 30 s: %+v", gw.Upkeep().Stats())
		}
		time.Sleep(100 * time.Millisecond) // polling the counter
	}
	if since := time.Since(stored); since < lease+grace {
		t.Fatalf("three renewals within %v", since)
	}
	obj, err := g.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := obj.Open(ctx, 0, obj.Size)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
	}
	if u := used(); u != held {
		t.Fatalf("the nodes hold %d bytes, %d before the renewals", u, held)
	}
	if st := gw.Upkeep().Stats(); st.NotHeld != 0 {
		t.Fatalf("upkeep: %+v", st)
	}

	// The owner's daemon stops: within a lease and its grace (and a
	// sweep), the nodes delete everything.
	stops[gw]()
	deadline = time.Now().Add(lease + grace + 20*time.Second)
	for used() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the nodes still hold %d bytes %v after the owner left", used(), time.Since(stored))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A node whose shard files rot is found by audits: each of its shards
// fails twice, is marked lost, and its reputation drops.
func TestAuditsFindRot(t *testing.T) {
	storage, urls := startStorage(t, 3, nil)
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = 2 * time.Second
	})
	ctx := context.Background()
	data := make([]byte, 1<<20)
	for i := range 3 {
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		put(t, gw, fmt.Sprint(i), data)
	}
	// Every leaf of every shard file of node 0 gets a flipped byte.
	rotted := 0
	err := filepath.WalkDir(filepath.Join(storage[0].cfg.Data, ShardsDir), func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for off := 0; off < len(b); off += 4096 {
			b[off] ^= 0xff
		}
		rotted++
		return os.WriteFile(path, b, 0o600)
	})
	if err != nil || rotted != 3 {
		t.Fatalf("rotted %d shard files (%v), want 3", rotted, err)
	}
	bad := storage[0].NodeID()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := gw.Upkeep().Stats()
		p, _ := gw.Registry().Get(bad)
		if st.ShardsLost >= 3 && p.Reputation < 1 {
			if st.ShardsLost != 3 {
				t.Fatalf("%d shards lost, only node 0's 3 rotted: %+v", st.ShardsLost, st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %+v, node 0's reputation %v", st, p.Reputation)
		}
		time.Sleep(100 * time.Millisecond) // polling the counters
	}
	for _, d := range storage[1:] {
		if p, _ := gw.Registry().Get(d.NodeID()); p.Reputation != 1 {
			t.Fatalf("an honest node's reputation %v", p.Reputation)
		}
	}
	// Fair exchange: the node that lost what it held earns no credit for
	// it; the honest ones do.
	if err := gw.RefreshLedger(); err != nil {
		t.Fatal(err)
	}
	if got := gw.held.get(storage[0].ownerID()); got != 0 {
		t.Fatalf("the rotting node's owner is credited %d bytes", got)
	}
	for _, d := range storage[1:] {
		if gw.held.get(d.ownerID()) == 0 {
			t.Fatal("an honest node's owner is credited nothing")
		}
	}

	// The operator sees it: every segment and object has 2 of 3 shards
	// healthy and needs repair; node 0's shard of object 0 is lost.
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	var sv upkeep.Survey
	if err := self.Operator(ctx, OpStatus, nil, &sv); err != nil {
		t.Fatal(err)
	}
	if sv.Segments[2] != 3 || len(sv.Segments) != 1 || sv.Objects[2] != 3 || len(sv.Objects) != 1 ||
		sv.LostShards != 3 || sv.NeedRepair != 3 || sv.Upkeep.ShardsLost != 3 {
		t.Fatalf("survey %+v", sv)
	}
	var ov upkeep.ObjectView
	if err := self.Operator(ctx, OpObject, url.Values{"bucket": {"b"}, "key": {"0"}}, &ov); err != nil {
		t.Fatal(err)
	}
	if len(ov.Segments) != 1 || len(ov.Segments[0].Shards) != 3 || ov.Segments[0].Status != "repair" {
		t.Fatalf("object view %+v", ov)
	}
	for _, sh := range ov.Segments[0].Shards {
		lost := sh.Holder == bad.String()
		if lost != (sh.Health == "lost" && sh.Reason == "audit failed") || sh.Address == "" {
			t.Fatalf("shard %+v (node 0 is %s)", sh, bad)
		}
	}
	err = self.Operator(ctx, OpObject, url.Values{"bucket": {"b"}, "key": {"nope"}}, &ov)
	if !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("an unknown object: %v", err)
	}
	// Only the node's own key may ask.
	stranger := node.NewClient(gw.NodeURL(), storage[1].id.Node, nil)
	if err := stranger.Operator(ctx, OpStatus, nil, &sv); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("a stranger's query: %v", err)
	}
}

// startStorage starts n storage-only daemons, their configuration
// adjusted by mod (if not nil), and returns them and their URLs.
func startStorage(t *testing.T, n int, mod func(*Config)) ([]*Daemon, []string) {
	t.Helper()
	var storage []*Daemon
	var urls []string
	for range n {
		d := startDaemonWith(t, func(c *Config, _ *Identity) {
			if mod != nil {
				mod(c)
			}
		})
		storage = append(storage, d)
		urls = append(urls, d.NodeURL())
	}
	return storage, urls
}

// startOwner starts an owner's daemon (a fresh seed) that bootstraps from
// urls, its configuration adjusted by mod, with bucket "b" made. Its
// catalog is not backed up: the upkeep tests count every segment and
// byte of the objects they store.
func startOwner(t *testing.T, urls []string, mod func(*Config)) *Daemon {
	t.Helper()
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemonWith(t, func(c *Config, id *Identity) {
		c.StorageOnly = false
		c.Upkeep.Backup = false
		mod(c)
		c.Network.Bootstrap = urls
		id.Owner = seed.Keys()
	})
	if err := d.Gateway().CreateBucket(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	return d
}

// putErr stores data as key of bucket "b" through d's gateway.
func putErr(d *Daemon, key string, data []byte) error {
	_, err := d.Gateway().PutObject(context.Background(), s3api.PutObjectInput{Bucket: "b", Key: key,
		Body: bytes.NewReader(data), Size: int64(len(data)), Checksum: func() s3api.Checksum { return s3api.Checksum{} }})
	return err
}

// put is putErr, failing the test on error.
func put(t *testing.T, d *Daemon, key string, data []byte) {
	t.Helper()
	if err := putErr(d, key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// readAll reads object key of bucket b through the gateway of d.
func readAll(t *testing.T, d *Daemon, key string) []byte {
	t.Helper()
	ctx := context.Background()
	obj, err := d.Gateway().GetObject(ctx, "b", key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	rc, err := obj.Open(ctx, 0, obj.Size)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return got
}

// Two of seven storage nodes leave for good: once the offline grace is
// over, every segment is rebuilt to n healthy shards on the live nodes;
// then two more of the original holders leave, and every object still
// reads byte-exact.
func TestRepairAfterNodesLeave(t *testing.T) {
	storage, urls := startStorage(t, 7, nil)
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.SegmentSize = 256 << 10
		c.Gateway.BackoffMax = 2 * time.Second // releases to a returning node retried soon
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = 2 * time.Second
		c.Upkeep.OfflineGrace = 3 * time.Second
	})
	ctx := context.Background()
	objects := map[string][]byte{}
	for i, size := range []int{5000, 200 << 10, 1<<20 + 5} { // one segment (not inline), one, five
		data := make([]byte, size)
		rand.Read(data)
		key := fmt.Sprint(i)
		objects[key] = data
		put(t, gw, key, data)
	}
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	survey := func() upkeep.Survey {
		var sv upkeep.Survey
		if err := self.Operator(ctx, OpStatus, nil, &sv); err != nil {
			t.Fatal(err)
		}
		return sv
	}
	if sv := survey(); sv.Segments[5] != 7 || len(sv.Segments) != 1 {
		t.Fatalf("after the uploads: %+v", sv)
	}
	// Nodes 0 and 1 leave for good.
	if len(heldIDs(t, storage[0])) == 0 {
		t.Fatal("node 0 holds no shard before it leaves")
	}
	stops[storage[0]]()
	stops[storage[1]]()
	gone := map[string]bool{storage[0].NodeID().String(): true, storage[1].NodeID().String(): true}
	waitOnLive(t, gw, objects, gone)
	if sv := survey(); sv.Segments[5] != 7 || len(sv.Segments) != 1 || sv.LostShards != 0 {
		t.Fatalf("after the repair: %+v", sv)
	}
	if st := gw.Upkeep().Stats(); st.Repairs == 0 || st.ShardsRepaired == 0 || st.BytesRepaired == 0 {
		t.Fatalf("upkeep stats %+v", st)
	}
	stops[storage[2]]()
	stops[storage[3]]()
	for key, want := range objects {
		if got := readAll(t, gw, key); !bytes.Equal(got, want) {
			t.Fatalf("object %s: %d bytes back, want %d", key, len(got), len(want))
		}
	}
	// A node that left comes back: the owner's releases of the shards it
	// no longer needs reach it. Nodes 2 and 3 have been away past the
	// offline grace, so every segment has lost two shards and waits for a
	// peer to rebuild them on; once the returning node answers (its
	// releases), it is the only one (1 never comes back), and it takes
	// one rebuilt shard of each segment (never two of one). It ends up
	// holding exactly those: none of the shards it held before leaving
	// unless placed on it again, and no release for it left queued.
	back := restartDaemon(t, storage[0])
	id0 := back.NodeID()
	deadline := time.Now().Add(90 * time.Second)
	for {
		segs, placed := placedOn(t, gw, id0) // before held: a shard is stored before the catalog names it
		held := heldIDs(t, back)
		queued := releasesFor(t, gw, id0)
		if queued == 0 && maps.Equal(held, placed) && len(placed) == segs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the returning node holds %d shards, %d of them not placed on it; the catalog places %d on it (%d segments); %d releases for it queued",
				len(held), len(held)-countIn(held, placed), len(placed), segs, queued)
		}
		time.Sleep(200 * time.Millisecond) // polling the node and the catalog
	}
	rec, err := back.Node().Record()
	if err != nil {
		t.Fatal(err)
	}
	if used, want := rec.Capacity-rec.Free, heldFor(t, back, gw); used != want {
		t.Fatalf("the returning node counts %d bytes used, %d held for the owner", used, want)
	}
	checkCounted(t, back)
}

// heldIDs returns the IDs of the shards d's node holds.
func heldIDs(t *testing.T, d *Daemon) map[shard.ID]bool {
	t.Helper()
	held, err := d.Catalog().HeldShards([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[shard.ID]bool, len(held))
	for _, h := range held {
		ids[shard.ID(h.ID)] = true
	}
	return ids
}

// placedOn returns how many segments gw's catalog has and the IDs of
// their shards it places on node (as their receipt's node or its
// delegate).
func placedOn(t *testing.T, gw *Daemon, node shard.PublicKey) (int, map[shard.ID]bool) {
	t.Helper()
	segs, err := gw.Catalog().Segments(meta.SegmentID{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[shard.ID]bool)
	for _, seg := range segs {
		for _, sh := range seg.Shards {
			if sh.Node == node || sh.Holder == node {
				ids[shard.ID(sh.ID)] = true
			}
		}
	}
	return len(segs), ids
}

// releasesFor counts the releases gw has queued for node.
func releasesFor(t *testing.T, gw *Daemon, node shard.PublicKey) int {
	t.Helper()
	rs, err := gw.Catalog().Releases([32]byte{}, [32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.Node == node {
			n++
		}
	}
	return n
}

// countIn counts the IDs of a that are in b.
func countIn(a, b map[shard.ID]bool) int {
	n := 0
	for id := range a {
		if b[id] {
			n++
		}
	}
	return n
}

// waitOnLive waits, 60 s at most, until every segment of the objects of
// bucket "b" has all n of its shards healthy on nodes not in gone.
func waitOnLive(t *testing.T, gw *Daemon, objects map[string][]byte, gone map[string]bool) {
	t.Helper()
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	onLive := func() (bool, string) {
		for key := range objects {
			var ov upkeep.ObjectView
			if err := self.Operator(context.Background(), OpObject, url.Values{"bucket": {"b"}, "key": {key}}, &ov); err != nil {
				t.Fatal(err)
			}
			for _, s := range ov.Segments {
				if len(s.Shards) != s.N {
					return false, fmt.Sprintf("object %s segment %s: %d shards of %d", key, s.ID, len(s.Shards), s.N)
				}
				for _, sh := range s.Shards {
					if gone[sh.Holder] || sh.Health != "healthy" {
						return false, fmt.Sprintf("object %s segment %s: shard %+v", key, s.ID, sh)
					}
				}
			}
		}
		return true, ""
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, why := onLive()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not repaired after 60 s: %s; upkeep %+v", why, gw.Upkeep().Stats())
		}
		time.Sleep(200 * time.Millisecond) // polling the catalog
	}
}

// With one of five peers away, an upload commits once k+1 shards are
// stored (min_acks), and repair places the fifth once a sixth peer joins.
func TestDegradedWriteCompletedByRepair(t *testing.T) {
	storage, urls := startStorage(t, 5, nil)
	gw := startOwner(t, urls, func(c *Config) {
		c.Upkeep.Interval = time.Second
	})
	ctx := context.Background()
	stops[storage[4]]()
	data := make([]byte, 1<<20)
	rand.Read(data)
	if err := putErr(gw, "k", data); err != nil {
		t.Fatalf("a PUT with one peer of five away: %v", err)
	}
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	view := func() upkeep.ObjectView {
		var ov upkeep.ObjectView
		if err := self.Operator(ctx, OpObject, url.Values{"bucket": {"b"}, "key": {"k"}}, &ov); err != nil {
			t.Fatal(err)
		}
		return ov
	}
	if ov := view(); len(ov.Segments) != 1 || len(ov.Segments[0].Shards) != 4 {
		t.Fatalf("after the PUT: %+v", ov)
	}
	// A sixth peer joins through the gateway's node, which verifies it
	// in its next round of discovery.
	joiner := startDaemonWith(t, func(c *Config, _ *Identity) { c.Network.Bootstrap = []string{gw.NodeURL()} })
	gw.Discovery().Round(ctx)
	if p, ok := gw.Registry().Get(joiner.NodeID()); !ok || !p.Placeable {
		t.Fatalf("the joiner at the gateway: %+v, %v", p, ok)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ov := view()
		if sh := ov.Segments[0].Shards; len(sh) == 5 && slices.ContainsFunc(sh, func(s upkeep.ShardView) bool {
			return s.Holder == joiner.NodeID().String() && s.Health == "healthy"
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not completed after 60 s: %+v; upkeep %+v", ov, gw.Upkeep().Stats())
		}
		time.Sleep(200 * time.Millisecond) // polling the catalog
	}
	if got := readAll(t, gw, "k"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(data))
	}
}

// A node that flaps (down many times, each time for less than the
// offline grace) causes no repair, though the gateway sees it fail.
func TestFlappingNodeNoRepair(t *testing.T) {
	storage, urls := startStorage(t, 5, nil)
	const grace = 4 * time.Second
	gw := startOwner(t, urls, func(c *Config) {
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = time.Second
		c.Upkeep.OfflineGrace = grace
	})
	data := make([]byte, 512<<10)
	rand.Read(data)
	put(t, gw, "k", data)
	flapper := storage[0]
	for range 4 {
		stops[flapper]()
		time.Sleep(grace / 2) // down for half the grace: the scenario, not a wait
		flapper = restartDaemon(t, flapper)
		time.Sleep(grace / 4) // up a while, audited again
	}
	p, _ := gw.Registry().Get(flapper.NodeID())
	if p.Tries == p.Successes {
		t.Fatalf("the gateway never saw the flapping node fail: %+v", p)
	}
	if st := gw.Upkeep().Stats(); st.Repairs != 0 || st.ShardsRepaired != 0 || st.ShardsLost != 0 {
		t.Fatalf("a flapping node caused repairs: %+v", st)
	}
	if got := readAll(t, gw, "k"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes", len(got))
	}
}

// stallingPeer holds PutShard calls to one node, while stall is set,
// until their context ends (the daemon is killed), telling entered.
type stallingPeer struct {
	segstore.Peer
	stall   *atomic.Bool
	entered chan struct{}
}

func (p stallingPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	if p.stall.Load() {
		select {
		case p.entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return shard.Receipt{}, ctx.Err()
	}
	return p.Peer.PutShard(ctx, id, body, size, g)
}

// A gateway killed in the middle of a repair loses nothing: after it
// restarts the shard it was sending is released and the repair completes.
func TestRepairSurvivesCrash(t *testing.T) {
	storage, urls := startStorage(t, 4, nil)
	var stall atomic.Bool
	entered := make(chan struct{}, 1)
	// Every peer is wrapped; the target is known only once the object is
	// placed, and only its wrapper stalls, once stall is set (after
	// target: the flag orders the two).
	var target shard.PublicKey
	optMod = func(o *Options) {
		o.WrapPeer = func(id shard.PublicKey, p segstore.Peer) segstore.Peer {
			return targetPeer{Peer: p, id: id, target: &target, sp: stallingPeer{Peer: p, stall: &stall, entered: entered}}
		}
	}
	defer func() { optMod = nil }()
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = time.Second
		c.Upkeep.OfflineGrace = 2 * time.Second
	})
	optMod = nil
	data := make([]byte, 512<<10)
	rand.Read(data)
	put(t, gw, "k", data)
	// Three of the four nodes hold a shard: the fourth is the only place
	// a repair can go once one holder leaves.
	holds := map[shard.PublicKey]bool{}
	for _, d := range storage {
		if rec, _ := d.Node().Record(); rec.Free < rec.Capacity {
			holds[d.NodeID()] = true
		}
	}
	var leaver, spare *Daemon
	for _, d := range storage {
		switch {
		case !holds[d.NodeID()]:
			spare = d
		case leaver == nil:
			leaver = d
		}
	}
	if len(holds) != 3 || spare == nil {
		t.Fatalf("%d holders of 4 nodes", len(holds))
	}
	target = spare.NodeID()
	stall.Store(true)
	stops[leaver]()
	select {
	case <-entered:
	case <-time.After(60 * time.Second):
		t.Fatalf("no repair started in 60 s: %+v", gw.Upkeep().Stats())
	}
	js, err := gw.Catalog().Journals(0)
	if err != nil || len(js) != 1 || len(js[0].Shards) != 1 || shard.PublicKey(js[0].Shards[0].Node) != target {
		t.Fatalf("the repair's journal: %+v, %v", js, err)
	}
	stops[gw]() // abrupt: as a crash
	stall.Store(false)
	gw = restartDaemon(t, gw)

	// The repair completes on the spare node, the journal is gone, and
	// the spare holds one shard, as much as any holder.
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, _ := spare.Node().Record()
		js, _ := gw.Catalog().Journals(0)
		if rec.Free < rec.Capacity && len(js) == 0 && gw.Upkeep().Stats().Repairs == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not repaired after the restart: %+v, journal %v", gw.Upkeep().Stats(), js)
		}
		time.Sleep(200 * time.Millisecond) // polling the nodes and the catalog
	}
	var used []int64
	for _, d := range storage {
		if d != leaver {
			rec, _ := d.Node().Record()
			used = append(used, rec.Capacity-rec.Free)
		}
	}
	if used[0] != used[1] || used[1] != used[2] {
		t.Fatalf("bytes held by the live nodes: %v (one shard each)", used)
	}
	// Only releases to the node that left remain queued.
	rs, err := gw.Catalog().Releases([32]byte{}, [32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if shard.PublicKey(r.Node) != leaver.NodeID() {
			t.Fatalf("a release queued for %x", r.Node)
		}
	}
	if got := readAll(t, gw, "k"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes", len(got))
	}
}

// targetPeer stalls like sp once its node is the target.
type targetPeer struct {
	segstore.Peer
	id     shard.PublicKey
	target *shard.PublicKey
	sp     stallingPeer
}

func (p targetPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	if p.sp.stall.Load() && p.id == *p.target {
		return p.sp.PutShard(ctx, id, body, size, g)
	}
	return p.Peer.PutShard(ctx, id, body, size, g)
}

// A node that silently deletes shards it acknowledged is found by audits,
// loses reputation, and the shards are rebuilt on another node.
func TestAuditsFindDeletionsAndRepair(t *testing.T) {
	storage, urls := startStorage(t, 4, nil)
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Gateway.SegmentSize = 256 << 10
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = time.Second
	})
	ctx := context.Background()
	data := make([]byte, 2<<20) // 8 segments over 4 nodes
	rand.Read(data)
	put(t, gw, "k", data)
	// The node with the most shards deletes half of its shard files.
	var bad *Daemon
	var files []string
	for _, d := range storage {
		var found []string
		err := filepath.WalkDir(filepath.Join(d.cfg.Data, ShardsDir), func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.Type().IsRegular() {
				found = append(found, path)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) > len(files) {
			bad, files = d, found
		}
	}
	deleted := files[:len(files)/2]
	for _, f := range deleted {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := gw.Upkeep().Stats()
		p, _ := gw.Registry().Get(bad.NodeID())
		if st.ShardsLost >= int64(len(deleted)) && st.ShardsRepaired >= int64(len(deleted)) && p.Reputation < 1 {
			if st.ShardsLost != int64(len(deleted)) {
				t.Fatalf("%d shards lost, %d deleted: %+v", st.ShardsLost, len(deleted), st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, %d deleted: %+v, the node's reputation %v", len(deleted), st, p.Reputation)
		}
		time.Sleep(200 * time.Millisecond) // polling the counters
	}
	// Every segment is whole again, and no shard is on a deleted file.
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	var sv upkeep.Survey
	if err := self.Operator(ctx, OpStatus, nil, &sv); err != nil {
		t.Fatal(err)
	}
	if sv.Segments[3] != 8 || len(sv.Segments) != 1 || sv.LostShards != 0 {
		t.Fatalf("after the repairs: %+v", sv)
	}
	if got := readAll(t, gw, "k"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes", len(got))
	}
}
