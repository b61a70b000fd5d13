package segstore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node/peers"
	"ishtar/shard"
)

// placementStore is a store whose directory holds the given peers; it
// does no I/O.
func placementStore(t *testing.T, peers []PeerInfo, mod func(*Config)) *Store {
	t.Helper()
	seed, _ := shard.NewSeed(rand.Reader)
	cfg := testConfig()
	cfg.Owner, cfg.Directory, cfg.Log = seed.Keys(), StaticDirectory(peers), slog.New(slog.DiscardHandler)
	if mod != nil {
		mod(&cfg)
	}
	store, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// testCode is the code the tests put segments in.
var testCode = Code{Params: shard.DefaultParams(), MinAcks: 5}

// testConfig keeps tests fast: quick hedging.
func testConfig() Config {
	return Config{HedgeAfter: 5 * time.Second, RequestTimeout: time.Minute}
}

func somePeers(n int, addr func(i int) string, free func(i int) int64) []PeerInfo {
	out := make([]PeerInfo, n)
	for i := range out {
		k, _ := shard.GeneratePrivateKey(rand.Reader)
		out[i] = PeerInfo{ID: k.Public(), Addr: addr(i), Free: free(i), Peer: &fakePeer{}}
	}
	return out
}

func distinctAddr(i int) string { return fmt.Sprintf("http://10.%d.%d.1:7000", i/256, i%256) }
func noFree(int) int64          { return 0 }

func segKey(i int) meta.SegmentID {
	var id meta.SegmentID
	id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
	return id
}

// testShardSize is the shard size placement tests place.
const testShardSize = 100 << 10

// place picks the 5 shards of a 3-of-5 segment.
func place(store *Store, seg meta.SegmentID) []PeerInfo {
	pl := store.newPlacer(seg, testShardSize)
	var out []PeerInfo
	for i := range testCode.N {
		if p, ok := pl.pick(i); ok {
			out = append(out, p)
		}
	}
	return out
}

func TestPlacementDistinctAndStable(t *testing.T) {
	peers := somePeers(12, distinctAddr, noFree)
	store := placementStore(t, peers, nil)
	counts := map[shard.PublicKey]int{}
	for s := range 2000 {
		ps := place(store, segKey(s))
		if len(ps) != 5 {
			t.Fatalf("segment %d: %d peers", s, len(ps))
		}
		seen := map[shard.PublicKey]bool{}
		for _, p := range ps {
			if seen[p.ID] {
				t.Fatalf("segment %d: peer used twice", s)
			}
			seen[p.ID] = true
			counts[p.ID]++
		}
		again := place(store, segKey(s))
		for i := range ps {
			if again[i].ID != ps[i].ID {
				t.Fatalf("segment %d: placement not deterministic", s)
			}
		}
	}
	// Equal weights: every peer gets about 5/12 of the segments.
	for _, p := range peers {
		if c := counts[p.ID]; math.Abs(float64(c)-2000*5/12.0) > 120 {
			t.Fatalf("peer got %d of 2000 segments, want about %d", c, 2000*5/12)
		}
	}
}

func TestPlacementWeights(t *testing.T) {
	// Peer 0 offers 4x the space of the others: with one shard per
	// segment it is drawn 4/(4+9) of the time.
	peers := somePeers(10, distinctAddr, func(i int) int64 {
		if i == 0 {
			return 400 << 30
		}
		return 100 << 30
	})
	store := placementStore(t, peers, nil)
	const n = 4000
	first := 0
	for s := range n {
		if p, _ := store.newPlacer(segKey(s), testShardSize).pick(0); p.ID == peers[0].ID {
			first++
		}
	}
	want := n * 4.0 / 13
	if math.Abs(float64(first)-want) > 0.1*want {
		t.Fatalf("heavy peer drawn %d of %d times, want about %.0f", first, n, want)
	}
	// A peer with unknown free space weighs as the average.
	peers[1].Free = 0
	if store := placementStore(t, peers, nil); len(store.newPlacer(segKey(1), testShardSize).cands) != 10 {
		t.Fatal("peer with unknown space excluded")
	}
}

func TestPlacementExclusions(t *testing.T) {
	peers := somePeers(7, distinctAddr, noFree)
	self := peers[3].ID
	now := time.Now()
	store := placementStore(t, peers, func(c *Config) { c.Self, c.Now = self, func() time.Time { return now } })
	store.health.record(peers[5], 0, errors.New("boom"))
	store.health.record(peers[6], testShardSize, ErrPeerFull)
	// Four Usable peers for five shards: the fifth goes to the best of
	// the others (a full peer, which answers at once, before one that
	// failed), never to self.
	for s := range 200 {
		ps := place(store, segKey(s))
		if len(ps) != 5 || ps[4].ID != peers[6].ID {
			t.Fatalf("segment %d: %d peers, the last %v; want the 4 Usable, then the full one", s, len(ps), ps[len(ps)-1].ID)
		}
		for _, p := range ps {
			if p.ID == self || p.ID == peers[5].ID {
				t.Fatalf("segment %d placed on self or a failed peer", s)
			}
		}
	}
	// Back-off ends; a success clears the failure count.
	now = now.Add(2 * time.Second)
	if store.health.standing(peers[5], testShardSize) != Usable {
		t.Fatal("back-off did not end")
	}
	// Consecutive failures double the back-off.
	store.health.record(peers[5], 0, errors.New("again"))
	if s := store.health.peers[peers[5].ID]; s.failures != 2 || s.downUntil.Sub(now) != 2*time.Second {
		t.Fatalf("second failure: %+v", s)
	}
	store.health.record(peers[5], 0, nil)
	if store.health.avoid(peers[5]) {
		t.Fatal("success did not clear the back-off")
	}
	// AllowSelf lets the own node in.
	store2 := placementStore(t, peers, func(c *Config) { c.Self, c.AllowSelf = self, true })
	found := false
	for s := range 200 {
		for _, p := range place(store2, segKey(s)) {
			found = found || p.ID == self
		}
	}
	if !found {
		t.Fatal("AllowSelf never placed on the own node")
	}
}

// TestPlacementReputation: a peer that lied gets shards in proportion to
// its reputation, and still every shard it is needed for.
func TestPlacementReputation(t *testing.T) {
	peers := somePeers(10, distinctAddr, noFree)
	store := placementStore(t, peers, nil)
	for range 3 {
		store.health.lied(peers[0].ID, errors.New("test: lied"))
	}
	const n = 4000
	first := 0
	for s := range n {
		if p, _ := store.newPlacer(segKey(s), testShardSize).pick(0); p.ID == peers[0].ID {
			first++
		}
	}
	// Reputation 1/4: drawn 0.25/9.25 of the time.
	want := n * 0.25 / 9.25
	if math.Abs(float64(first)-want) > 0.35*want {
		t.Fatalf("liar drawn %d of %d times, want about %.0f", first, n, want)
	}
	// With exactly N peers it holds a shard of every segment.
	store = placementStore(t, peers[:5], nil)
	store.health.lied(peers[0].ID, errors.New("test: lied"))
	for s := range 100 {
		found := false
		for _, p := range place(store, segKey(s)) {
			found = found || p.ID == peers[0].ID
		}
		if !found {
			t.Fatalf("segment %d: the liar left out with exactly N peers", s)
		}
	}
}

func TestPlacementDiversity(t *testing.T) {
	// Ten peers in two /24s, plus three lone ones: with diversity, at
	// most one shard per block, so a segment uses 5 distinct blocks.
	addrs := []string{}
	for i := range 5 {
		addrs = append(addrs, fmt.Sprintf("http://192.168.1.%d:7000", 10+i))
		addrs = append(addrs, fmt.Sprintf("http://[2001:db8:0:1::%d]:7000", 10+i))
	}
	addrs = append(addrs, "http://10.0.0.1:7000", "http://Node.Example:7000", "http://10.9.9.9:1")
	infos := somePeers(len(addrs), func(i int) string { return addrs[i] }, noFree)
	store := placementStore(t, infos, func(c *Config) { c.AddressDiversity = true })
	for s := range 300 {
		ps := place(store, segKey(s))
		if len(ps) != 5 {
			t.Fatalf("segment %d: %d peers", s, len(ps))
		}
		groups := map[string]bool{}
		for _, p := range ps {
			gr := peers.AddressBlock(p.Addr)
			if groups[gr] {
				t.Fatalf("segment %d: two shards in %s", s, gr)
			}
			groups[gr] = true
		}
	}
	// Without diversity the blocks are ignored.
	store = placementStore(t, infos[:10], nil)
	if len(place(store, segKey(0))) != 5 {
		t.Fatal("diversity applied when off")
	}
	store = placementStore(t, infos[:10], func(c *Config) { c.AddressDiversity = true })
	if n := len(place(store, segKey(0))); n != 2 {
		t.Fatalf("two blocks gave %d peers", n)
	}
}

// Groups counts the places a shard can go: address blocks with
// diversity, peers without; not Self, not a peer known to lack the room,
// not an unplaceable one.
func TestPlacementGroups(t *testing.T) {
	addrs := []string{
		"http://192.168.1.10:7000", "http://192.168.1.11:7000", // one /24
		"http://[2001:db8:0:1::10]:7000", "http://[2001:db8:0:1::11]:7000", // one /64
		"http://10.0.0.1:7000", "http://10.0.1.1:7000", "http://10.0.2.1:7000", "http://10.0.3.1:7000",
	}
	infos := somePeers(len(addrs), func(i int) string { return addrs[i] }, func(i int) int64 {
		if i == 7 {
			return testShardSize - 1 // too little room
		}
		return 1 << 30
	})
	infos[6].Unplaceable = true
	self := infos[5].ID
	diverse := placementStore(t, infos, func(c *Config) { c.AddressDiversity, c.Self = true, self })
	if n := diverse.Groups(testShardSize); n != 3 { // 192.168.1/24, 2001:db8:0:1::/64, 10.0.0.1
		t.Fatalf("with diversity: %d groups, want 3", n)
	}
	if n := diverse.Groups(testShardSize - 1); n != 4 { // 10.0.3.1 has room for it
		t.Fatalf("smaller shard: %d groups, want 4", n)
	}
	flat := placementStore(t, infos, func(c *Config) { c.Self, c.AllowSelf = self, true })
	if n := flat.Groups(testShardSize); n != 6 { // all but the unplaceable and the full
		t.Fatalf("without diversity: %d groups, want 6", n)
	}
}

// Creditors (owners that owe this one space) come first among the usable
// peers: with 3 of 12 peers creditors, every segment of 5 shards has all
// 3; the other 2 shards go to the rest by score, as before.
func TestPlacementCreditorsFirst(t *testing.T) {
	peers := somePeers(12, distinctAddr, noFree)
	for _, i := range []int{2, 7, 11} {
		peers[i].Creditor = true
	}
	store := placementStore(t, peers, nil)
	others := map[shard.PublicKey]int{}
	for s := range 500 {
		creditors := 0
		for i, p := range place(store, segKey(s)) {
			if p.Creditor {
				creditors++
				if i >= 3 {
					t.Fatalf("segment %d: a creditor picked after a peer that is not", s)
				}
			} else {
				others[p.ID]++
			}
		}
		if creditors != 3 {
			t.Fatalf("segment %d: %d of 3 creditors picked", s, creditors)
		}
	}
	if len(others) != 9 {
		t.Fatalf("the shards beyond the creditors went to %d of the 9 other peers", len(others))
	}
}
