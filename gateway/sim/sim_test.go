package sim

import (
	"context"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/gateway/upkeep/policy"
	"ishtar/meta"
	"ishtar/shard"
)

// quiet is a network with nothing happening: no sessions, departures,
// disk failures, droppers, churn or repair. Tests switch on what they
// check.
func quiet(k, n, nodes, segments int, days float64) Config {
	c := Defaults()
	c.Policy = policy.DefaultsFor(k, n)
	c.Nodes, c.Segments, c.Days = nodes, segments, days
	c.Mix = []Class{{Share: 1, Uptime: 1}}
	c.Lifetime, c.DiskAFR, c.Droppers, c.ChurnPerMonth = 0, 0, 0, 0
	c.Repair, c.Sessions = false, false
	c.Reads = 0
	return c
}

// binomTail is P(X < k) for X ~ Binomial(n, p).
func binomBelow(k, n int, p float64) float64 {
	var s float64
	for j := range k {
		s += binom(n, j) * math.Pow(p, float64(j)) * math.Pow(1-p, float64(n-j))
	}
	return s
}

func binom(n, j int) float64 {
	r := 1.0
	for i := 1; i <= j; i++ {
		r = r * float64(n-j+i) / float64(i)
	}
	return r
}

// run runs c and returns the finished simulation.
func run(t *testing.T, c Config) *sim {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	s := newSim(c)
	s.init()
	if err := s.loop(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.finish()
	return s
}

// Without repair and with independent permanent departures, a segment
// is lost when fewer than K of its N holders remain: the binomial tail
// at the share of holders that left.
func TestLossMatchesBinomial(t *testing.T) {
	for _, code := range [][2]int{{3, 5}, {10, 20}} {
		k, n := code[0], code[1]
		t.Run(itoa(k)+"of"+itoa(n), func(t *testing.T) {
			c := quiet(k, n, 2000, 40000/n*5, 100)
			c.Lifetime = 280 * 24 * time.Hour // about 30 % leave in 100 days
			s := run(t, c)
			// The share of shard records whose holder left: the q each
			// shard saw (which nodes left is the one shared draw).
			var gone, all int
			for _, h := range s.holder {
				if h >= 0 {
					all++
					if s.nodes[h].departed {
						gone++
					}
				}
			}
			q := float64(gone) / float64(all)
			p := binomBelow(k, n, 1-q)
			want := p * float64(c.Segments)
			sd := math.Sqrt(float64(c.Segments) * p * (1 - p))
			got := float64(s.res.SegmentsLost)
			t.Logf("q=%.4f lost %v, binomial %.1f ± %.1f", q, got, want, sd)
			if math.Abs(got-want) > 4.5*sd+1 {
				t.Fatalf("lost %v segments, binomial tail says %.1f (sd %.1f)", got, want, sd)
			}
			if q < 0.2 || q > 0.4 {
				t.Fatalf("q = %v: the test's departures are off", q)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// With independent sessions of uptime u, a read finds K of N holders
// online with the binomial probability.
func TestAvailabilityMatchesBinomial(t *testing.T) {
	for _, code := range [][2]int{{3, 5}, {6, 12}} {
		k, n := code[0], code[1]
		t.Run(itoa(k)+"of"+itoa(n), func(t *testing.T) {
			const u = 0.6
			c := quiet(k, n, 1000, 5000, 60)
			c.Mix = []Class{{Share: 1, Uptime: u, Cycle: 24 * time.Hour}}
			c.Sessions = true
			c.Reads = 120000
			s := run(t, c)
			// Shards are placed on nodes online at time zero: skip the
			// first days, until sessions have mixed.
			var ok, reads float64
			for _, d := range s.res.Series[5:] {
				ok += d.Availability
				reads++
			}
			got := ok / reads
			want := 1 - binomBelow(k, n, u)
			t.Logf("availability %.4f, binomial %.4f", got, want)
			if math.Abs(got-want) > 0.01 {
				t.Fatalf("availability %.4f, binomial says %.4f", got, want)
			}
		})
	}
}

// A repair that is instantaneous, after a grace much shorter than the
// time between departures, never loses a segment.
func TestInstantRepairLosesNothing(t *testing.T) {
	c := quiet(3, 5, 500, 10000, 60)
	c.Lifetime = 30 * 24 * time.Hour // most nodes leave within the run
	c.Repair, c.InstantRepair = true, true
	c.Policy.OfflineGrace = time.Minute
	s := run(t, c)
	r := s.res
	if r.SegmentsLost != 0 {
		t.Fatalf("lost %d segments with instantaneous repair", r.SegmentsLost)
	}
	if r.NodesDeparted < 500 || r.Repairs < r.NodesDeparted*50 {
		t.Fatalf("%d departures, %d repairs: the test did not exercise repair", r.NodesDeparted, r.Repairs)
	}
	if r.PolicyMismatches != 0 {
		t.Fatalf("%d segments counted differently by the simulator and the policy", r.PolicyMismatches)
	}
	// And every segment still has N shards on nodes still there.
	for seg := range c.Segments {
		for i := range c.Policy.N {
			h := s.holder[seg*c.Policy.N+i]
			if h < 0 || s.nodes[h].departed && s.now-s.nodes[h].offlineSince > c.Policy.OfflineGrace.Milliseconds() {
				t.Fatalf("segment %d index %d: holder %d not repaired", seg, i, h)
			}
		}
	}
}

// Without instantaneous repair, the counters the simulator keeps agree
// with the policy at every repair check, under churn, droppers, disk
// failures and sessions; and a run is a function of its seed.
func TestDeterministicAndConsistent(t *testing.T) {
	c := Defaults()
	c.Nodes, c.Segments, c.Days, c.Reads = 200, 1000, 30, 20000
	c.Policy.OfflineGrace = 12 * time.Hour
	c.Droppers = 0.05
	c.DiskAFR = 1
	a, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(context.Background(), c)
	a.WallSeconds, b.WallSeconds = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs of seed %d differ:\n%+v\n%+v", c.Seed, a, b)
	}
	if a.PolicyMismatches != 0 {
		t.Fatalf("%d mismatches with the policy", a.PolicyMismatches)
	}
	if a.Repairs == 0 || a.ShardsFoundLost == 0 || a.DiskFailures == 0 || a.UploadBytes == 0 {
		t.Fatalf("the run exercised too little: %+v", a)
	}
	c.Seed++
	d, _ := Run(context.Background(), c)
	if d.Events == a.Events && d.Repairs == a.Repairs {
		t.Fatalf("seeds %d and %d gave the same run", c.Seed-1, c.Seed)
	}
}

// drawCandidates ranks nodes as weighted rendezvous (segstore.Score)
// does: the first two places have the same distribution.
func TestDrawMatchesRendezvous(t *testing.T) {
	weights := []float64{1, 2, 3, 4, 10}
	const trials = 40000
	m := len(weights)
	rendezvous := make([]float64, m*m)
	var ids []shard.PublicKey
	for i := range m {
		var id shard.PublicKey
		id[0] = byte(i + 1)
		ids = append(ids, id)
	}
	for tr := range trials {
		var seg meta.SegmentID
		seg[0], seg[1], seg[2] = byte(tr), byte(tr>>8), byte(tr>>16)
		first, second := -1, -1
		var s1, s2 float64
		for i := range m {
			sc := segstore.Score(ids[i], seg, 0, weights[i])
			switch {
			case first < 0 || sc > s1:
				second, s2 = first, s1
				first, s1 = i, sc
			case second < 0 || sc > s2:
				second, s2 = i, sc
			}
		}
		rendezvous[first*m+second]++
	}
	c := quiet(1, 2, m, 1, 1)
	s := newSim(c)
	for i := range m {
		s.nodes = append(s.nodes, nodeState{online: true})
		var id policy.PeerID
		id[0] = byte(i + 1)
		s.ids = append(s.ids, id)
		s.blocks = append(s.blocks, itoa(i))
		s.weights.grow(m)
		s.weights.set(i, weights[i])
	}
	drawn := make([]float64, m*m)
	for range trials {
		s.drawCandidates(2)
		a, b := int(s.cands[0].ID[0]-1), int(s.cands[1].ID[0]-1)
		drawn[a*m+b]++
	}
	for i := range rendezvous {
		r, d := rendezvous[i]/trials, drawn[i]/trials
		sd := math.Sqrt(max(r, 1.0/trials) * 2 / trials)
		if math.Abs(r-d) > 5*sd {
			t.Errorf("pair %d,%d: rendezvous %.4f, draws %.4f", i/m, i%m, r, d)
		}
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Class
		err  string
	}{
		{"30%@99%,70%@60%", []Class{{0.3, 0.99, 0}, {0.7, 0.6, 0}}, ""},
		{"0.5@0.9/48h, 0.5@0.7", []Class{{0.5, 0.9, 48 * time.Hour}, {0.5, 0.7, 0}}, ""},
		{"1@1", []Class{{1, 1, 0}}, ""},
		{"", nil, "want SHARE@UPTIME"},
		{"30%", nil, "want SHARE@UPTIME"},
		{"0@0.5", nil, "not in (0, 1]"},
		{"1@150%", nil, "not in (0, 1]"},
		{"1@x", nil, "not a number"},
		{"1@0.5/-1h", nil, "positive duration"},
	} {
		got, err := ParseMix(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMix(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMix(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
		if back, _ := ParseMix(MixString(got)); !reflect.DeepEqual(back, got) {
			t.Errorf("MixString(%v) = %q does not parse back", got, MixString(got))
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"few nodes", func(c *Config) { c.Nodes = 4 }, "nodes 4"},
		{"mix sum", func(c *Config) { c.Mix = []Class{{Share: 0.5, Uptime: 1}} }, "sum to 0.5"},
		{"days", func(c *Config) { c.Days = 0 }, "days 0"},
		{"droppers", func(c *Config) { c.Droppers = 0.6 }, "droppers"},
		{"policy", func(c *Config) { c.Policy.RepairThreshold = 5 }, "RepairThreshold"},
		{"too many shards", func(c *Config) { c.Segments = 1 << 29 }, "segments"},
		{"bandwidth", func(c *Config) { c.OwnerBandwidth = 0 }, "bandwidth"},
	} {
		c := Defaults()
		tc.mod(&c)
		err := c.Validate()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.err)
		}
	}
	c := Defaults()
	c.Policy = policy.DefaultsFor(40, 80)
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("Run with n=80: %v, want the simulator's limit", err)
	}
}

func TestExtrapolate(t *testing.T) {
	// 10 lost of 1e6: measured.
	if got := extrapolate([]int64{10, 100, 1000, 1e6 - 1110}); math.Abs(got-5) > 1e-9 {
		t.Errorf("extrapolate with 10 lost = %v, want 5", got)
	}
	// None lost, 100 at margin 0, 1000 at margin 1 of 1e6: 1e-4 x 1/11.
	if got, want := extrapolate([]int64{0, 100, 1000, 1e6 - 1100}), -math.Log10(1e-4*100.0/1100); math.Abs(got-want) > 1e-9 {
		t.Errorf("extrapolate = %v, want %v", got, want)
	}
	if got := extrapolate([]int64{0, 0, 5, 100}); got != 0 {
		t.Errorf("extrapolate with too little data = %v, want 0", got)
	}
}

// ParseMix never panics, and what it accepts is a valid mix of classes
// that MixString writes back in a form it reads again.
func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"30%@99%,70%@60%", "0.5@0.9/48h,0.5@0.7", "1@1", "", "@", "1@0.5/", "50%@1e-300%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mix, err := ParseMix(s)
		if err != nil {
			return
		}
		if len(mix) == 0 || len(mix) > 64 {
			t.Fatalf("ParseMix(%q) accepted %d classes", s, len(mix))
		}
		for _, cl := range mix {
			if !(cl.Share > 0 && cl.Share <= 1 && cl.Uptime > 0 && cl.Uptime <= 1 && cl.Cycle >= 0) {
				t.Fatalf("ParseMix(%q) accepted %+v", s, cl)
			}
		}
		back, err := ParseMix(MixString(mix))
		if err != nil || len(back) != len(mix) {
			t.Fatalf("MixString(%v) = %q: %v", mix, MixString(mix), err)
		}
		for i := range mix {
			if math.Abs(back[i].Share-mix[i].Share) > 1e-9 || math.Abs(back[i].Uptime-mix[i].Uptime) > 1e-9 || back[i].Cycle != mix[i].Cycle {
				t.Fatalf("MixString(%v) = %q reads back as %v", mix, MixString(mix), back)
			}
		}
	})
}
