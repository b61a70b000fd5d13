package gateway

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/s3api"
)

// The tests here check that a refusal is not a verdict: each class of
// answer has its own consequence (see peerHealth), and uploads go on
// while enough peers can take the shards.

// putUntilAsked uploads objects of two segments until peer i has been
// asked to store a shard since before, and fails after tries uploads.
func putUntilAsked(t *testing.T, tn *testNet, i, tries int) {
	t.Helper()
	before := tn.faults[i].puts.Load()
	for n := range tries {
		tn.put("b", fmt.Sprintf("until-%d", n), randBytes(int(2*tn.g.cfg.SegmentSize), uint64(100+n)))
		if tn.faults[i].puts.Load() > before {
			return
		}
	}
	t.Fatalf("peer %d not asked in %d uploads", i, tries)
}

// putNotAsked uploads n objects of two segments and fails if peer i was
// asked to store any shard.
func putNotAsked(t *testing.T, tn *testNet, i, n int, why string) {
	t.Helper()
	before := tn.faults[i].puts.Load()
	for k := range n {
		tn.put("b", fmt.Sprintf("not-%d", k), randBytes(int(2*tn.g.cfg.SegmentSize), uint64(200+k)))
	}
	if got := tn.faults[i].puts.Load() - before; got != 0 {
		t.Fatalf("peer %d asked %d times %s", i, got, why)
	}
}

