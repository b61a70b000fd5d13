package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
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
		c.Gateway.Params.K != 0 || c.Gateway.Params.N != 0 || c.Gateway.SegmentSize != 16<<20 || c.Gateway.InlineMax != 4<<10 || !c.Gateway.AddressDiversity || c.Admin != "127.0.0.1:9001" {
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

// dockerfile reads deploy/Dockerfile's instructions (continuation lines
// joined) by stage: each FROM starts one.
func dockerfile(t *testing.T) [][][2]string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages [][][2]string
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, arg, _ := strings.Cut(line, " ")
		if op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before FROM", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], [2]string{op, strings.TrimSpace(arg)})
	}
	return stages
}

// containerEnv is the final stage's ENV as a lookup.
func containerEnv(t *testing.T, final [][2]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range final {
		if in[0] == "ENV" {
			for _, kv := range strings.Fields(in[1]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("ENV %q is not KEY=VALUE", kv)
				}
				env[k] = v
			}
		}
	}
	return env
}

// The container file builds ./cmd/ishtar statically in a first stage and
// runs it as `ishtar serve --init` in the second, as a non-root user, with
// the data directory a volume, the peer port exposed and the S3 endpoint
// and admin listener on loopback.
func TestDeployDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(stages))
	}
	var built string
	for _, in := range stages[0] {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			if !strings.Contains(in[1], "CGO_ENABLED=0") || !strings.Contains(in[1], "./cmd/ishtar") {
				t.Errorf("the build %q is not a static build of ./cmd/ishtar", in[1])
			}
			f := strings.Fields(in[1])
			for i := range f {
				if f[i] == "-o" && i+1 < len(f) {
					built = f[i+1]
				}
			}
		}
	}
	final := stages[1]
	got := map[string]string{}
	for _, in := range final {
		got[in[0]] = in[1]
		if in[0] == "COPY" && strings.HasSuffix(in[1], " /usr/local/bin/ishtar") && !strings.Contains(in[1], "--from=build "+built+" ") {
			t.Errorf("COPY %q does not take the binary built at %q", in[1], built)
		}
	}
	var entry, cmd []string
	if err := json.Unmarshal([]byte(got["ENTRYPOINT"]), &entry); err != nil || len(entry) != 1 || entry[0] != "/usr/local/bin/ishtar" {
		t.Errorf("ENTRYPOINT %q (%v)", got["ENTRYPOINT"], err)
	}
	if err := json.Unmarshal([]byte(got["CMD"]), &cmd); err != nil || len(cmd) < 1 || cmd[0] != "serve" {
		t.Fatalf("CMD %q (%v) does not run ishtar serve", got["CMD"], err)
	}
	if u := got["USER"]; u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("USER %q: the daemon must not run as root", u)
	}
	env := containerEnv(t, final)
	c := loadServe(t, cmd[1:], env)
	if got["VOLUME"] != `["`+c.Data+`"]` {
		t.Errorf("VOLUME %s is not the data directory %s", got["VOLUME"], c.Data)
	}
	if _, port, _ := strings.Cut(c.Listen, ":"); got["EXPOSE"] != port || !strings.HasPrefix(c.Listen, "0.0.0.0:") {
		t.Errorf("EXPOSE %s, the node listens on %s", got["EXPOSE"], c.Listen)
	}
	if !strings.HasPrefix(c.S3Listen, "127.0.0.1:") || !strings.HasPrefix(c.Admin, "127.0.0.1:") {
		t.Errorf("S3 on %s, admin on %s: not loopback by default", c.S3Listen, c.Admin)
	}
}

