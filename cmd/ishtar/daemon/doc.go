// Package daemon is Ishtar's composition root. From one Config and an
// Identity it builds a whole daemon: the catalog, the node (the peer
// protocol server over its shard store, behind connection limits), the
// peer registry (node/peers, kept in the catalog) and the node's
// discovery (bootstrap, trackers, peer exchange), the gateway with a
// directory of the registry's verified peers and its S3 endpoint, and
// every background loop (discovery's rounds, the gateway's release queue,
// the node's maintenance and its sweep of unheld shards). A tracker
// (Network.Tracker) is a node alone: no capacity, gateway or S3. Run serves until
// its context ends and shuts everything down in order.
//
// With Config.Admin set, it also serves an admin listener (admin.go):
// Prometheus metrics (metrics.go: a collector reading the packages'
// counters at scrape time, and middleware counting the node's and the S3
// endpoint's requests), health and readiness checks, Status as JSON
// (status.go; also the operator query behind `ishtar status`) and the
// status page drawn from it (web/).
//
// `ishtar serve` runs one daemon; `ishtar devnet` runs several in one
// process (storage-only ones and one with the gateway); the integration
// harness builds its networks here too, with Options for its own stores
// and fault decorators, so every test runs the wiring that users run.
package daemon
