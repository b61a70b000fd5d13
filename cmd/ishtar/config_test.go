package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ishtar/shard"
)

// loadWith builds a Config from args, an environment and an optional file.
func loadWith(t *testing.T, args []string, environ map[string]string, file string) (Config, error) {
	t.Helper()
	dir := t.TempDir()
	if file != "" {
		if err := os.WriteFile(filepath.Join(dir, configFile), []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l := newLoader("serve", nil, func(k string) (string, bool) { v, ok := environ[k]; return v, ok })
	if err := l.parse(append([]string{"--data", dir}, args...)); err != nil {
		return Config{}, err
	}
	return l.load()
}

func TestConfigPrecedence(t *testing.T) {
	const file = `
capacity = "1GiB"
peers = ["http://f1:1", "http://f2:2"]
[log]
level = "warn"
[node]
request_timeout = "45s"
`
	env := map[string]string{"ISHTAR_CAPACITY": "2GiB", "ISHTAR_PEERS": "http://e1:1, http://e2:2"}
	flags := []string{"--capacity", "3GiB", "--peer", "http://a:1", "--peer", "http://b:2"}

	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		file     string
		capacity int64
		peers    []string
	}{
		{"defaults", nil, nil, "", 10 << 30, nil},
		{"file", nil, nil, file, 1 << 30, []string{"http://f1:1", "http://f2:2"}},
		{"env over file", nil, env, file, 2 << 30, []string{"http://e1:1", "http://e2:2"}},
		{"flags over env", flags, env, file, 3 << 30, []string{"http://a:1", "http://b:2"}},
		{"flags over file", flags, nil, file, 3 << 30, []string{"http://a:1", "http://b:2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, tc.args, tc.env, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if c.Capacity != tc.capacity || !slices.Equal(c.Network.Bootstrap, tc.peers) {
				t.Errorf("capacity %d, peers %q; want %d, %q", c.Capacity, c.Network.Bootstrap, tc.capacity, tc.peers)
			}
			if tc.file != "" && (c.LogLevel != slog.LevelWarn || c.Node.RequestTimeout != 45*time.Second) {
				t.Errorf("file values lost: level %v, request timeout %v", c.LogLevel, c.Node.RequestTimeout)
			}
		})
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		file  string
		want  string
		usage bool
	}{
		{"flag value", []string{"--capacity", "huge"}, nil, "", `--capacity: invalid size "huge"`, true},
		{"unknown flag", []string{"--capacityy", "1"}, nil, "", "flag provided but not defined: -capacityy", true},
		{"env value", nil, map[string]string{"ISHTAR_NODE_CLOCK_WINDOW": "soon"}, "", `ISHTAR_NODE_CLOCK_WINDOW: "soon" is not a duration`, false},
		{"file key", nil, nil, "[s3]\nregoin = \"x\"\n", `unknown setting "s3.regoin"`, false},
		{"file top key", nil, nil, "bogus = 1\n", `unknown setting "bogus"`, false},
		{"file type", nil, nil, "[node]\nallow_anonymous_reads = \"maybe\"\n", `node.allow_anonymous_reads: "maybe" is not true or false`, false},
		{"file array", nil, nil, "capacity = [1, 2]\n", "capacity: must be a single value", false},
		{"file date", nil, nil, "listen = 1979-05-27\n", "listen: unsupported value", false},
		{"log format", []string{"--log-format", "xml"}, nil, "", `log.format: "xml" is neither text nor json`, false},
		{"s3 listen", []string{"--s3", "127.0.0.1"}, nil, "", `s3.listen: "127.0.0.1" is not host:port`, false},
		{"port", []string{"--listen", "127.0.0.1:99999"}, nil, "", `listen: "127.0.0.1:99999" has no valid port`, false},
		{"advertise", []string{"--advertise", "127.0.0.1:7070"}, nil, "", "advertise: ", false},
		{"peer query", []string{"--peer", "http://a:1/?x=1"}, nil, "", "network.bootstrap: ", false},
		{"region", []string{"--s3-region", ""}, nil, "", "s3.region: empty", false},
		{"node", nil, nil, "[node]\nmax_shard_size = 0\n", "node: config: size limits must be positive", false},
		{"inline max", nil, nil, "[gateway]\ninline_max = \"65KiB\"\n", "gateway: config: inline max 66560 not in [0, 65536]", false},
		{"stranger share", nil, map[string]string{"ISHTAR_NODE_STRANGER_SHARE": "1.5"}, "", "node: config: stranger share 1.5 above 1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWith(t, tc.args, tc.env, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			var ue *usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error: %v, want %v", !tc.usage, tc.usage)
			}
		})
	}
}