// loadServe loads `ishtar serve args...` with the environment env.
func loadServe(t *testing.T, args []string, env map[string]string) Config {
	t.Helper()
	l := newLoader("serve", nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	l.fs.Bool("init", false, "") // serve's own flags
	if err := l.parse(args); err != nil {
		t.Fatalf("serve %q: %v", args, err)
	}
	c, err := l.load()
	if err != nil {
		t.Fatalf("serve %q: %v", args, err)
	}
	return c
}

// composeService is what the test reads of a service of compose.yaml.
type composeService struct {
	command     []string
	environment []string
	ports       []string
	volumes     []string
}

// readCompose reads deploy/compose.yaml's services: the subset of YAML it
// is written in (two-space indents, commands as flow sequences).
func readCompose(t *testing.T) (map[string]*composeService, []string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]*composeService{}
	var volumes []string
	var top, key string
	var cur *composeService
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case indent == 0:
			top, _, _ = strings.Cut(trimmed, ":")
		case indent == 2 && top == "services":
			name, _, _ := strings.Cut(trimmed, ":")
			cur = &composeService{}
			services[name] = cur
		case indent == 2 && top == "volumes":
			volumes = append(volumes, strings.TrimSuffix(trimmed, ":"))
		case indent == 4 && cur != nil && top == "services":
			var rest string
			key, rest, _ = strings.Cut(trimmed, ":")
			if key == "command" {
				if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &cur.command); err != nil {
					t.Fatalf("compose.yaml: command %q: %v", rest, err)
				}
			}
		case indent == 6 && cur != nil && strings.HasPrefix(trimmed, "- "):
			item := strings.Trim(strings.TrimPrefix(trimmed, "- "), `"`)
			switch key {
			case "environment":
				cur.environment = append(cur.environment, item)
			case "ports":
				cur.ports = append(cur.ports, item)
			case "volumes":
				cur.volumes = append(cur.volumes, item)
			}
		}
	}
	return services, volumes
}

// The compose example is a network of six nodes: each runs `ishtar
// serve` with flags serve accepts, advertises its own service name,
// bootstraps from another service of the file, keeps its data in a volume
// of its own at the image's data directory; only node1 publishes ports,
// and only on the host's loopback.
func TestDeployCompose(t *testing.T) {
	services, volumes := readCompose(t)
	if len(services) != 6 {
		t.Fatalf("%d services, want 6", len(services))
	}
	imageEnv := containerEnv(t, dockerfile(t)[1])
	seenVolume := map[string]bool{}
	for name, s := range services {
		if len(s.command) < 2 || s.command[0] != "serve" {
			t.Fatalf("%s: command %q is not ishtar serve", name, s.command)
		}
		env := maps.Clone(imageEnv)
		for _, kv := range s.environment {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		c := loadServe(t, s.command[1:], env)
		if c.Advertise != "http://"+name+":7070" || c.Listen != "0.0.0.0:7070" {
			t.Errorf("%s advertises %s, listens on %s", name, c.Advertise, c.Listen)
		}
		if c.Gateway.AddressDiversity {
			t.Errorf("%s: address diversity on, every node is in one /24", name)
		}
		for _, u := range c.Network.Bootstrap {
			host, _ := strings.CutPrefix(u, "http://")
			peer, port, _ := strings.Cut(host, ":")
			if services[peer] == nil || port != "7070" || peer == name {
				t.Errorf("%s bootstraps from %s, not another node of the file", name, u)
			}
		}
		if name != "node1" && len(c.Network.Bootstrap) == 0 {
			t.Errorf("%s knows no peer", name)
		}
		if len(s.volumes) != 1 || !strings.HasSuffix(s.volumes[0], ":"+c.Data) {
			t.Errorf("%s: volumes %q, the data directory is %s", name, s.volumes, c.Data)
		} else {
			v, _, _ := strings.Cut(s.volumes[0], ":")
			if seenVolume[v] || !slices.Contains(volumes, v) {
				t.Errorf("%s: volume %s shared or not declared", name, v)
			}
			seenVolume[v] = true
		}
		for _, p := range s.ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s beyond the host's loopback", name, p)
			}
		}
		if (len(s.ports) > 0) != (name == "node1") {
			t.Errorf("%s publishes %q", name, s.ports)
		}
	}
}

// serve --init makes the identity on first start (printing the recovery
// phrase once) and keeps it afterwards.
func TestServeInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := startIshtar(t, "S3 endpoint:", serveArgs(dir, "--init")...)
	id := p.lines["Node ID:"]
	if p.lines["Recovery phrase:"] == "" || id == "" {
		t.Fatalf("first start printed %v", p.lines)
	}
	p.stop()
	p = startIshtar(t, "S3 endpoint:", serveArgs(dir, "--init")...)
	if p.lines["Recovery phrase:"] != "" || p.lines["Node ID:"] != id {
		t.Fatalf("second start printed %v, want node %s and no phrase", p.lines, id)
	}
	p.stop()
}
