package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ishtar/gateway"
	"ishtar/gateway/upkeep/policy"
	"ishtar/node"
	"ishtar/s3api"
	"ishtar/shard"
)

// Config is everything one daemon runs with: its own settings and the
// packages' Config structs. Errors of Validate name settings by their
// TOML keys ("listen", "gateway.k").
type Config struct {
	Data      string // data directory: DIR/catalog, DIR/shards
	Listen    string // peer protocol listen address, host:port
	Advertise string // the node's public base URL; default http://<listen>
	Capacity  int64  // bytes offered to others; also the owner's quota
	S3Listen  string // S3 endpoint listen address, host:port
	// Delegation lets the node forward shards it has no room for to its
	// peers (node.Delegate), under its owner's grant.
	Delegation bool
	// Admin is the admin listener's address, host:port (metrics, health,
	// the status page: see admin.go); "" for none. Defaults leaves it
	// off: `ishtar serve` turns it on at DefaultAdmin.
	Admin string
	// StorageOnly runs a node without a gateway or S3 endpoint (the
	// storage nodes of a devnet).
	StorageOnly bool
	Network     Network

	Node    node.Config
	Gateway gateway.Config // Self is this node; Capacity 0 means Capacity above
	Upkeep  Upkeep
	S3      s3api.Config
}

// Network is how a node finds its peers.
type Network struct {
	// Bootstrap lists peers' base URLs to learn the network from at
	// start (any reachable peer will do).
	Bootstrap []string
	// Trackers lists well-known nodes that collect and hand out records:
	// this node announces itself to them and asks them every round.
	Trackers []string
	// ExchangeInterval is the time between rounds of peer exchange
	// (with jitter); default 30 s, at least 1 s.
	ExchangeInterval time.Duration
	// Tracker runs this node as a tracker: it serves and collects node
	// records, and stores no shards and runs no gateway.
	Tracker bool
}

// DefaultAdmin is the admin listener's address of `ishtar serve` and
// `ishtar devnet` unless set.
const DefaultAdmin = "127.0.0.1:9001"

// Defaults fills c with the default of every setting.
func (c *Config) Defaults() {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		c.Data = filepath.Join(home, ".ishtar")
	}
	c.Listen = "127.0.0.1:7070"
	c.S3Listen = "127.0.0.1:9000"
	c.Capacity = 10 << 30
	c.Delegation = true
	c.Node.Defaults()
	c.Gateway.Defaults()
	// k and n unset mean 10 of 30 once 30 peers in distinct address
	// blocks can take a segment's shards, 3 of 5 until then (gateway
	// Config.Fallback); set, they are the code of every segment.
	c.Gateway.Params.K, c.Gateway.Params.N, c.Gateway.Fallback = 0, 0, shard.Params{}
	c.Gateway.MinAcks = 0 // 0 means k+1 (at most n), whatever k and n end up being
	c.Gateway.AddressDiversity = true
	c.Gateway.InlineMax = gateway.DefaultInlineMax // 0 is a setting: none inline
	c.S3.Region = "us-east-1"
	c.Network.ExchangeInterval = 30 * time.Second
	c.Upkeep.Interval = 10 * time.Minute
	c.Upkeep.AuditInterval = policy.Defaults().AuditInterval
	c.Upkeep.OfflineGrace = policy.Defaults().OfflineGrace
	c.Upkeep.AuditRate = int64(policy.Defaults().AuditBytesPerSecond)
	c.Upkeep.RepairRate = int64(policy.Defaults().RepairBytesPerSecond)
	c.Upkeep.Backup, c.Upkeep.BackupLag = true, 30*time.Second
}

