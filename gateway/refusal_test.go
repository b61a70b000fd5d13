package gateway

import (
	"bytes"
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
