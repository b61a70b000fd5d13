package daemon

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"ishtar/gateway"
	"ishtar/node"
	"ishtar/shard"
)

// Refresh intervals of the static directory: known peers are asked for
// their record every refreshEvery, peers never reached every retryEvery.
const (
	refreshEvery   = 30 * time.Second
	retryEvery     = 5 * time.Second
	refreshTimeout = 10 * time.Second
)

// peerDirectory is the gateway's Directory over a fixed list of peer
// URLs: each peer's ID and free space come from its signed record (Info),
// fetched at start and then periodically, and PeerInfo.Seen says when the
// record last came (the gateway takes a peer that answers it back at once,
// and its free space over what a refusal made it infer). A peer down at
// start is retried; it is never fatal.
type peerDirectory struct {
	self  shard.PublicKey // our own node, left out
	log   *slog.Logger
	now   func() time.Time // the gateway's clock
	wrap  func(shard.PublicKey, gateway.Peer) gateway.Peer
	mu    sync.Mutex
	peers []*dirPeer
}

type dirPeer struct {
	url    string
	client *node.Client
	peer   gateway.Peer     // client, decorated by wrap once the ID is known
	info   gateway.PeerInfo // zero ID until the first record
	failed bool             // the last refresh failed (logged once)
}

var _ gateway.Directory = (*peerDirectory)(nil)

// newPeerDirectory returns a directory of the peers at urls, asked with
// clients signing as key over hc (nil: their own); wrap, if set, decorates
// the gateway's client of each peer once its ID is known.
func newPeerDirectory(urls []string, key shard.PrivateKey, hc *http.Client,
	wrap func(shard.PublicKey, gateway.Peer) gateway.Peer, log *slog.Logger) *peerDirectory {
	d := &peerDirectory{self: key.Public(), log: log, now: time.Now, wrap: wrap}
	for _, u := range urls {
		d.peers = append(d.peers, &dirPeer{url: u, client: node.NewClient(u, key, hc)})
	}
	return d
}

// Peers returns the peers whose record is known.
func (d *peerDirectory) Peers() []gateway.PeerInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]gateway.PeerInfo, 0, len(d.peers))
	for _, p := range d.peers {
		if !p.info.ID.IsZero() {
			out = append(out, p.info)
		}
	}
	return out
}

// known returns how many peers have a record.
func (d *peerDirectory) known() int { return len(d.Peers()) }

// refresh asks every peer (only the unknown ones if onlyUnknown) for its
// record, in parallel.
func (d *peerDirectory) refresh(ctx context.Context, onlyUnknown bool) {
	var wg sync.WaitGroup
	d.mu.Lock()
	peers := append([]*dirPeer(nil), d.peers...)
	d.mu.Unlock()
	for _, p := range peers {
		d.mu.Lock()
		skip := onlyUnknown && !p.info.ID.IsZero()
		d.mu.Unlock()
		if skip {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
			defer cancel()
			rec, err := p.client.Info(rctx)
			d.mu.Lock()
			defer d.mu.Unlock()
			switch {
			case err != nil:
				if !p.failed && ctx.Err() == nil {
					d.log.Warn("peer unreachable; retrying", "peer", p.url, "err", err)
				}
				p.failed = true
			case rec.Node == d.self:
				if !p.failed {
					d.log.Warn("peer is this node itself; ignored", "peer", p.url)
				}
				p.failed = true
			default:
				if p.failed || p.info.ID.IsZero() {
					d.log.Info("peer reached", "peer", p.url, "node", rec.Node.String(), "free", rec.Free)
				}
				p.failed = false
				if p.peer == nil || p.info.ID != rec.Node {
					p.peer = p.client
					if d.wrap != nil {
						p.peer = d.wrap(rec.Node, p.client)
					}
				}
				p.info = gateway.PeerInfo{ID: rec.Node, Addr: p.url, Free: rec.Free, Seen: d.now(), Peer: p.peer}
			}
		}()
	}
	wg.Wait()
}

// run refreshes until ctx ends.
func (d *peerDirectory) run(ctx context.Context) {
	last := time.Now()
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			all := now.Sub(last) >= refreshEvery
			if all {
				last = now
			}
			d.refresh(ctx, !all)
		}
	}
}

// addressBlocks counts the distinct address blocks of peers, as the
// gateway's address diversity sees them.
func addressBlocks(peers []gateway.PeerInfo) int {
	seen := make(map[string]bool)
	for _, p := range peers {
		seen[gateway.AddressBlock(p.Addr)] = true
	}
	return len(seen)
}

// warnPlacement logs why uploads are bound to fail with the peers known.
func warnPlacement(log *slog.Logger, cfg *Config, peers []gateway.PeerInfo) {
	n := cfg.Gateway.Params.N
	switch {
	case len(peers) < n:
		log.Warn("fewer reachable peers than shards per segment: uploads fail until more are reachable",
			"peers", len(peers), "n", n)
	case cfg.Gateway.AddressDiversity && addressBlocks(peers) < n:
		log.Warn("address diversity is on but the peers span fewer address blocks than shards per segment: uploads will fail; "+
			"set gateway.address_diversity = false for peers on one network", "blocks", addressBlocks(peers), "n", n)
	}
}