// TestOneRefusingPeerOfNPlus1: with one peer more than shards per segment
// and one refusing, every upload succeeds, and the refusal has its
// class's consequence: a full, busy or unreachable peer is asked by the
// segments in flight when it first answers, then left alone (the clock
// does not move), a lying one keeps getting shards, fewer of them.
func TestOneRefusingPeerOfNPlus1(t *testing.T) {
	for _, tc := range []struct {
		f       fault
		blocked bool
	}{
		{refuse, true}, {busy, true}, {offline, true}, {hang, true},
		{badReceipt, false}, {forgedReceipt, false},
	} {
		t.Run(tc.f.String(), func(t *testing.T) {
			tn := newNet(t, 6, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
			tn.freeze()
			tn.bucket("b")
			tn.faults[0].set(tc.f)
			tn.faults[0].hint.Store(int64(time.Hour))
			for k := range 8 {
				data := randBytes(int(2*tn.g.cfg.SegmentSize), uint64(k))
				key := fmt.Sprint("k", k)
				tn.put("b", key, data)
				for _, s := range tn.segments("b", key) {
					checkSegment(t, tn, s)
					for _, sh := range s.Shards {
						if sh.Node == tn.peers[0].id {
							t.Fatalf("shard kept on a %v peer", tc.f)
						}
					}
				}
			}
			puts := tn.faults[0].puts.Load()
			rep := tn.g.store.Reputation(tn.peers[0].id)
			if tc.blocked && puts > uploadDepth {
				t.Fatalf("a %v peer was asked %d times, want at most once per segment in flight when it first answered", tc.f, puts)
			}
			if !tc.blocked && (puts < 2 || rep >= 1 || tn.g.store.Avoid(tn.dir[0])) {
				t.Fatalf("a lying peer: asked %d times, reputation %v, avoided %v: it must stay usable, weighing less",
					puts, rep, tn.g.store.Avoid(tn.dir[0]))
			}
		})
	}
}

// TestRefusalStormOfOneOfExactlyN: with exactly N peers, one refusing for
// a few seconds (full, busy or unreachable: a restart) fails the uploads
// meanwhile, and the first upload after the storm succeeds at once: the
// gateway's clock does not move after it.
func TestRefusalStormOfOneOfExactlyN(t *testing.T) {
	for _, f := range []fault{refuse, busy, offline} {
		t.Run(f.String(), func(t *testing.T) {
			tn := newNet(t, 5, nil)
			tn.freeze()
			tn.bucket("b")
			tn.faults[2].hint.Store(int64(time.Millisecond))
			tn.faults[2].set(f)
			data := randBytes(int(tn.g.cfg.SegmentSize)+1000, 40)
			for range 3 {
				_, err := tn.g.PutObject(context.Background(), putInput("b", "storm", data))
				wantCode(t, err, s3api.ErrSlowDown)
				tn.advance(time.Second)
			}
			tn.faults[2].set(healthy)
			tn.put("b", "after", data)
			for _, s := range tn.segments("b", "after") {
				checkSegment(t, tn, s)
			}
			if got := tn.get("b", "after"); !bytes.Equal(got, data) {
				t.Fatal("wrong bytes")
			}
		})
	}
}

// TestBusyPeerAskedAgain: a busy peer that no other can replace is asked
// again after its hint, and the shard it then stores is kept (the busy
// attempt is not released over it).
func TestBusyPeerAskedAgain(t *testing.T) {
	tn := newNet(t, 5, nil)
	tn.bucket("b")
	tn.faults[3].hint.Store(int64(time.Millisecond))
	tn.faults[3].healAfter.Store(1)
	tn.faults[3].set(busy)
	data := randBytes(int(2*tn.g.cfg.SegmentSize), 41)
	tn.put("b", "k", data)
	if n := tn.faults[3].puts.Load(); n != 2+1 {
		t.Fatalf("busy peer asked %d times, want 3 (one busy, one again, one other segment)", n)
	}
	tn.releaseAll()
	for _, s := range tn.segments("b", "k") {
		checkSegment(t, tn, s)
	}
	if got := tn.get("b", "k"); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
}

// TestPutAfterCorruptGet: a read that meets a peer serving false bytes
// lowers its reputation, never puts it out of placement: with exactly N
// peers the next upload succeeds at once. A truncating peer (taken as a
// broken connection) does not stop it either.
func TestPutAfterCorruptGet(t *testing.T) {
	for _, lie := range []fault{flipBits, wrongShard, truncate} {
		t.Run(lie.String(), func(t *testing.T) {
			tn, data := faultObject(t, nil)
			liar := holders(tn)[0]
			tn.faults[liar].set(lie)
			checkReads(t, tn, data)
			if lie != truncate {
				if r := tn.g.store.Reputation(tn.peers[liar].id); r >= 1 || tn.g.store.Standing(tn.dir[liar], 1<<20) != segstore.Usable {
					t.Fatalf("liar: reputation %v, standing %v; want lower, usable", r, tn.g.store.Standing(tn.dir[liar], 1<<20))
				}
			}
			next := randBytes(int(tn.g.cfg.SegmentSize)+5, 42)
			tn.put("b", "next", next)
			for _, s := range tn.segments("b", "next") {
				checkSegment(t, tn, s)
			}
		})
	}
}

// TestFullPeerTakenBack: a peer that refused a shard as full gets no
// shard that large while others can take them, until the directory shows
// a newer record with room, or FullHold passes; a newer record without
// room keeps it out for large shards only.
func TestFullPeerTakenBack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		then  func(tn *testNet)
		taken bool // large shards go to it again
	}{
		{"no news", func(tn *testNet) {}, false},
		{"no news for FullHold", func(tn *testNet) { tn.advance(tn.g.cfg.FullHold) }, true},
		{"a newer record with room", func(tn *testNet) { tn.dir[0].Seen, tn.dir[0].Free = tn.g.now(), 1<<40 }, true},
		{"a newer record without room", func(tn *testNet) { tn.dir[0].Seen, tn.dir[0].Free = tn.g.now(), 1000 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn := newNet(t, 6, nil)
			tn.freeze()
			tn.bucket("b")
			tn.faults[0].set(refuse)
			putUntilAsked(t, tn, 0, 30)
			tn.faults[0].set(healthy)
			tn.advance(time.Millisecond)
			tc.then(tn)
			if tc.taken {
				putUntilAsked(t, tn, 0, 30)
			} else {
				putNotAsked(t, tn, 0, 6, "for shards larger than its room")
			}
		})
	}
}