// Validate reports the first invalid setting, by its TOML name.
func (c *Config) Validate() error {
	bad := func(key string, err error) error { return fmt.Errorf("%s: %w", key, err) }
	if c.Data == "" {
		return bad("data", errors.New("no data directory (use --data DIR or ISHTAR_DATA)"))
	}
	if err := checkHostPort(c.Listen); err != nil {
		return bad("listen", err)
	}
	if err := checkHostPort(c.S3Listen); err != nil {
		return bad("s3.listen", err)
	}
	if c.Admin != "" {
		if err := checkHostPort(c.Admin); err != nil {
			return bad("admin", err)
		}
	}
	if c.Advertise != "" {
		if err := CheckBaseURL(c.Advertise); err != nil {
			return bad("advertise", err)
		}
	}
	for _, p := range c.Network.Bootstrap {
		if err := CheckBaseURL(p); err != nil {
			return bad("network.bootstrap", err)
		}
	}
	for _, p := range c.Network.Trackers {
		if err := CheckBaseURL(p); err != nil {
			return bad("network.trackers", err)
		}
	}
	if c.Network.ExchangeInterval < time.Second {
		return bad("network.exchange_interval", fmt.Errorf("%v is under a second", c.Network.ExchangeInterval))
	}
	if c.Capacity <= 0 {
		return bad("capacity", fmt.Errorf("must be positive, not %d", c.Capacity))
	}
	if c.S3.Region == "" {
		return bad("s3.region", errors.New("empty"))
	}
	gc := c.GatewayConfig(shard.PublicKey{})
	if err := gc.Validate(); err != nil {
		return err // "gateway: config: ..." names the part
	}
	if c.Upkeep.Interval < time.Second {
		return bad("gateway.upkeep_interval", fmt.Errorf("%v is under a second", c.Upkeep.Interval))
	}
	switch {
	case c.Upkeep.AuditInterval < 0:
		return bad("gateway.audit_interval", fmt.Errorf("%v is negative", c.Upkeep.AuditInterval))
	case c.Upkeep.OfflineGrace < 0:
		return bad("gateway.offline_grace", fmt.Errorf("%v is negative", c.Upkeep.OfflineGrace))
	case c.Upkeep.RepairThreshold < 0:
		return bad("gateway.repair_threshold", fmt.Errorf("%d is negative", c.Upkeep.RepairThreshold))
	case c.Upkeep.AuditRate < 0:
		return bad("gateway.audit_rate", fmt.Errorf("%d is negative", c.Upkeep.AuditRate))
	case c.Upkeep.RepairRate < 0:
		return bad("gateway.repair_rate", fmt.Errorf("%d is negative", c.Upkeep.RepairRate))
	case c.Upkeep.BackupLag < 0:
		return bad("gateway.backup_lag", fmt.Errorf("%v is negative", c.Upkeep.BackupLag))
	}
	if _, err := policy.New(c.PolicyConfig()); err != nil {
		return fmt.Errorf("gateway: upkeep: %w", err)
	}
	// The node config is checked as it will run; its key and address are
	// only known later, so stand-ins take their place here.
	nc := c.NodeConfig(shard.PrivateKey{}, "")
	if err := nc.Validate(); err != nil {
		return err // "node: config: ..." names the part
	}
	return nil
}

// NodeConfig returns the node's configuration with its key and address;
// a zero key or empty address gets a placeholder (for Validate).
func (c *Config) NodeConfig(key shard.PrivateKey, addr string) node.Config {
	nc := c.Node
	nc.Key, nc.Capacity, nc.Address = key, c.Capacity, addr
	// Defaults set both; a zero left is the user's: none.
	if nc.Credit.Grace == 0 {
		nc.Credit.Grace = -1
	}
	if nc.Credit.StrangerShare == 0 {
		nc.Credit.StrangerShare = -1
	}
	if nc.Key.IsZero() {
		nc.Key, _ = shard.PrivateKeyFromSeed(make([]byte, shard.SeedSize))
	}
	if nc.Address == "" {
		nc.Address = c.advertise(c.Listen)
	}
	return nc
}

// GatewayConfig returns the gateway's configuration with the owner's own
// node filled in, the quota (Gateway.Capacity if set, else what the node
// offers: Capacity), and min_acks (Gateway.MinAcks if set, within each
// code's k..n when k and n are the defaults; else k+1).
func (c *Config) GatewayConfig(self shard.PublicKey) gateway.Config {
	gc := c.Gateway
	gc.Self = self
	if gc.Capacity == 0 {
		gc.Capacity = c.Capacity
	}
	gc.Defaults()
	switch m := c.Gateway.MinAcks; {
	case m == 0:
		// Degraded writes: a segment commits with k+1 shards stored and
		// repair places the rest (the fallback code likewise).
		gc.MinAcks = min(gc.Params.K+1, gc.Params.N)
	case gc.Fallback.N > 0:
		// One setting for both default codes: each within its k..n.
		gc.MinAcks = max(gc.Params.K, min(m, gc.Params.N))
		gc.FallbackMinAcks = max(gc.Fallback.K, min(m, gc.Fallback.N))
	}
	return gc
}

// advertise is the node's public base URL given the address it listens on.
func (c *Config) advertise(listen string) string {
	if c.Advertise != "" {
		return strings.TrimRight(c.Advertise, "/")
	}
	return "http://" + listen
}

func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}

// CheckBaseURL checks an http(s)://host:port base URL.
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s)://host:port URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: a base URL has no query, fragment or user", s)
	}
	return nil
}
