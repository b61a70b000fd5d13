// Package daemon is Ishtar's composition root. From one Config and an
// Identity it builds a whole daemon: the catalog, the node (the peer
// protocol server over its shard store, behind connection limits), the
// peer directory, the gateway and its S3 endpoint, and every background
// loop (the gateway's release queue, the directory's refreshes, the
// node's maintenance and its sweep of unheld shards). Run serves until
// its context ends and shuts everything down in order.
//
// `ishtar serve` runs one daemon; `ishtar devnet` runs several in one
// process (storage-only ones and one with the gateway); the integration
// harness builds its networks here too, with Options for its own stores
// and fault decorators, so every test runs the wiring that users run.
package daemon