// TestRecoveredPeerTakenBackAtOnce: a peer in back-off is taken back as
// soon as the directory shows a record newer than its failure, without
// waiting out the back-off.
func TestRecoveredPeerTakenBackAtOnce(t *testing.T) {
	tn := newNet(t, 6, nil)
	tn.freeze()
	tn.bucket("b")
	tn.faults[0].set(offline)
	putUntilAsked(t, tn, 0, 30)
	tn.faults[0].set(healthy)
	putNotAsked(t, tn, 0, 6, "in back-off")
	tn.advance(time.Millisecond)
	tn.dir[0].Seen, tn.dir[0].Free = tn.g.now(), 1<<40
	putUntilAsked(t, tn, 0, 30)
}

// TestReadsAskLiarsLast: when a segment needs a parity shard, one from a
// peer that lied lately is asked only if no honest one will do.
func TestReadsAskLiarsLast(t *testing.T) {
	tn, data := faultObject(t, nil)
	h := holders(tn)
	seg := tn.g.cfg.SegmentSize
	tn.faults[h[0]].set(offline)
	tn.g.store.Lied(tn.peers[h[3]].id, fmt.Errorf("test: lied"))
	_, liarGets, _ := tn.peers[h[3]].counters()
	_, honestGets, _ := tn.peers[h[4]].counters()
	got, err := tn.read(context.Background(), "b", "o", 0, seg)
	if err != nil || !bytes.Equal(got, data[:seg]) {
		t.Fatalf("read: %v", err)
	}
	_, liarAfter, _ := tn.peers[h[3]].counters()
	_, honestAfter, _ := tn.peers[h[4]].counters()
	if liarAfter != liarGets || honestAfter != honestGets+1 {
		t.Fatalf("the liar served %d shards, the honest parity holder %d; want 0, 1", liarAfter-liarGets, honestAfter-honestGets)
	}
	// With the honest one away too, the liar is asked: never shut out.
	tn.faults[h[4]].set(offline)
	got, err = tn.read(context.Background(), "b", "o", 0, seg)
	if err != nil || !bytes.Equal(got, data[:seg]) {
		t.Fatalf("read needing the liar: %v", err)
	}
}

// TestReleaseAfterPeerBackoff: a release to a peer in back-off is tried
// again when the back-off ends, not later: skipping it is not a failure
// of the release.
func TestReleaseAfterPeerBackoff(t *testing.T) {
	tn := newNet(t, 6, func(c *Config) { c.ReleaseDelay = -1 })
	tn.freeze()
	tn.bucket("b")
	tn.put("b", "k", randBytes(1000, 43))
	x := tn.peerIndex(tn.segments("b", "k")[0].Shards[0].Node)
	if err := tn.g.DeleteObject(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	// Three failures, each once the back-off before was over: 4 s.
	for range 3 {
		tn.advance(over(tn.g.store, tn.dir[x], tn.g.now()))
		tn.g.store.Observe(context.Background(), tn.dir[x], 0, errOffline)
	}
	for range 5 {
		if _, err := tn.g.releaseDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		tn.advance(time.Second)
	}
	// At 4 s the back-off is over and the shard released.
	if n := len(tn.peers[x].ids()); n != 0 || tn.pendingReleases() != 0 {
		t.Fatalf("peer still holds %d shards, %d releases pending", n, tn.pendingReleases())
	}
}

// over returns how long the consequence of p's last answer lasts still.
func over(s *segstore.Store, p segstore.PeerInfo, now time.Time) time.Duration {
	ps := s.PeerStats(p)
	var d time.Duration
	for _, until := range []time.Time{ps.BackoffUntil, ps.BusyUntil, ps.FullUntil} {
		if !until.IsZero() {
			d = max(d, until.Sub(now))
		}
	}
	return d
}
