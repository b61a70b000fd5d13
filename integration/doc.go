// Package integration holds Ishtar's multi-node, multi-process,
// real-client and chaos tests, and the harness they share.
//
// Run starts a whole network in the test process, testplanet style: Nodes
// node.Servers on 127.0.0.1 (real HTTP, disk stores and Pebble catalogs in
// t.TempDir()), the owner's gateway over a static directory of the storage
// nodes, and the S3 API on a loopback TLS listener (so aws-sdk-go-v2 sends
// its default aws-chunked bodies with checksum trailers) and a plain one.
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
// The multi-process tests run the built binary's `ishtar devnet` through
// package integration/devnet; tests that need a real client binary (aws,
// rclone, restic, s3cmd) or a child process are skipped under -short, and
// fail rather than skip when a client is missing and CI is set.
package integration
