package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/s3api"
	"ishtar/shard"
)

// inBlock returns the listen address and HTTP client of a daemon whose
// node listens and dials from 127.0.b.1: each in its own /24, so that the
// nodes tell the owners' address blocks apart as on the internet.
func inBlock(b int) (string, *http.Client) {
	ip := net.IPv4(127, 0, byte(b), 1)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ExpectContinueTimeout = 2 * time.Second
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}).DialContext
	return net.JoinHostPort(ip.String(), "0"), &http.Client{Transport: tr}
}

// exchangeOwner starts an owner's daemon in address block b offering
// capacity bytes and claiming quota (a liar claims more than it offers),
// known to the tracker.
func exchangeOwner(t *testing.T, b int, tracker string, capacity, quota int64) *Daemon {
	t.Helper()
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	listen, hc := inBlock(b)
	optMod = func(o *Options) { o.HTTPClient = hc }
	defer func() { optMod = nil }()
	d := startDaemonWith(t, func(c *Config, id *Identity) {
		c.StorageOnly = false
		c.Upkeep.Backup = false
		c.Listen = listen
		c.Capacity, c.Gateway.Capacity = capacity, quota
		c.Gateway.Params = shard.Params{K: 2, N: 3, BlockSize: shard.DefaultBlockSize}
		c.Gateway.InlineMax = 0
		c.Node.Credit.Grace = exchangeGrace
		c.Network.Trackers = []string{tracker}
		id.Owner = seed.Keys()
	})
	if err := d.Gateway().CreateBucket(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	return d
}

const exchangeGrace = 256 << 10

// converge runs rounds of discovery until every daemon has verified every
// other (at most 4), then refreshes their ledgers.
func converge(t *testing.T, all []*Daemon) {
	t.Helper()
	knowEachOther(t, all, 4)
	refreshAll(t, all)
}

func refreshAll(t *testing.T, all []*Daemon) {
	t.Helper()
	for _, d := range all {
		if err := d.RefreshLedger(); err != nil {
			t.Fatal(err)
		}
	}
}

// heldFor is what d's node counts as held for the owner of o.
func heldFor(t *testing.T, d, o *Daemon) int64 {
	t.Helper()
	h, err := d.Catalog().OwnerHeld(o.ownerID())
	if err != nil {
		t.Fatal(err)
	}
	return h.Bytes
}

// onNetwork is what the other daemons' nodes hold for o's owner.
func onNetwork(t *testing.T, o *Daemon, all []*Daemon) int64 {
	var n int64
	for _, d := range all {
		if d != o {
			n += heldFor(t, d, o)
		}
	}
	return n
}

// fillUntilRefused uploads objects of size bytes to d until one is
// refused (at most limit) and returns how many were stored and the
// refusal.
func fillUntilRefused(t *testing.T, d *Daemon, name string, size, limit int) (int, error) {
	t.Helper()
	data := make([]byte, size)
	for i := range limit {
		_, _ = rand.Read(data)
		if err := putErr(d, fmt.Sprintf("%s-%d", name, i), data); err != nil {
			return i, err
		}
	}
	return limit, nil
}

// wantQuota checks that err is the S3 error telling the owner to provide
// more storage.
func wantQuota(t *testing.T, who string, err error) {
	t.Helper()
	var se *s3api.Error
	if !errors.As(err, &se) || se.Code != "QuotaExceeded" || !bytes.Contains([]byte(se.Message), []byte("Offer more storage")) {
		t.Fatalf("%s refused with %v, want QuotaExceeded asking for more storage", who, err)
	}
}

// Fair exchange between owners in distinct address blocks, each node
// enforcing its own ledger:
//   - a freeloader (an owner whose node offers almost nothing) and a liar
//     (whose gateway claims a terabyte while its node offers 1 MiB) store
//     no more than what their nodes hold for the others plus each
//     node's grace, then get QuotaExceeded;
//   - an honest owner whose node holds data for the others keeps storing;
//   - what each node counts as held for each owner is what it holds, and
//     its debts are the same after a restart.
func TestFairExchange(t *testing.T) {
	tr := startDaemon(t, true)
	const mib = 1 << 20
	var honest []*Daemon
	for i := range 4 {
		honest = append(honest, exchangeOwner(t, 11+i, tr.NodeURL(), 16*mib, 16*mib))
	}
	liar := exchangeOwner(t, 21, tr.NodeURL(), mib, 1<<40)
	free := exchangeOwner(t, 22, tr.NodeURL(), 4<<10, 1<<40)
	owners := append(append([]*Daemon{}, honest...), liar, free)
	converge(t, append([]*Daemon{tr}, owners...))

	// The honest owners store a little, each on the others' grace at
	// first (their shards may land on the liar's node, seldom: placement
	// weighs free space; never on the freeloader's: it has no room).
	for i, h := range honest[1:] {
		for j := range 3 {
			data := make([]byte, 128<<10)
			_, _ = rand.Read(data)
			put(t, h, fmt.Sprintf("h%d-%d", i, j), data)
		}
	}
	refreshAll(t, owners)

	// The freeloader: its node holds nothing, it gets the grace of each
	// of the 5 other nodes at most.
	n, err := fillUntilRefused(t, free, "free", 128<<10, 60)
	wantQuota(t, "the freeloader", err)
	got := onNetwork(t, free, owners)
	t.Logf("freeloader: %d objects stored, %d bytes on the network (grace %d on each of 5 nodes)", n, got, exchangeGrace)
	if got > 5*exchangeGrace || n == 0 {
		t.Fatalf("the freeloader has %d bytes on the network after %d objects, want at most %d", got, n, 5*exchangeGrace)
	}

	// The liar: what its node holds for the others, plus the grace.
	n, err = fillUntilRefused(t, liar, "liar", 128<<10, 100)
	wantQuota(t, "the liar", err)
	refreshAll(t, owners)
	gave := int64(0)
	for _, o := range owners {
		if o != liar {
			gave += heldFor(t, liar, o)
		}
	}
	got = onNetwork(t, liar, owners)
	t.Logf("liar: %d objects stored, %d bytes on the network, its node holds %d for the others", n, got, gave)
	if got > gave+5*exchangeGrace {
		t.Fatalf("the liar has %d bytes on the network; its node holds %d for the others, grace 5 x %d", got, gave, exchangeGrace)
	}

	// The honest owner that stored nothing holds data for the others: it
	// stores within that credit.
	giver := honest[0]
	refreshAll(t, owners)
	held := int64(0)
	for _, o := range owners[1:] {
		held += heldFor(t, giver, o)
	}
	if held == 0 {
		t.Fatal("the giver's node holds nothing for the others")
	}
	for j := range 2 {
		data := make([]byte, 64<<10)
		_, _ = rand.Read(data)
		put(t, giver, fmt.Sprintf("giver-%d", j), data)
		if got := readAll(t, giver, fmt.Sprintf("giver-%d", j)); !bytes.Equal(got, data) {
			t.Fatal("the giver's object reads back different")
		}
	}

	// No drift: each node counts as held for each owner the bytes of the
	// shards it holds for it.
	for _, d := range owners {
		checkCounted(t, d)
	}
	// The status shows the exchange.
	refreshAll(t, owners)
	var st Status
	c := node.NewClient(giver.NodeURL(), giver.id.Node, nil)
	if err := c.Operator(context.Background(), OpStatus, nil, &st); err != nil {
		t.Fatal(err)
	}
	ex := st.Exchange
	if ex.HeldForOthers == 0 || ex.Owners != 5 || ex.OnNetwork == 0 || len(ex.Top) != 5 || st.Node.Capacity != 16*mib ||
		ex.Top[0].HeldBy == 0 && ex.Top[1].HeldBy == 0 && ex.Top[2].HeldBy == 0 {
		t.Fatalf("giver's exchange status %+v", ex)
	}
	// Debts survive a restart.
	h := honest[1]
	before, err := h.Node().Ledger(0)
	if err != nil {
		t.Fatal(err)
	}
	stops[h]()
	_, hc := inBlock(12)
	h.opts.HTTPClient = hc
	h = restartDaemon(t, h)
	after, err := h.Node().Ledger(0)
	if err != nil {
		t.Fatal(err)
	}
	if after.Debts != before.Debts || after.HeldForOthers != before.HeldForOthers {
		t.Fatalf("ledger after a restart %+v, before %+v", after, before)
	}
}

// checkCounted checks that d's node counts as held for each owner the
// size plus overhead of each shard it holds for the owner.
func checkCounted(t *testing.T, d *Daemon) {
	t.Helper()
	held, err := d.Catalog().HeldShards([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[[32]byte]int64)
	for _, h := range held {
		for _, hd := range h.Holders {
			want[hd.Owner] += h.Size + meta.HoldingOverhead
		}
	}
	owners, err := d.Catalog().OwnersHeld([32]byte{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != len(want) {
		t.Fatalf("%s: %d owners counted, %d hold shards", d.NodeURL(), len(owners), len(want))
	}
	for _, o := range owners {
		if o.Bytes != want[o.Owner] {
			t.Errorf("%s: owner %x counted %d bytes, holds %d", d.NodeURL(), o.Owner[:4], o.Bytes, want[o.Owner])
		}
	}
}

// fullPeer refuses every store as full: the owner sees its node as full,
// though it has room for the other nodes.
type fullPeer struct{ segstore.Peer }

func (fullPeer) PutShard(context.Context, shard.ID, io.Reader, int64, shard.Grant) (shard.Receipt, error) {
	return shard.Receipt{}, node.ErrInsufficientStorage
}

// Delegation through real daemons: node A is full and forwards the
// owner's shards to D (the only node with room as the owner sees it);
// every object reads byte-exact through A; the owner's audits reach the
// delegated shards; D vanishes, A fails its audits (it is answerable),
// and repair rebuilds the shards on a node that joined meanwhile.
func TestDelegationThroughDaemons(t *testing.T) {
	const mib = 1 << 20
	bc, _ := startStorage(t, 2, func(c *Config) { c.Capacity = 64 * mib })
	dd, _ := startStorage(t, 1, func(c *Config) { c.Capacity = 1 << 30 })
	d := dd[0]
	a := startDaemonWith(t, func(c *Config, _ *Identity) {
		c.Capacity = 256 << 10
		c.Node.Credit.StrangerShare = 1
		c.Network.Bootstrap = []string{bc[0].NodeURL(), bc[1].NodeURL(), d.NodeURL()}
	})
	// A's own owner fills most of it: the owner's shards (75 KiB) no
	// longer fit, while A still has grace to extend.
	own := make([]byte, 200<<10)
	_, _ = rand.Read(own)
	ownID := shard.ComputeID(own, shard.DefaultBlockSize)
	g := shard.Grant{Op: shard.OpStore, Shard: ownID, Size: int64(len(own)), LeaseExpiry: time.Now().Add(time.Hour).Unix(), Time: time.Now().UnixNano()}
	g.Sign(a.id.Node)
	if _, err := node.NewClient(a.NodeURL(), a.id.Node, nil).PutShard(context.Background(), ownID, bytes.NewReader(own), int64(len(own)), g); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Daemon{bc[0], bc[1], d} {
		if p, ok := a.Registry().Get(o.NodeID()); !ok || !p.Tried {
			t.Fatalf("node A does not know %s", o.NodeURL())
		}
	}
	optMod = func(o *Options) {
		o.WrapPeer = func(id shard.PublicKey, p segstore.Peer) segstore.Peer {
			if id == d.NodeID() {
				return fullPeer{p}
			}
			return p
		}
	}
	gw := startOwner(t, []string{a.NodeURL(), bc[0].NodeURL(), bc[1].NodeURL(), d.NodeURL()}, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Gateway.InlineMax = 0
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = time.Second
		c.Upkeep.OfflineGrace = time.Hour // lost by audits, not by absence
	})
	optMod = nil
	objects := map[string][]byte{}
	for i := range 3 { // A's grace for the owner holds 3 of its shards
		data := make([]byte, 150<<10)
		_, _ = rand.Read(data)
		key := fmt.Sprint("o", i)
		put(t, gw, key, data)
		objects[key] = data
	}
	delegated := func() (n int) {
		segs, err := gw.Catalog().Segments(meta.SegmentID{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, seg := range segs {
			holders := map[[32]byte]bool{}
			for _, sh := range seg.Shards {
				h := sh.Holder
				if h == ([32]byte{}) {
					h = sh.Node
				}
				if holders[h] {
					t.Fatalf("segment %x has two shards held by %x", seg.ID[:4], h[:4])
				}
				holders[h] = true
				if sh.Node == a.NodeID() && sh.Holder == d.NodeID() {
					n++
				}
			}
		}
		return n
	}
	n := delegated()
	if n == 0 {
		t.Fatal("no shard went through node A to node D")
	}
	for key, data := range objects {
		if !bytes.Equal(readAll(t, gw, key), data) {
			t.Fatalf("object %s reads back different", key)
		}
	}
	// The audits reach the delegated shards through A.
	waitFor(t, "audits of every shard", func() bool { return gw.Upkeep().Stats().AuditsPassed >= int64(3*len(objects)) })
	if st := gw.Upkeep().Stats(); st.AuditsFailed != 0 {
		t.Fatalf("audits failed with every node up: %+v", st)
	}

	// A node with room joins; D vanishes. A's audits fail, and repair
	// rebuilds its shards elsewhere.
	e := startDaemonWith(t, func(c *Config, _ *Identity) { c.Network.Bootstrap = []string{bc[0].NodeURL()} })
	ctx := context.Background()
	bc[0].Discovery().Round(ctx) // B verifies E, which announced itself
	for round := 1; ; round++ {
		if p, ok := gw.Registry().Get(e.NodeID()); ok && p.Tried {
			break
		}
		if round > 8 {
			t.Fatal("the owner did not learn of the new node in 8 rounds")
		}
		gw.Discovery().Round(ctx)
	}
	stops[d]()
	before, _ := gw.Registry().Get(a.NodeID())
	waitFor(t, "the delegated shards repaired", func() bool { return gw.Upkeep().Stats().ShardsRepaired >= int64(n) })
	if after, _ := gw.Registry().Get(a.NodeID()); after.Reputation >= before.Reputation {
		t.Fatalf("node A's reputation %v after its delegate vanished, %v before", after.Reputation, before.Reputation)
	}
	if left := delegated(); left != 0 {
		t.Fatalf("%d shards still recorded on A through D", left)
	}
	for key, data := range objects {
		if !bytes.Equal(readAll(t, gw, key), data) {
			t.Fatalf("object %s reads back different after repair", key)
		}
	}
}

// waitFor polls cond (the daemons' counters) for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute", what)
		}
		time.Sleep(50 * time.Millisecond) // polling counters, not synchronisation
	}
}
