package daemon

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/node"
	"ishtar/node/peers"
	"ishtar/shard"
)

// directoryCache is how long the gateway's view of the registry is reused:
// listing 20,000 verified peers takes tens of milliseconds.
const directoryCache = time.Second

// directory is the gateway's Directory over the peer registry: every
// verified peer, with a client pinned to its key at its address (decorated
// by Options.WrapPeer) and the registry's verdict on placement; the
// gateway's outcomes go back to the registry's history.
type directory struct {
	reg  *peers.Registry
	key  shard.PrivateKey
	hc   *http.Client
	wrap func(shard.PublicKey, segstore.Peer) segstore.Peer
	// creditor reports whether an owner owes this one space.
	creditor func(owner shard.PublicKey) bool

	mu      sync.Mutex
	clients map[shard.PublicKey]dirClient
	cache   []segstore.PeerInfo
	at      time.Time
}

type dirClient struct {
	url  string
	peer segstore.Peer
}

var (
	_ segstore.Directory    = (*directory)(nil)
	_ segstore.PeerObserver = (*directory)(nil)
)

func newDirectory(reg *peers.Registry, key shard.PrivateKey, hc *http.Client, wrap func(shard.PublicKey, segstore.Peer) segstore.Peer,
	creditor func(shard.PublicKey) bool) *directory {
	return &directory{reg: reg, key: key, hc: hc, wrap: wrap, creditor: creditor, clients: make(map[shard.PublicKey]dirClient)}
}

// Peers returns the registry's verified peers.
func (d *directory) Peers() []segstore.PeerInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache != nil && time.Since(d.at) < directoryCache {
		return d.cache
	}
	ps := d.reg.Peers()
	out := make([]segstore.PeerInfo, 0, len(ps))
	live := make(map[shard.PublicKey]bool, len(ps))
	for _, p := range ps {
		id := p.Record.Node
		live[id] = true
		url := strings.TrimRight(p.Record.Address, "/")
		c, ok := d.clients[id]
		if !ok || c.url != url {
			c = dirClient{url: url, peer: node.NewClient(url, d.key, d.hc, node.WithPeerID(id))}
			if d.wrap != nil {
				c.peer = d.wrap(id, c.peer)
			}
			d.clients[id] = c
		}
		// The registry's back-off paces discovery's challenges; placement
		// has its own, shorter one (segstore), which takes a peer back as
		// soon as it answers again: a peer placeable but for the
		// registry's back-off stays placeable here.
		placeable := p.Placeable || p.Why == peers.WhyBackoff
		out = append(out, segstore.PeerInfo{ID: id, Addr: url, Free: p.Record.Free, Seen: p.LastSeen,
			Uptime: p.Uptime, Unplaceable: !placeable, Creditor: d.creditor(p.Record.Owner), Peer: c.peer})
	}
	for id := range d.clients {
		if !live[id] {
			delete(d.clients, id)
		}
	}
	d.cache, d.at = out, time.Now()
	return out
}

// refresh drops the cached view (after a discovery round).
func (d *directory) refresh() {
	d.mu.Lock()
	d.cache = nil
	d.mu.Unlock()
}

// Contact records a gateway's answer from a peer in the registry.
func (d *directory) Contact(id shard.PublicKey, ok bool) { d.reg.Contact(id, ok) }

// Lied records a lie the gateway caught.
func (d *directory) Lied(id shard.PublicKey) { d.reg.Lied(id) }

// placeable returns the peers placement may use.
func placeable(ps []segstore.PeerInfo) []segstore.PeerInfo {
	var out []segstore.PeerInfo
	for _, p := range ps {
		if !p.Unplaceable {
			out = append(out, p)
		}
	}
	return out
}

// addressBlocks counts the distinct address blocks of peers, as the
// gateway's address diversity sees them.
func addressBlocks(ps []segstore.PeerInfo) int {
	seen := make(map[string]bool)
	for _, p := range ps {
		seen[peers.AddressBlock(p.Addr)] = true
	}
	return len(seen)
}

// warnPlacement logs why uploads are bound to fail with the peers known.
func warnPlacement(log *slog.Logger, cfg *Config, ps []segstore.PeerInfo) {
	gc := cfg.GatewayConfig(shard.PublicKey{})
	n := gc.MinN()
	ps = placeable(ps)
	switch {
	case len(ps) < n:
		log.Warn("fewer placeable peers than shards per segment: uploads fail until more are known",
			"peers", len(ps), "n", n)
	case cfg.Gateway.AddressDiversity && addressBlocks(ps) < n:
		log.Warn("address diversity is on but the peers span fewer address blocks than shards per segment: uploads will fail; "+
			"set gateway.address_diversity = false for peers on one network", "blocks", addressBlocks(ps), "n", n)
	}
}
