package daemon

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"ishtar/gateway/upkeep"
	"ishtar/gateway/upkeep/policy"
	"ishtar/node"
	"ishtar/node/peers"
	"ishtar/shard"
)

// Upkeep configures what keeps the owner's data alive (package
// gateway/upkeep): lease renewal, audits and repair; the lease length is
// Gateway.Lease.
type Upkeep struct {
	// Interval is the time between passes (with jitter); default 10 min.
	Interval time.Duration
	// AuditInterval is how often each shard is audited, about; default
	// 14 days.
	AuditInterval time.Duration
	// OfflineGrace is how long a holder may be unreachable before its
	// shards count as lost and are repaired; default 1 h (at most half
	// the lease's renewal window).
	OfflineGrace time.Duration
	// RepairThreshold: a segment is repaired once its healthy shards fall
	// to it; 0: k+1 (k when n = k+1).
	RepairThreshold int
	// AuditRate and RepairRate bound the bytes a second audits and
	// repair move (0: the policy's defaults, 64 KiB/s and 1 MiB/s).
	AuditRate, RepairRate int64
	// Backup turns the catalog backup on (default): without it the
	// recovery phrase recovers nothing. Tests that count every shard
	// stored turn it off. BackupLag bounds how long a change to the
	// catalog waits before it is backed up (gateway/backup); default 30 s.
	Backup    bool
	BackupLag time.Duration
}

// upkeepInterval is the time between upkeep passes: Interval, or half the
// offline grace if that is shorter (a short grace is for tests, whose
// repairs should not wait for a pass), at least a second.
func (c *Config) upkeepInterval() time.Duration {
	return max(time.Second, min(c.Upkeep.Interval, c.PolicyConfig().OfflineGrace/2))
}

// PolicyConfig is the upkeep policy of c: the code and lease of the
// gateway, the rest the policy's defaults. Leases are renewed once less
// than a third of one remains.
func (c *Config) PolicyConfig() policy.Config {
	gc := c.GatewayConfig(shard.PublicKey{})
	pc := policy.DefaultsFor(gc.Params.K, gc.Params.N)
	pc.LeafSize = gc.Params.BlockSize
	pc.Lease, pc.RenewBefore = gc.Lease, gc.Lease/3
	pc.MinAcks = gc.MinAcks
	if c.Upkeep.AuditInterval > 0 {
		pc.AuditInterval = c.Upkeep.AuditInterval
		pc.RecheckAfter = min(pc.RecheckAfter, pc.AuditInterval/2)
	}
	if c.Upkeep.OfflineGrace > 0 {
		pc.OfflineGrace = c.Upkeep.OfflineGrace
	}
	if c.Upkeep.RepairThreshold > 0 {
		pc.RepairThreshold = c.Upkeep.RepairThreshold
	}
	if c.Upkeep.AuditRate > 0 {
		pc.AuditBytesPerSecond = float64(c.Upkeep.AuditRate)
	}
	if c.Upkeep.RepairRate > 0 {
		pc.RepairBytesPerSecond = float64(c.Upkeep.RepairRate)
	}
	// The policy needs a holder away for the grace to be renewable still:
	// short (test) leases get a shorter grace.
	pc.OfflineGrace = min(pc.OfflineGrace, pc.RenewBefore/2)
	return pc
}

// upkeepPeers is upkeep's view of the peers: the registry's entries, and
// this node itself (a holder when gateway.allow_self is on), with a client
// of each pinned to its key.
type upkeepPeers struct {
	reg     *peers.Registry
	key     shard.PrivateKey
	selfURL string
	hc      *http.Client
	grace   time.Duration // policy.Config.OfflineGrace

	mu      sync.Mutex
	clients map[shard.PublicKey]*node.Client
}

func newUpkeepPeers(reg *peers.Registry, key shard.PrivateKey, selfURL string, grace time.Duration, hc *http.Client) *upkeepPeers {
	return &upkeepPeers{reg: reg, key: key, selfURL: selfURL, grace: grace, hc: hc, clients: make(map[shard.PublicKey]*node.Client)}
}

// States maps every known peer to its state. A peer failing since its
// last success is unreachable since its first failure (zero when not
// known: away, never lost by absence alone) while it is in back-off; once
// its back-off is over it counts as reachable, to be tried again (upkeep
// reports the outcome: Contact), unless it has been failing for the
// offline grace.
func (p *upkeepPeers) States(now time.Time) map[policy.PeerID]policy.PeerState {
	all := p.reg.All()
	m := make(map[policy.PeerID]policy.PeerState, len(all))
	for _, e := range all {
		reachable := e.Failures == 0 ||
			(!now.Before(e.RetryAt) && (e.DownSince.IsZero() || now.Sub(e.DownSince) < p.grace))
		m[e.Record.Node] = policy.PeerState{ID: e.Record.Node, Block: e.Block, Reachable: reachable,
			OfflineSince: e.DownSince, LastContact: e.LastTried, Reputation: e.Reputation, Placeable: e.Placeable}
	}
	self := p.key.Public()
	m[self] = policy.PeerState{ID: self, Reachable: true, LastContact: now, Reputation: 1} // never probed
	return m
}

// Penalize lowers the peer's reputation in the registry.
func (p *upkeepPeers) Penalize(id policy.PeerID) { p.reg.Lied(id) }

// Contact records a request's outcome in the peer's history.
func (p *upkeepPeers) Contact(id policy.PeerID, ok bool) {
	if id != p.key.Public() {
		p.reg.Contact(id, ok)
	}
}

// Client returns a client of the peer at its registered address.
func (p *upkeepPeers) Client(id policy.PeerID) upkeep.NodeClient {
	if c := p.client(id); c != nil {
		return c
	}
	return nil // a typed nil would not compare equal to nil
}

// client returns a client of the peer at its registered address, or nil.
func (p *upkeepPeers) client(id shard.PublicKey) *node.Client {
	addr := p.selfURL
	if id != p.key.Public() {
		e, ok := p.reg.Get(id)
		if !ok {
			return nil
		}
		addr = strings.TrimRight(e.Record.Address, "/")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[id]
	if c == nil || c.BaseURL() != addr {
		if len(p.clients) >= 4096 {
			clear(p.clients) // clients are cheap to make
		}
		c = node.NewClient(addr, p.key, p.hc, node.WithPeerID(id))
		p.clients[id] = c
	}
	return c
}