// gateway.inline_max: 4 KiB unless set; 0 (no object inline) is kept.
func TestConfigInlineMax(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		file string
		want int64
	}{
		{nil, "", 4 << 10},
		{map[string]string{"ISHTAR_GATEWAY_INLINE_MAX": "0"}, "", 0},
		{nil, "[gateway]\ninline_max = \"1KiB\"\n", 1 << 10},
	} {
		c, err := loadWith(t, nil, tc.env, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.GatewayConfig([32]byte{}).InlineMax; got != tc.want {
			t.Errorf("env %v, file %q: inline max %d, want %d", tc.env, tc.file, got, tc.want)
		}
	}
}

// gateway.k, gateway.n and gateway.min_acks: unset, 10 of 30 with a
// fallback of 3 of 5, each committing at k+1; min_acks alone applies to
// both codes within their k..n; k and n set leave no fallback.
func TestConfigCode(t *testing.T) {
	for _, tc := range []struct {
		env                  map[string]string
		k, n, acks           int
		fk, fn, fallbackAcks int // of the fallback code; acks 0: k+1, as the wide code's
	}{
		{nil, 10, 30, 11, 3, 5, 0},
		{map[string]string{"ISHTAR_GATEWAY_MIN_ACKS": "5"}, 10, 30, 10, 3, 5, 5},
		{map[string]string{"ISHTAR_GATEWAY_MIN_ACKS": "25"}, 10, 30, 25, 3, 5, 5},
		{map[string]string{"ISHTAR_GATEWAY_K": "4", "ISHTAR_GATEWAY_N": "8"}, 4, 8, 5, 0, 0, 0},
		{map[string]string{"ISHTAR_GATEWAY_K": "4", "ISHTAR_GATEWAY_N": "8", "ISHTAR_GATEWAY_MIN_ACKS": "8"}, 4, 8, 8, 0, 0, 0},
	} {
		c, err := loadWith(t, nil, tc.env, "")
		if err != nil {
			t.Fatal(err)
		}
		gc := c.GatewayConfig([32]byte{})
		if err := gc.Validate(); err != nil {
			t.Fatalf("env %v: %v", tc.env, err)
		}
		if gc.Params.K != tc.k || gc.Params.N != tc.n || gc.MinAcks != tc.acks || gc.Fallback.K != tc.fk || gc.Fallback.N != tc.fn {
			t.Errorf("env %v: %d of %d acks %d, fallback %+v, want %d of %d acks %d, fallback %d of %d",
				tc.env, gc.Params.K, gc.Params.N, gc.MinAcks, gc.Fallback, tc.k, tc.n, tc.acks, tc.fk, tc.fn)
		}
		if tc.fn > 0 && gc.MinN() != tc.fn {
			t.Errorf("env %v: min n %d", tc.env, gc.MinN())
		}
		if got := gc.FallbackMinAcks; got != tc.fallbackAcks {
			t.Errorf("env %v: fallback min acks %d, want %d", tc.env, got, tc.fallbackAcks)
		}
	}
}

func TestConfigValidateDefaults(t *testing.T) {
	var c Config
	c.Defaults()
	c.Data = "/tmp/x"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	c.Data = ""
	if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "data: ") {
		t.Fatalf("empty data dir: %v", err)
	}
}

func TestEverySettingRoundTrips(t *testing.T) {
	var c Config
	c.Defaults()
	for _, s := range settings {
		if s.get == nil || s.set == nil {
			t.Fatalf("setting %s lacks get or set", s.key)
		}
		if strings.Count(s.key, ".") > 1 || s.env() != "ISHTAR_"+strings.ToUpper(strings.ReplaceAll(s.key, ".", "_")) {
			t.Errorf("setting %s: env %s", s.key, s.env())
		}
		vals, err := tomlStrings(s.get(&c), s.list)
		if err != nil {
			t.Fatalf("%s: %v", s.key, err)
		}
		if len(vals) == 0 {
			continue
		}
		before := s.get(&c)
		if err := s.set(&c, vals); err != nil {
			t.Errorf("%s: set(get()) = %v", s.key, err)
		}
		if after := s.get(&c); !equalAny(before, after) {
			t.Errorf("%s: %v became %v", s.key, before, after)
		}
	}
}

