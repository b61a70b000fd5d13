package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/url"
	"testing"
	"time"

	"ishtar/gateway/upkeep"
	"ishtar/node"
	"ishtar/shard"
)

// A network that grows past n places switches new uploads from the
// fallback code to the wide one (here 2 of 4 and 4 of 8, for a test's
// handful of nodes; 3 of 5 and 10 of 30 by default), the old objects
// keep theirs, and when two nodes leave, upkeep repairs the segments of
// both codes, each by its own: all read back byte-exact.
func TestCodeGrowsWithNetwork(t *testing.T) {
	storage, urls := startStorage(t, 5, nil)
	gw := startOwner(t, urls, func(c *Config) {
		c.Gateway.Params.K, c.Gateway.Params.N = 4, 8
		c.Gateway.Fallback = shard.Params{K: 2, N: 4}
		c.Gateway.SegmentSize = 256 << 10
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = 2 * time.Second
		c.Upkeep.OfflineGrace = 3 * time.Second
		c.Upkeep.RepairThreshold = 7 // of 4 of 8: any lost shard is repaired (2 of 4 repairs at 3)
	})
	ctx := context.Background()
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	view := func(key string) upkeep.ObjectView {
		var ov upkeep.ObjectView
		if err := self.Operator(ctx, OpObject, url.Values{"bucket": {"b"}, "key": {key}}, &ov); err != nil {
			t.Fatal(err)
		}
		return ov
	}
	objects := map[string][]byte{}
	upload := func(key string, k, n int) {
		data := make([]byte, 600<<10) // three segments
		rand.Read(data)
		objects[key] = data
		put(t, gw, key, data)
		ov := view(key)
		if ov.K != k || ov.N != n || len(ov.Segments) != 3 {
			t.Fatalf("%s: coded %d of %d in %d segments, want %d of %d", key, ov.K, ov.N, len(ov.Segments), k, n)
		}
		for _, s := range ov.Segments {
			if s.K != k || s.N != n || len(s.Shards) < k+1 {
				t.Fatalf("%s: segment %+v", key, s)
			}
		}
	}
	upload("small", 2, 4) // 5 places: fewer than 8
	// Five more nodes join: ten places.
	var more []*Daemon
	for range 5 {
		more = append(more, startDaemonWith(t, func(c *Config, _ *Identity) { c.Network.Bootstrap = []string{gw.NodeURL()} }))
	}
	gw.Discovery().Round(ctx)
	for _, d := range more {
		if p, ok := gw.Registry().Get(d.NodeID()); !ok || !p.Placeable {
			t.Fatalf("a new node at the gateway: %+v, %v", p, ok)
		}
	}
	// The gateway's view of the peers is cached for a second.
	waitFor(t, "4 of 8 for new segments with ten places", func() bool { return gw.Gateway().Code(-1).N == 8 })
	upload("wide", 4, 8)
	var st Status
	if err := self.Operator(ctx, OpStatus, nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Codes["2/4"] != 3 || st.Codes["4/8"] != 3 || st.K != 4 || st.N != 8 {
		t.Fatalf("status: codes %v, new segments %d of %d", st.Codes, st.K, st.N)
	}
	// The two holders of the small object's first segment's first shards
	// leave: that segment loses two of its four shards (and keeps k), the
	// others and the wide object's segments what those nodes held of them.
	first := view("small").Segments[0].Shards
	gone := map[string]bool{first[0].Holder: true, first[1].Holder: true}
	for _, d := range append(storage, more...) {
		if gone[d.NodeID().String()] {
			stops[d]()
		}
	}
	waitOnLive(t, gw, objects, gone)
	for key, want := range objects {
		if ov := view(key); ov.K != map[string]int{"small": 2, "wide": 4}[key] {
			t.Fatalf("%s recoded to %d of %d by repair", key, ov.K, ov.N)
		}
		if got := readAll(t, gw, key); !bytes.Equal(got, want) {
			t.Fatalf("object %s: %d bytes back, want %d", key, len(got), len(want))
		}
	}
}
