package peers

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// A failing peer backs off 30 s, doubling to 1 h; failures during a
// back-off do not double it; a success ends it. It stays with its history.
func TestBackoff(t *testing.T) {
	f := open(t, nil)
	f.tried(2, addrIn(2, 1))
	f.add(3, addrIn(3, 1), "s")
	f.r.DueForChallenge(10) // hands 3 out
	var got []time.Duration
	for range 9 {
		f.r.Contact(id(2), false)
		p := f.get(2)
		d := p.RetryAt.Sub(f.c.Now())
		got = append(got, d)
		f.r.Contact(id(2), false) // during the back-off: counted, not doubled
		if q := f.get(2); !q.RetryAt.Equal(p.RetryAt) || q.Tries != p.Tries+1 {
			t.Fatalf("a failure during the back-off moved it: %+v", q)
		}
		if p.Placeable || len(f.r.Sample(5)) != 0 {
			t.Fatalf("in back-off but used: %+v", p)
		}
		for _, rec := range f.r.DueForChallenge(5) {
			if rec.Node == id(2) {
				t.Fatalf("in back-off but due: %+v", p)
			}
		}
		f.c.Add(d)
	}
	want := []time.Duration{30, 60, 120, 240, 480, 960, 1920, 3600, 3600}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("back-offs %v, want %v (s)", got, want)
		}
	}
	// Its back-off over, it is due again for a challenge (and placeable:
	// the gateway may try it).
	f.r.Contact(id(3), false) // 3 out of the way
	if due := f.r.DueForChallenge(5); len(due) != 1 || due[0].Node != id(2) {
		t.Fatalf("due after the back-off: %v", due)
	}
	f.r.Contact(id(2), true)
	p := f.get(2)
	if !p.Placeable || p.Failures != 0 || !p.RetryAt.IsZero() || p.Tries != 20 || p.Successes != 2 || !p.LastSeen.Equal(f.c.Now()) {
		t.Fatalf("after a success: %+v", p)
	}
	f.r.Contact(id(2), false)
	if p := f.get(2); p.RetryAt.Sub(f.c.Now()) != 30*time.Second {
		t.Fatalf("a new outage starts over: %+v", p)
	}
	f.r.Contact(id(99), true) // unknown: ignored

	// A new entry never reached is retried every deadRetry after its
	// third failure, not every hour.
	f.c.Add(time.Hour)
	f.add(50, addrIn(50, 1), "s")
	for range terribleTries {
		f.r.Contact(id(50), false)
		f.c.Add(backoffMax)
	}
	for _, rec := range f.r.DueForChallenge(10) {
		if rec.Node == id(50) {
			t.Fatal("a dead entry is due again after an hour")
		}
	}
	f.c.Add(deadRetry - backoffMax)
	if due := nodes(f.r.DueForChallenge(10)); due[id(50)] == 0 {
		t.Fatalf("a dead entry is never retried: %v", due)
	}
}

// Uptime is over the last 30 days, with an injected clock.
func TestUptime(t *testing.T) {
	f := open(t, nil)
	f.tried(2, addrIn(2, 1)) // one success today
	// 30 days: 3 contacts a day, the first of each day failing.
	for d := range 30 {
		f.c.Add(23 * time.Hour)
		f.r.Add(signed(2, addrIn(2, 1), uint64(d+2), f.c.Now()), "s")
		f.r.Contact(id(2), false)
		f.c.Add(time.Hour) // past the back-off, same day
		f.r.Contact(id(2), true)
		f.r.Contact(id(2), true)
	}
	p := f.get(2)
	if math.Abs(p.Uptime-2.0/3) > 1e-9 || p.Tries != 91 || p.Successes != 61 {
		t.Fatalf("after 30 days: %+v", p)
	}
	// Ten days of nothing but failures.
	for range 10 {
		f.c.Add(24 * time.Hour)
		f.r.Contact(id(2), false)
	}
	p = f.get(2)
	if want := 40.0 / 70; math.Abs(p.Uptime-want) > 1e-9 {
		t.Fatalf("uptime %v, want %v", p.Uptime, want)
	}
	// 31 days later the window is empty.
	f.c.Add(31 * 24 * time.Hour)
	if p := f.get(2); p.Uptime != 0 || p.Tries != 101 {
		t.Fatalf("after the window: %+v", p)
	}
}