func equalAny(a, b any) bool {
	as, ok1 := a.([]string)
	bs, ok2 := b.([]string)
	if ok1 && ok2 {
		return slices.Equal(as, bs)
	}
	return a == b
}

// --tracker takes a tracker's URL; alone, it runs this node as a tracker.
func TestTrackerFlag(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		trackers []string
		mode     bool
	}{
		{[]string{"--tracker", "http://t:1", "--tracker", "http://u:2"}, []string{"http://t:1", "http://u:2"}, false},
		{[]string{"--tracker"}, nil, true},
		{[]string{"--tracker", "--capacity", "1GiB"}, nil, true},
		{[]string{"--tracker-mode", "--tracker", "http://t:1"}, []string{"http://t:1"}, true},
		{[]string{"--bootstrap", "http://b:1", "--exchange-interval", "2s"}, nil, false},
	} {
		c, err := loadWith(t, tc.args, nil, "")
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(c.Network.Trackers, tc.trackers) || c.Network.Tracker != tc.mode {
			t.Errorf("%q: trackers %q, tracker mode %v; want %q, %v", tc.args, c.Network.Trackers, c.Network.Tracker, tc.trackers, tc.mode)
		}
	}
	if _, err := loadWith(t, []string{"--exchange-interval", "10ms"}, nil, ""); err == nil || !strings.Contains(err.Error(), "network.exchange_interval") {
		t.Fatalf("an exchange interval under a second: %v", err)
	}
}

// node.credit_grace and node.stranger_share: the defaults unless set; 0 is
// kept (no grace, no strangers) and reaches the node as "none".
func TestConfigCredit(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		file  string
		grace int64
		share float64
	}{
		{nil, "", 256 << 20, 0.1},
		{map[string]string{"ISHTAR_NODE_CREDIT_GRACE": "1GiB", "ISHTAR_NODE_STRANGER_SHARE": "0.5"}, "", 1 << 30, 0.5},
		{nil, "[node]\ncredit_grace = \"0\"\nstranger_share = 0\n", -1, -1},
	} {
		c, err := loadWith(t, nil, tc.env, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		nc := c.NodeConfig(shard.PrivateKey{}, "")
		if nc.Credit.Grace != tc.grace || nc.Credit.StrangerShare != tc.share {
			t.Errorf("env %v, file %q: grace %d, share %v; want %d, %v", tc.env, tc.file, nc.Credit.Grace, nc.Credit.StrangerShare, tc.grace, tc.share)
		}
	}
}

// The admin listener: on at 127.0.0.1:9001 by default, set by TOML,
// ISHTAR_ADMIN or --admin, off when empty (flag or file: an empty
// variable counts as unset), checked as host:port.
func TestConfigAdmin(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		file    string
		want    string
		wantErr string
	}{
		{"default", nil, nil, "", "127.0.0.1:9001", ""},
		{"file", nil, nil, "admin = \"127.0.0.1:9100\"\n", "127.0.0.1:9100", ""},
		{"env over file", nil, map[string]string{"ISHTAR_ADMIN": "127.0.0.1:9200"}, "admin = \"127.0.0.1:9100\"\n", "127.0.0.1:9200", ""},
		{"flag over env", []string{"--admin", "127.0.0.1:9300"}, map[string]string{"ISHTAR_ADMIN": "127.0.0.1:9200"}, "", "127.0.0.1:9300", ""},
		{"off by flag", []string{"--admin", ""}, nil, "", "", ""},
		{"off by file", nil, nil, "admin = \"\"\n", "", ""},
		{"an empty variable is unset", nil, map[string]string{"ISHTAR_ADMIN": ""}, "admin = \"127.0.0.1:9100\"\n", "127.0.0.1:9100", ""},
		{"bad", []string{"--admin", "9001"}, nil, "", "", `config: admin: "9001" is not host:port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, tc.args, tc.env, tc.file)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || c.Admin != tc.want {
				t.Fatalf("admin %q (%v), want %q", c.Admin, err, tc.want)
			}
		})
	}
}
