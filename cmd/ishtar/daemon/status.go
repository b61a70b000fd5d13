package daemon

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"ishtar/gateway/backup"
	"ishtar/gateway/upkeep"
	"ishtar/node"
	"ishtar/node/peers"
)

// Status is the answer of the status query and of the admin listener's
// /api/status: the owner's data by health, and one object per section.
// `ishtar status` prints each section; the status page draws the ones it
// knows and lists the fields of any other object as they are, so a new
// section is one more field here (and, for a picture, a few lines there).
type Status struct {
	upkeep.Survey
	Backup backup.Status `json:"backup"`
	Node   node.Usage    `json:"node"`   // space given to others
	Space  Space         `json:"space"`  // space used by the owner
	Peers  PeersStatus   `json:"peers"`  // the peers relied on
	Health Health        `json:"health"` // what `ishtar status` exits non-zero for
	// Exchange is the ledger of fair exchange: what others hold for the
	// owner, on grace, delegated, and the top counterparts' credit
	// (statusTop of them).
	Exchange Exchange `json:"exchange"`
	// Errors are the last warnings and errors the daemon logged.
	Errors []LogEntry `json:"errors"`
}

// Space is what the owner stores on the network.
type Space struct {
	Objects      int64 `json:"objects"`
	LogicalBytes int64 `json:"logical_bytes"` // as clients see them
	StoredBytes  int64 `json:"stored_bytes"`  // on peers, after erasure expansion
	InlineBytes  int64 `json:"inline_bytes"`  // small objects in the catalog
	Quota        int64 `json:"quota"`         // at most StoredBytes+InlineBytes
}

// PeersStatus counts the peers and lists the verified ones.
type PeersStatus struct {
	Known     int `json:"known"`     // verified or heard of
	Verified  int `json:"verified"`  // answered at their address
	Placeable int `json:"placeable"` // fit for new shards
	Online    int `json:"online"`    // verified and answering now
	// Availability is the chance that at least k of n peers of a segment
	// answer, if each does as often as the verified peers did on average
	// (their uptime over 30 days); 0 without peers.
	Availability float64 `json:"availability"`
	// List holds the verified peers, most available first (at most
	// maxStatusPeers).
	List []PeerStatus `json:"list"`
}

// PeerStatus is one peer as the status shows it.
type PeerStatus struct {
	ID         string    `json:"id"`
	Address    string    `json:"address"`
	Uptime     float64   `json:"uptime"`     // of its last 30 days' contacts
	Reputation float64   `json:"reputation"` // 1 for a peer never caught lying
	LastSeen   time.Time `json:"last_seen"`
	Online     bool      `json:"online"`
	Placeable  bool      `json:"placeable"`
	Why        string    `json:"why,omitempty"` // why not placeable
	Free       int64     `json:"free"`
}

// statusTop is how many counterparts the status lists.
const statusTop = 10

// maxStatusPeers bounds the peers a status lists.
const maxStatusPeers = 200

// Health says whether the daemon is healthy and, if not, why.
type Health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// status gathers every section; a storage-only daemon has no survey,
// space or backup to show.
func (d *Daemon) status(ctx context.Context) (Status, error) {
	var st Status
	var err error
	if st.Node, err = d.node.Usage(); err != nil {
		return st, err
	}
	if st.Exchange, err = d.exchange(statusTop); err != nil {
		return st, err
	}
	st.Peers = d.peersStatus()
	if d.up != nil {
		if st.Survey, err = d.up.Survey(ctx); err != nil {
			return st, err
		}
		st.Exchange.OnNetwork = st.Survey.HeldByPeers
		gs, err := d.gw.Stats(ctx)
		if err != nil {
			return st, err
		}
		st.Space = Space{Objects: gs.Objects, LogicalBytes: gs.LogicalBytes, StoredBytes: gs.StoredBytes,
			InlineBytes: gs.InlineBytes, Quota: gs.Capacity}
		// The code shown is the one new segments get now.
		code := d.gw.Code(-1)
		st.K, st.N = code.K, code.N
		st.Peers.Availability = availability(st.Peers.List, st.K, st.N)
	}
	if d.bk != nil {
		if st.Backup, err = d.bk.Status(); err != nil {
			return st, err
		}
	}
	st.Errors = d.recent.list()
	st.Health.Problems = d.readiness(st.Peers.Placeable, st.Backup)
	if st.Waiting > 0 {
		st.Health.Problems = append(st.Health.Problems, fmt.Sprintf("%d segments have fewer than k=%d shards readable now", st.Waiting, st.K))
	}
	st.Health.OK = len(st.Health.Problems) == 0
	if st.Errors == nil {
		st.Errors = []LogEntry{}
	}
	return st, nil
}

// readiness lists what keeps the daemon from being ready: too few
// placeable peers for n shards, a backup too far behind.
func (d *Daemon) readiness(placeable int, bs backup.Status) []string {
	var problems []string
	if d.gw == nil {
		return nil
	}
	gc := d.cfg.GatewayConfig(d.id.Node.Public())
	if n := gc.MinN(); placeable < n {
		problems = append(problems, fmt.Sprintf("%d placeable peers, fewer than n=%d: uploads cannot place every shard", placeable, n))
	}
	if limit := d.backupLagLimit(); d.bk != nil && bs.Lag > limit {
		problems = append(problems, fmt.Sprintf("the catalog backup is %s behind (more than %s)", bs.Lag.Round(time.Second), limit))
	}
	return problems
}

// backupLagLimit is how far the backup may fall behind before the daemon
// counts as unhealthy: ten times the lag it aims at, at least 10 minutes.
func (d *Daemon) backupLagLimit() time.Duration {
	return max(10*d.cfg.Upkeep.BackupLag, 10*time.Minute)
}

// peersStatus counts the registry's peers and lists the verified ones.
func (d *Daemon) peersStatus() PeersStatus {
	rs := d.reg.Stats()
	ps := PeersStatus{Known: rs.New + rs.Tried, Verified: rs.Tried, Placeable: rs.Placeable}
	list := d.reg.Peers()
	ps.Online = onlinePeers(list)
	slices.SortFunc(list, func(a, b peers.Peer) int {
		if a.Uptime != b.Uptime {
			if a.Uptime > b.Uptime {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.Record.Node[:], b.Record.Node[:])
	})
	ps.List = []PeerStatus{}
	for _, p := range list[:min(len(list), maxStatusPeers)] {
		ps.List = append(ps.List, PeerStatus{ID: p.Record.Node.String(), Address: p.Record.Address, Uptime: p.Uptime,
			Reputation: p.Reputation, LastSeen: p.LastSeen, Online: online(p), Placeable: p.Placeable, Why: p.Why,
			Free: p.Record.Free})
	}
	return ps
}

// online reports whether a verified peer answered its last contact.
func online(p peers.Peer) bool { return p.Tried && p.DownSince.IsZero() && !p.LastSeen.IsZero() }

func onlinePeers(list []peers.Peer) int {
	n := 0
	for _, p := range list {
		if online(p) {
			n++
		}
	}
	return n
}

// availability is P(at least k of n answer) with each answering with the
// peers' mean uptime.
func availability(list []PeerStatus, k, n int) float64 {
	if len(list) == 0 || k <= 0 || n < k {
		return 0
	}
	var p float64
	for _, ps := range list {
		p += ps.Uptime
	}
	p /= float64(len(list))
	var sum float64
	for i := k; i <= n; i++ {
		sum += binomial(n, i) * math.Pow(p, float64(i)) * math.Pow(1-p, float64(n-i))
	}
	return min(sum, 1)
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}
