package integration

import (
	"testing"
)

// TestHarness is the quick check of the harness itself (it runs in -short
// mode too): an object stored through the S3 API is on N of the nodes,
// reads back while one node lies and while another is stopped, and after
// the restart.
func TestHarness(t *testing.T) {
	Run(t, Config{Nodes: 6}, func(t *testing.T, n *Net) {
		c := n.S3(t)
		b := createBucket(t, c, "harness")
		data := randBytes(300*KiB, 1)
		putObject(t, c, b, "obj", data)
		if got := n.StoredShards(t); got.Count != n.Config.N {
			t.Fatalf("nodes hold %d shards of a one-segment object, want %d", got.Count, n.Config.N)
		}
		n.Node(2).Store.Set(FaultFlip)
		n.StopNode(t, 4)
		if n.Node(4).Running() {
			t.Fatal("node 4 runs after StopNode")
		}
		got, _ := getObject(t, c, b, "obj", "")
		sameBytes(t, "with a lying and a stopped node", got, data)
		n.Node(2).Store.Set(FaultNone)
		n.StartNode(t, 4)
		got, _ = getObject(t, c, b, "obj", "")
		sameBytes(t, "after the restart", got, data)
		n.Settle(t)
	})
}
