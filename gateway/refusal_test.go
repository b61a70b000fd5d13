package gateway

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// The tests here check that a refusal is not a verdict: each class of
// answer has its own consequence (see peerHealth), and uploads go on
// while enough peers can take the shards.

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

// TestReadsAskLiarsLast: when a segment needs a parity shard, one from a
// peer that lied lately is asked only if no honest one will do.
func TestReadsAskLiarsLast(t *testing.T) {
	tn, data := faultObject(t, nil)
	h := holders(tn)
	seg := tn.g.cfg.SegmentSize
	tn.faults[h[0]].set(offline)
	tn.g.health.lied(tn.peers[h[3]].id, fmt.Errorf("test: lied"))
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
