package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The example configuration in deploy/ is accepted by the loader and means
// what its comments say.
func TestDeployExampleConfig(t *testing.T) {
	l := newLoader("serve", nil, func(string) (string, bool) { return "", false })
	if err := l.parse([]string{"--config", "../../deploy/ishtar.toml"}); err != nil {
		t.Fatal(err)
	}
	c, err := l.load()
	if err != nil {
		t.Fatalf("deploy/ishtar.toml: %v", err)
	}
	if c.Data != "/var/lib/ishtar" || c.Listen != "0.0.0.0:7070" || c.Capacity != 100<<30 ||
		c.S3Listen != "127.0.0.1:9000" || len(c.Network.Bootstrap) != 2 || c.Node.MaxShardSize != 68<<20 ||
		c.Gateway.Params.K != 3 || c.Gateway.Params.N != 5 || c.Gateway.SegmentSize != 16<<20 || c.Gateway.InlineMax != 4<<10 || !c.Gateway.AddressDiversity {
		t.Errorf("deploy/ishtar.toml read as %+v", c)
	}
}

// The systemd unit starts `ishtar serve` with flags serve accepts, and the
// data directory it names is the one the unit gives the daemon.
func TestDeploySystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../../deploy/ishtar.service")
	if err != nil {
		t.Fatal(err)
	}
	var exec []string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			exec = strings.Fields(v)
		}
	}
	if len(exec) < 2 || !strings.HasSuffix(exec[0], "/ishtar") || exec[1] != "serve" {
		t.Fatalf("ExecStart %q does not run ishtar serve", exec)
	}
	l := newLoader("serve", nil, func(string) (string, bool) { return "", false })
	if err := l.parse(exec[2:]); err != nil {
		t.Fatalf("ExecStart flags: %v", err)
	}
	if i := slices.Index(exec, "--data"); i < 0 || exec[i+1] != "/var/lib/ishtar" || !strings.Contains(string(b), "StateDirectory=ishtar\n") {
		t.Errorf("the unit's data directory is not its StateDirectory /var/lib/ishtar")
	}
}
