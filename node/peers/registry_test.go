package peers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"ishtar/shard"
)

// Every refusal reason, each counted in Stats.
func TestRefusals(t *testing.T) {
	f := open(t, nil)
	now := f.c.Now()
	f.add(2, addrIn(2, 1), "s")
	forged := signed(3, addrIn(3, 1), 1, now)
	forged.Free++
	unsigned := signed(4, addrIn(4, 1), 1, now)
	unsigned.Sig = nil
	other := signed(5, addrIn(5, 1), 1, now)
	other.Node = id(6) // signed by 5, claims 6
	// A replayed record is refused before its signature is checked: a
	// flood of them costs no verification.
	replayed := signed(2, addrIn(2, 1), 1, now)
	replayed.Sig = nil
	self := shard.NodeRecord{Address: addrIn(7, 1), Seq: 1, Time: now.Unix()}
	self.Sign(selfKey)
	for _, c := range []struct {
		name string
		rec  shard.NodeRecord
		want Reason
	}{
		{"long address", signed(10, "http://x/"+strings.Repeat("a", shard.MaxAddressLen), 1, now), Malformed},
		{"long version", func() shard.NodeRecord {
			r := shard.NodeRecord{Address: addrIn(11, 1), Version: strings.Repeat("v", shard.MaxVersionLen+1), Time: now.Unix()}
			r.Sign(key(11))
			return r
		}(), Malformed},
		{"negative free", func() shard.NodeRecord {
			r := shard.NodeRecord{Address: addrIn(12, 1), Free: -1, Time: now.Unix()}
			r.Sign(key(12))
			return r
		}(), Malformed},
		{"no key", shard.NodeRecord{Address: addrIn(13, 1), Time: now.Unix()}, Malformed},
		{"not a URL", signed(14, "10.0.0.1:7070", 1, now), Malformed},
		{"not http", signed(15, "ftp://10.0.0.1/", 1, now), Malformed},
		{"forged", forged, BadSignature},
		{"unsigned", unsigned, BadSignature},
		{"another node's key", other, BadSignature},
		{"expired", signed(20, addrIn(20, 1), 1, now.Add(-DefaultTTL)), Expired},
		{"future", signed(21, addrIn(21, 1), 1, now.Add(DefaultClockWindow+2*time.Second)), Future},
		{"same seq", signed(2, addrIn(2, 1), 1, now), Stale},
		{"lower seq", signed(2, addrIn(2, 1), 0, now), Stale},
		{"replayed, unverified", replayed, Stale},
		{"self", self, Self},
	} {
		err := f.r.Add(c.rec, "s")
		if !errors.Is(err, ErrRefused) || reasonOf(err) != c.want {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
		if c.want == Stale {
			continue // Verified takes the same seq (tested below)
		}
		if err := f.r.Verified(c.rec); reasonOf(err) != c.want {
			t.Errorf("%s: Verified: %v, want %s", c.name, err, c.want)
		}
	}
	// Within the clock window and just inside the TTL are fine.
	f.add(30, addrIn(30, 1), "s")
	if err := f.r.Add(signed(31, addrIn(31, 1), 1, now.Add(DefaultClockWindow)), "s"); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Add(signed(32, addrIn(32, 1), 1, now.Add(-DefaultTTL+time.Second)), "s"); err != nil {
		t.Fatal(err)
	}
	st := f.r.Stats()
	want := map[string]int64{"malformed": 12, "bad_signature": 6, "expired": 2, "future": 2, "stale": 3, "self": 2}
	for k, n := range want {
		if st.Refused[k] != n {
			t.Errorf("Refused[%s] = %d, want %d (%v)", k, st.Refused[k], n, st.Refused)
		}
	}
	if st.New != 4 || st.Tried != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A newer Seq replaces the record and keeps the history; the source stays
// the first one.
func TestNewerSeqReplaces(t *testing.T) {
	f := open(t, nil)
	f.add(2, addrIn(2, 1), "first")
	f.r.Contact(id(2), false)
	f.c.Add(time.Minute)
	newer := signed(2, addrIn(3, 9), 5, f.c.Now())
	if err := f.r.Add(newer, "second"); err != nil {
		t.Fatal(err)
	}
	p := f.get(2)
	if p.Record.Seq != 5 || p.Record.Address != addrIn(3, 9) || p.Block != blockOf(3) || p.Source != "first" || p.Tries != 1 {
		t.Fatalf("after replace: %+v", p)
	}
	if err := f.r.Add(signed(2, addrIn(2, 1), 4, f.c.Now()), "x"); reasonOf(err) != Stale {
		t.Fatalf("older seq: %v", err)
	}
	// In one page the higher seq wins, whatever the order.
	recs := []shard.NodeRecord{signed(2, addrIn(2, 2), 7, f.c.Now()), signed(2, addrIn(2, 3), 6, f.c.Now())}
	if added, refused := f.r.AddAll(recs, "x"); added != 1 || refused != 1 {
		t.Fatalf("AddAll = %d, %d", added, refused)
	}
	if p := f.get(2); p.Record.Seq != 7 {
		t.Fatalf("seq %d", p.Record.Seq)
	}
	// A tried peer that moves stays tried but is not placeable until its
	// new address is verified.
	f.tried(4, addrIn(4, 1))
	moved := signed(4, addrIn(5, 1), 2, f.c.Now())
	if err := f.r.Add(moved, "x"); err != nil {
		t.Fatal(err)
	}
	if p := f.get(4); !p.Tried || p.Placeable || p.Why != "address not verified" {
		t.Fatalf("moved: %+v", p)
	}
	if due := f.r.DueForChallenge(10); len(due) != 2 || due[1].Node != id(4) {
		t.Fatalf("due: %v", due)
	}
	if err := f.r.Verified(moved); err != nil {
		t.Fatal(err)
	}
	if p := f.get(4); !p.Placeable {
		t.Fatalf("verified again: %+v", p)
	}
}

// Records expire TTL after they were signed: new ones go, tried ones stay
// (not placeable) for the horizon.
func TestExpiry(t *testing.T) {
	f := open(t, func(c *Config) { c.TTL = time.Hour })
	f.add(2, addrIn(2, 1), "s")
	f.tried(3, addrIn(3, 1))
	f.c.Add(59 * time.Minute)
	if n := f.r.Expire(); n != 0 {
		t.Fatalf("expired early: %d", n)
	}
	f.c.Add(time.Minute)
	if p := f.get(3); p.Placeable || p.Why != "record expired" {
		t.Fatalf("expired tried: %+v", p)
	}
	if recs, _, _ := f.r.Changes(0, 10); len(recs) != 0 {
		t.Fatalf("expired record exchanged: %v", recs)
	}
	if s := f.r.Sample(5); len(s) != 0 {
		t.Fatalf("expired record sampled: %v", s)
	}
	if n := f.r.Expire(); n != 1 || f.known(2) || !f.known(3) {
		t.Fatalf("Expire = %d; 2 known %v, 3 known %v", n, f.known(2), f.known(3))
	}
	// It is due for a challenge; a fresh record brings it back.
	if due := f.r.DueForChallenge(5); len(due) != 1 || due[0].Node != id(3) {
		t.Fatalf("due: %v", due)
	}
	if err := f.r.Verified(signed(3, addrIn(3, 1), 2, f.c.Now())); err != nil {
		t.Fatal(err)
	}
	if p := f.get(3); !p.Placeable {
		t.Fatalf("refreshed: %+v", p)
	}
	f.c.Add(time.Hour + triedHorizon)
	if n := f.r.Expire(); n != 1 || f.known(3) {
		t.Fatalf("past the horizon: %d", n)
	}
	if st := f.r.Stats(); st.New+st.Tried != 0 {
		t.Fatalf("left: %+v", st)
	}
}

// A node never heard of that answers a challenge (a bootstrap address)
// goes straight to "tried", with no source.
func TestVerifiedUnknown(t *testing.T) {
	f := open(t, nil)
	rec := f.tried(2, addrIn(2, 1))
	p := f.get(2)
	if !p.Tried || !p.Placeable || p.Source != "" || p.Successes != 1 || p.LastSeen.IsZero() {
		t.Fatalf("%+v", p)
	}
	// The same record again is fine (the challenge returns the current
	// one), a lower seq is not.
	if err := f.r.Verified(rec); err != nil {
		t.Fatal(err)
	}
	if err := f.r.Verified(signed(2, addrIn(2, 1), 0, f.c.Now())); reasonOf(err) != Stale {
		t.Fatalf("lower seq: %v", err)
	}
	if p := f.get(2); p.Successes != 2 {
		t.Fatalf("successes %d", p.Successes)
	}
}

func TestAddressBlock(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"http://203.0.113.7:7070", "203.0.113.0/24"},
		{"https://203.0.113.200/", "203.0.113.0/24"},
		{"http://[2001:db8:1:2:3:4:5:6]:7070", "2001:db8:1:2::/64"},
		{"http://[::ffff:198.51.100.9]:80", "198.51.100.0/24"},
		{"http://Node.Example.COM:7070", "node.example.com"},
		{"198.51.100.9:7070", "198.51.100.0/24"},
		{"[fe80::1%eth0]:7070", "fe80::/64"},
		{"plain-host", "plain-host"},
	} {
		if got := AddressBlock(c.in); got != c.want {
			t.Errorf("AddressBlock(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestConfig(t *testing.T) {
	var c Config
	c.Defaults()
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "peers: ") {
		t.Fatalf("no self: %v", err)
	}
	c.Self = selfKey.Public()
	if err := c.Validate(); err != nil || c.MaxNew != DefaultMaxNew || c.MaxTried != DefaultMaxTried ||
		c.NewPerSource != 512 || c.PerBlock != 64 || c.PlaceablePerBlock != 4 || c.TTL != 24*time.Hour {
		t.Fatalf("defaults %+v: %v", c, err)
	}
	c.PlaceablePerBlock = -1
	c.Defaults()
	if c.PlaceablePerBlock != -1 || c.Validate() != nil {
		t.Fatal("negative PlaceablePerBlock is no limit")
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.MaxNew = -1 },
		func(c *Config) { c.PerBlock = -1 },
		func(c *Config) { c.TTL = -1 },
		func(c *Config) { c.ClockWindow = -1 },
	} {
		c2 := c
		bad(&c2)
		if _, err := Open(c2, nil, nil); err == nil {
			t.Errorf("config %+v accepted", c2)
		}
	}
	if _, err := Open(c, nil, nil); err == nil {
		t.Error("no catalog accepted")
	}
}
