// Package integration holds Ishtar's multi-node, multi-process,
// real-client and chaos tests, and the harness they share.
//
// Run starts a whole network in the test process, testplanet style: Nodes
// daemons of cmd/ishtar/daemon (the wiring `ishtar serve` runs: node,
// peer registry, discovery, gateway, background loops) on 127.0.0.1 with
// real HTTP, disk stores and Pebble catalogs in t.TempDir(). Node 0 runs
// the owner's gateway and bootstraps from the storage nodes; the S3 API
// is also served on a loopback TLS listener (so aws-sdk-go-v2 sends its
// default aws-chunked bodies with checksum trailers) and a plain one.
//
//	integration.Run(t, integration.Config{Nodes: 6}, func(t *testing.T, n *integration.Net) {
//		c := n.S3(t)
//		// ... drive c, stop nodes with n.StopNode(i), inject faults with
//		// n.Node(i).Store.Set(integration.FaultFlip) ...
//	})
//
// Node 0 is the gateway's own node, never used for placement; nodes 1..
// are the storage peers. Every storage node's node.Store and the gateway's
// client of it are wrapped by fault decorators (FaultStore, FaultPeer),
// honest until told otherwise.
//
// The multi-process tests run the built binary's `ishtar devnet` and
// `ishtar serve` through package integration/devnet. TestHosts runs the
// binary on 8 or more hosts made of network namespaces (package
// integration/netns: one /24 each on a bridge, no route out), a tracker
// and nodes that know only the tracker, with address diversity on; it
// needs root and `ip netns` (skipped otherwise, failing under CI).
// TestAdversarial* attack nodes and gateways as a stranger with fresh
// keys would. Tests that need a real client binary (aws, rclone, restic,
// s3cmd) or a child process are skipped under -short, and fail rather
// than skip when a client is missing and CI is set.
package integration
