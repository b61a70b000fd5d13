package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"ishtar/cmd/ishtar/daemon"
)

// Config is everything a command runs with: the daemon's configuration
// and the logging settings. Values come from, in increasing precedence:
// Defaults, the TOML file, ISHTAR_* environment variables and command-line
// flags (see load.go); settings lists every one.
type Config struct {
	daemon.Config
	LogLevel  slog.Level
	LogFormat string // "text" or "json"
}

// Defaults fills c with the default of every setting.
func (c *Config) Defaults() {
	c.Config.Defaults()
	c.Admin = daemon.DefaultAdmin // the daemon package leaves it off (tests, devnet's storage nodes)
	c.LogLevel = slog.LevelInfo
	c.LogFormat = "text"
}

// Validate reports the first invalid setting, by its TOML name.
func (c *Config) Validate() error {
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log.format: %q is neither text nor json", c.LogFormat)
	}
	return c.Config.Validate()
}

// setting is one configuration value: its TOML key, environment variable
// (ISHTAR_ and the key in upper case, dots as underscores), flag, and how
// it is stored in a Config.
type setting struct {
	key    string
	flag   string // "" when there is none
	usage  string
	isBool bool
	list   bool // repeatable flag, TOML array, comma-separated env
	set    func(c *Config, vals []string) error
	get    func(c *Config) any // the value as TOML writes it
}

func (s setting) env() string {
	return "ISHTAR_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(s.key))
}

func strSetting(key, flag, usage string, p func(*Config) *string) setting {
	return setting{key: key, flag: flag, usage: usage, set: func(c *Config, v []string) error {
		*p(c) = v[len(v)-1]
		return nil
	}, get: func(c *Config) any { return *p(c) }}
}

func listSetting(key, flag, usage string, p func(*Config) *[]string) setting {
	return setting{key: key, flag: flag, usage: usage, list: true, set: func(c *Config, v []string) error {
		*p(c) = append([]string(nil), v...)
		return nil
	}, get: func(c *Config) any { return append([]string{}, *p(c)...) }}
}

func sizeSetting(key, flag, usage string, p func(*Config) *int64) setting {
	return setting{key: key, flag: flag, usage: usage, set: func(c *Config, v []string) error {
		n, err := parseSize(v[len(v)-1])
		*p(c) = n
		return err
	}, get: func(c *Config) any { return sizeText(*p(c)) }}
}

func intSetting(key, flag, usage string, p func(*Config) *int) setting {
	return setting{key: key, flag: flag, usage: usage, set: func(c *Config, v []string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v[len(v)-1]))
		if err != nil {
			return fmt.Errorf("%q is not an integer", v[len(v)-1])
		}
		*p(c) = n
		return nil
	}, get: func(c *Config) any { return *p(c) }}
}

func floatSetting(key, flag, usage string, p func(*Config) *float64) setting {
	return setting{key: key, flag: flag, usage: usage, set: func(c *Config, v []string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v[len(v)-1]), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v[len(v)-1])
		}
		*p(c) = f
		return nil
	}, get: func(c *Config) any { return *p(c) }}
}

func durSetting(key, flag, usage string, p func(*Config) *time.Duration) setting {
	return setting{key: key, flag: flag, usage: usage, set: func(c *Config, v []string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v[len(v)-1]))
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 10m, 2h)", v[len(v)-1])
		}
		*p(c) = d
		return nil
	}, get: func(c *Config) any { return p(c).String() }}
}

func boolSetting(key, flag, usage string, p func(*Config) *bool) setting {
	return setting{key: key, flag: flag, usage: usage, isBool: true, set: func(c *Config, v []string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v[len(v)-1]))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v[len(v)-1])
		}
		*p(c) = b
		return nil
	}, get: func(c *Config) any { return *p(c) }}
}