func TestHistoryBuckets(t *testing.T) {
	var h history
	now := int64(1_800_000_000)
	for range 70000 { // over uint16: halved, ratio kept
		h.contact(now, true)
		h.contact(now, false)
	}
	if u := h.uptime(now); math.Abs(u-0.5) > 0.01 {
		t.Fatalf("saturated uptime %v", u)
	}
	h.contact(now-40*86400, true) // older than the window: dropped
	h.contact(now-86400, true)    // yesterday: kept
	if tr, ok, days := h.window(now); days != 2 || tr < 32000 || ok < tr/2-10 || ok > tr/2+10 {
		t.Fatalf("window %d %d %d", tr, ok, days)
	}
	if tr, _, _ := h.window(now + 30*86400); tr != 0 {
		t.Fatalf("window a month on: %d", tr)
	}
	var neg history // days before 1970 (a broken clock) still work
	neg.contact(-86400*3-5, true)
	if neg.uptime(-86400*3) != 1 {
		t.Fatal("negative times")
	}
}

// Lied lowers the reputation, which recovers with a half-life; two fresh
// lies make a peer unplaceable for a while.
func TestReputation(t *testing.T) {
	f := open(t, nil)
	f.tried(2, addrIn(2, 1))
	f.r.Lied(id(2))
	if p := f.get(2); p.Reputation != 0.5 || !p.Placeable {
		t.Fatalf("one lie: %+v", p)
	}
	f.r.Lied(id(2))
	if p := f.get(2); math.Abs(p.Reputation-1.0/3) > 1e-6 || p.Placeable || p.Why != "lied" {
		t.Fatalf("two lies: %+v", p)
	}
	f.c.Add(lieHalfLife)
	if p := f.get(2); math.Abs(p.Reputation-0.5) > 1e-6 || !p.Placeable {
		t.Fatalf("a half-life on: %+v", p)
	}
	f.c.Add(20 * lieHalfLife)
	if p := f.get(2); p.Reputation < 0.999 {
		t.Fatalf("forgiven: %+v", p)
	}
	f.r.Lied(id(99)) // unknown: ignored
}

func FuzzDecodeHistory(f *testing.F) {
	var h history
	h.heard, h.demerits, h.demerAt = 5, 1.5, 7
	h.contact(1_800_000_000, true)
	h.contact(1_800_000_100, false)
	f.Add(h.encode(true))
	f.Add([]byte{historyV1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, moved, err := decodeHistory(b)
		if err != nil {
			return
		}
		if h.ok > h.tries || h.demerits < 0 || math.IsNaN(float64(h.demerits)) || math.IsInf(float64(h.demerits), 0) {
			t.Fatalf("out of range: %+v", h)
		}
		for _, d := range h.days {
			if d.ok > d.tries {
				t.Fatalf("day out of range: %+v", d)
			}
		}
		again, moved2, err := decodeHistory(h.encode(moved))
		if err != nil || again != h || moved2 != moved {
			t.Fatalf("round trip: %+v vs %+v, %v", h, again, err)
		}
		_ = h.score(1_800_000_000) + h.uptime(0) + h.reputation(h.demerAt)
	})
}

// DownSince is the first failure since the last success: later failures
// (in back-off or not) leave it, a success clears it.
func TestDownSince(t *testing.T) {
	f := open(t, nil)
	f.tried(2, addrIn(2, 1))
	if p := f.get(2); !p.DownSince.IsZero() {
		t.Fatalf("answering, DownSince %v", p.DownSince)
	}
	first := f.c.Now()
	f.r.Contact(id(2), false)
	for range 5 {
		f.c.Add(2 * time.Hour)
		f.r.Contact(id(2), false)
	}
	if p := f.get(2); !p.DownSince.Equal(first) || p.Failures != 6 {
		t.Fatalf("after failures: DownSince %v (want %v), failures %d", p.DownSince, first, p.Failures)
	}
	f.r.Contact(id(2), true)
	if p := f.get(2); !p.DownSince.IsZero() {
		t.Fatalf("after a success: DownSince %v", p.DownSince)
	}
	f.c.Add(time.Minute)
	again := f.c.Now()
	f.r.Contact(id(2), false)
	if p := f.get(2); !p.DownSince.Equal(again) {
		t.Fatalf("failing again: DownSince %v, want %v", p.DownSince, again)
	}
}

// A history stored before DownSince was kept decodes with none.
func TestHistoryWithoutDownSince(t *testing.T) {
	var h history
	h.contact(1_000_000, true)
	h.contact(1_000_100, false)
	b := h.encode(false)
	old := b[:len(b)-binary.PutVarint(make([]byte, binary.MaxVarintLen64), h.downSince)]
	got, _, err := decodeHistory(old)
	if err != nil || got.downSince != 0 || got.failures != 1 {
		t.Fatalf("old history: %+v, %v", got, err)
	}
	got, _, err = decodeHistory(b)
	if err != nil || got.downSince != 1_000_100 {
		t.Fatalf("new history: %+v, %v", got, err)
	}
}
