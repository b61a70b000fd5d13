package daemon

import (
	"ishtar/gateway/backup"
	"ishtar/node/peers"
	"ishtar/shard"
)

// backupPeers is the catalog backup's view of the peers: root holders
// are chosen among the verified peers that offer space (trackers keep no
// roots), which a recovering machine that discovered the same network
// finds too.
type backupPeers struct{ *upkeepPeers }

// RootHolders chooses count of the registry's verified, storing peers by
// rendezvous hashing of owner.
func (p backupPeers) RootHolders(owner shard.PublicKey, count int) []shard.PublicKey {
	var cands []shard.PublicKey
	for _, e := range p.reg.All() {
		if e.Tried && e.Record.Capacity > 0 {
			cands = append(cands, e.Record.Node)
		}
	}
	return peers.RootHolders(owner, cands, count)
}

// RootClient returns a client of the peer, or nil if it is unknown.
func (p backupPeers) RootClient(id shard.PublicKey) backup.RootClient {
	if id == p.key.Public() {
		return nil // this node keeps no roots of its own owner
	}
	if c := p.client(id); c != nil {
		return c
	}
	return nil
}

// BackupConfig is the catalog backup's configuration: the lag bound, and
// 2n root holders.
func (c *Config) BackupConfig() backup.Config {
	gc := c.GatewayConfig(shard.PublicKey{})
	return backup.Config{MaxLag: c.Upkeep.BackupLag, Holders: 2 * gc.Params.N, RequestTimeout: gc.RequestTimeout}
}