// settings lists every configuration value.
var settings = []setting{
	strSetting("data", "data", "`DIR` holding the identity, catalog and shards (default ~/.ishtar)", func(c *Config) *string { return &c.Data }),
	strSetting("listen", "listen", "listen for peers on `ADDR` (default 127.0.0.1:7070)", func(c *Config) *string { return &c.Listen }),
	strSetting("advertise", "advertise", "the node's public base `URL` (default http://<listen>)", func(c *Config) *string { return &c.Advertise }),
	listSetting("network.bootstrap", "bootstrap", "learn the network from the peer at base `URL` (repeatable)", func(c *Config) *[]string { return &c.Network.Bootstrap }),
	listSetting("peers", "peer", "the same as --bootstrap (`URL`, repeatable)", func(c *Config) *[]string { return &c.Network.Bootstrap }),
	listSetting("network.trackers", "tracker", "announce to and ask the tracker at base `URL` (repeatable); alone (no URL), run this node as a tracker", func(c *Config) *[]string { return &c.Network.Trackers }),
	boolSetting("network.tracker", "tracker-mode", "run this node as a tracker: it collects and hands out node records, stores no shards and runs no gateway (also: --tracker alone)", func(c *Config) *bool { return &c.Network.Tracker }),
	durSetting("network.exchange_interval", "exchange-interval", "exchange peer records every `DURATION` (default 30s)", func(c *Config) *time.Duration { return &c.Network.ExchangeInterval }),
	sizeSetting("capacity", "capacity", "`SIZE` of the space offered to others, and of your quota (default 10GiB)", func(c *Config) *int64 { return &c.Capacity }),
	strSetting("s3.listen", "s3", "serve the S3 endpoint on `ADDR` (default 127.0.0.1:9000)", func(c *Config) *string { return &c.S3Listen }),
	strSetting("admin", "admin", "serve metrics, health checks and the status page on `ADDR` (default 127.0.0.1:9001; empty: off)", func(c *Config) *string { return &c.Admin }),
	strSetting("s3.region", "s3-region", "S3 `REGION` (default us-east-1)", func(c *Config) *string { return &c.S3.Region }),
	strSetting("s3.base_domain", "s3-base-domain", "serve virtual-host-style requests for BUCKET.`DOMAIN`", func(c *Config) *string { return &c.S3.BaseDomain }),
	{key: "log.level", flag: "log-level", usage: "log `LEVEL`: debug, info, warn or error (default info)", set: func(c *Config, v []string) error {
		return c.LogLevel.UnmarshalText([]byte(v[len(v)-1]))
	}, get: func(c *Config) any { return strings.ToLower(c.LogLevel.String()) }},
	strSetting("log.format", "log-format", "log `FORMAT`: text or json (default text)", func(c *Config) *string { return &c.LogFormat }),
	durSetting("node.clock_window", "", "", func(c *Config) *time.Duration { return &c.Node.ClockWindow }),
	sizeSetting("node.max_shard_size", "", "", func(c *Config) *int64 { return &c.Node.MaxShardSize }),
	durSetting("node.max_lease", "", "", func(c *Config) *time.Duration { return &c.Node.MaxLease }),
	durSetting("node.lease_grace", "", "", func(c *Config) *time.Duration { return &c.Node.LeaseGrace }),
	durSetting("node.request_timeout", "", "", func(c *Config) *time.Duration { return &c.Node.RequestTimeout }),
	sizeSetting("node.min_rate", "", "", func(c *Config) *int64 { return &c.Node.MinRate }),
	boolSetting("node.allow_anonymous_reads", "", "", func(c *Config) *bool { return &c.Node.AllowAnonymousReads }),
	intSetting("node.max_nonces", "", "", func(c *Config) *int { return &c.Node.MaxNonces }),
	intSetting("node.uploads_per_peer", "", "", func(c *Config) *int { return &c.Node.Limits.UploadsPerPeer }),
	intSetting("node.uploads_per_block", "", "", func(c *Config) *int { return &c.Node.Limits.UploadsPerBlock }),
	intSetting("node.uploads", "", "", func(c *Config) *int { return &c.Node.Limits.Uploads }),
	sizeSetting("node.inflight_per_peer", "", "", func(c *Config) *int64 { return &c.Node.Limits.InflightPerPeer }),
	sizeSetting("node.inflight_per_block", "", "", func(c *Config) *int64 { return &c.Node.Limits.InflightPerBlock }),
	floatSetting("node.peer_rate", "", "", func(c *Config) *float64 { return &c.Node.Limits.PeerRate }),
	floatSetting("node.block_rate", "", "", func(c *Config) *float64 { return &c.Node.Limits.BlockRate }),
	intSetting("node.conns_per_block", "", "", func(c *Config) *int { return &c.Node.Limits.ConnsPerBlock }),
	intSetting("node.conns", "", "", func(c *Config) *int { return &c.Node.Limits.Conns }),
	sizeSetting("node.credit_grace", "", "", func(c *Config) *int64 { return &c.Node.Credit.Grace }),
	boolSetting("node.delegate", "", "", func(c *Config) *bool { return &c.Delegation }),
	intSetting("node.delegation_depth", "", "", func(c *Config) *int { return &c.Node.Delegate.MaxDepth }),
	floatSetting("node.stranger_share", "", "", func(c *Config) *float64 { return &c.Node.Credit.StrangerShare }),
	intSetting("gateway.k", "k", "any `K` shards of a segment rebuild it (default 10, and 3 while fewer than 30 peers in distinct address blocks can take shards)", func(c *Config) *int { return &c.Gateway.Params.K }),
	intSetting("gateway.n", "n", "`N` shards per segment, on N distinct peers (default 30, or 5 as for k)", func(c *Config) *int { return &c.Gateway.Params.N }),
	sizeSetting("gateway.segment_size", "segment-size", "objects are cut into segments of `SIZE` (default 16MiB)", func(c *Config) *int64 { return &c.Gateway.SegmentSize }),
	intSetting("gateway.concurrency", "", "", func(c *Config) *int { return &c.Gateway.Concurrency }),
	sizeSetting("gateway.inline_max", "", "", func(c *Config) *int64 { return &c.Gateway.InlineMax }),
	intSetting("gateway.min_acks", "", "", func(c *Config) *int { return &c.Gateway.MinAcks }),
	durSetting("gateway.lease", "", "", func(c *Config) *time.Duration { return &c.Gateway.Lease }),
	durSetting("gateway.upkeep_interval", "", "", func(c *Config) *time.Duration { return &c.Upkeep.Interval }),
	durSetting("gateway.audit_interval", "", "", func(c *Config) *time.Duration { return &c.Upkeep.AuditInterval }),
	durSetting("gateway.offline_grace", "", "", func(c *Config) *time.Duration { return &c.Upkeep.OfflineGrace }),
	intSetting("gateway.repair_threshold", "", "", func(c *Config) *int { return &c.Upkeep.RepairThreshold }),
	sizeSetting("gateway.audit_rate", "", "", func(c *Config) *int64 { return &c.Upkeep.AuditRate }),
	sizeSetting("gateway.repair_rate", "", "", func(c *Config) *int64 { return &c.Upkeep.RepairRate }),
	boolSetting("gateway.backup", "", "", func(c *Config) *bool { return &c.Upkeep.Backup }),
	durSetting("gateway.backup_lag", "", "", func(c *Config) *time.Duration { return &c.Upkeep.BackupLag }),
	durSetting("gateway.hedge_after", "", "", func(c *Config) *time.Duration { return &c.Gateway.HedgeAfter }),
	durSetting("gateway.request_timeout", "", "", func(c *Config) *time.Duration { return &c.Gateway.RequestTimeout }),
	intSetting("gateway.put_attempts", "", "", func(c *Config) *int { return &c.Gateway.PutAttempts }),
	durSetting("gateway.backoff", "", "", func(c *Config) *time.Duration { return &c.Gateway.Backoff }),
	durSetting("gateway.backoff_max", "", "", func(c *Config) *time.Duration { return &c.Gateway.BackoffMax }),
	durSetting("gateway.full_hold", "", "", func(c *Config) *time.Duration { return &c.Gateway.FullHold }),
	durSetting("gateway.busy_max", "", "", func(c *Config) *time.Duration { return &c.Gateway.BusyMax }),
	durSetting("gateway.release_delay", "", "", func(c *Config) *time.Duration { return &c.Gateway.ReleaseDelay }),
	boolSetting("gateway.address_diversity", "", "", func(c *Config) *bool { return &c.Gateway.AddressDiversity }),
	boolSetting("gateway.allow_self", "", "", func(c *Config) *bool { return &c.Gateway.AllowSelf }),
}

func findSetting(key string) (setting, bool) {
	for _, s := range settings {
		if s.key == key {
			return s, true
		}
	}
	return setting{}, false
}
