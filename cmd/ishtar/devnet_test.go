package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ishtar/gateway/upkeep"
)

// runIshtar runs ishtar to completion with extra environment variables
// and returns stdout; a failure fails the test with stderr.
func runIshtar(t *testing.T, environ []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ishtar", args...)
	cmd.Env = append(append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=", "ISHTAR_S3_ENDPOINT="), environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ishtar %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// devnetEnv reads DIR/devnet.env into KEY=VALUE pairs.
func devnetEnv(t *testing.T, dir string) []string {
	t.Helper()
	p := filepath.Join(dir, devnetEnvFile)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600: it holds the secret", p, fi.Mode().Perm())
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok || !strings.Contains(kv, "=") {
			t.Fatalf("%s: line %q is not `export KEY=VALUE`", p, sc.Text())
		}
		out = append(out, kv)
	}
	return out
}

func writeRandom(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	_, _ = rand.Read(b)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}

// The devnet starts, takes files through the file commands (single PUT and
// multipart), and after SIGTERM and a restart on the same directory still
// serves them byte-exact.
func TestDevnetSmoke(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "net")
	p := startIshtar(t, "S3 endpoint:", "devnet", "--data", dir, "--s3", "127.0.0.1:0", "--nodes", "6")
	endpoint := p.lines["S3 endpoint:"]
	environ := devnetEnv(t, dir)
	for _, want := range []string{"ISHTAR_S3_ENDPOINT=" + endpoint, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=IS", "AWS_SECRET_ACCESS_KEY="} {
		if !strings.Contains(strings.Join(environ, "\n"), want) {
			t.Errorf("devnet.env %q lacks %q", environ, want)
		}
	}

	small := writeRandom(t, filepath.Join(tmp, "small.bin"), 100<<10+3)
	large := writeRandom(t, filepath.Join(tmp, "large.bin"), 11<<20+5) // 3 parts of 5 MiB
	empty := writeRandom(t, filepath.Join(tmp, "empty.bin"), 0)
	out := runIshtar(t, nil, "upload", "--data", dir, "--part-size", "5MiB",
		filepath.Join(tmp, "small.bin"), filepath.Join(tmp, "large.bin"), filepath.Join(tmp, "empty.bin"))
	for _, want := range []string{"to s3://ishtar/small.bin (100 KiB)", "to s3://ishtar/large.bin (11 MiB)", "to s3://ishtar/empty.bin (0 B)"} {
		if !strings.Contains(out, want) {
			t.Errorf("upload printed %q, want a line with %q", out, want)
		}
	}
	list := runIshtar(t, environ, "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], " 0 empty.bin") || !strings.HasSuffix(lines[1], " 11534341 large.bin") ||
		!strings.HasSuffix(lines[2], " 102403 small.bin") {
		t.Fatalf("list printed:\n%s", list)
	}
	if got := runIshtar(t, environ, "list", "sm"); strings.Count(got, "\n") != 1 || !strings.Contains(got, "small.bin") {
		t.Fatalf("list sm printed:\n%s", got)
	}

	// The demo bucket of the printed `aws s3 cp` line exists.
	runIshtar(t, environ, "upload", "--bucket", "demo", filepath.Join(tmp, "small.bin"))

	p.stop()
	p = startIshtar(t, "S3 endpoint:", "devnet", "--data", dir)
	if got := p.lines["S3 endpoint:"]; got != endpoint {
		t.Fatalf("the restarted devnet serves S3 at %s, not at %s as before", got, endpoint)
	}
	got := filepath.Join(tmp, "got")
	if err := os.Mkdir(got, 0o700); err != nil {
		t.Fatal(err)
	}
	runIshtar(t, environ, "download", "large.bin", filepath.Join(got, "large.out"))
	checkFile(t, filepath.Join(got, "large.out"), large)
	runIshtar(t, nil, "download", "--data", dir, "small.bin", got) // into a directory
	checkFile(t, filepath.Join(got, "small.bin"), small)
	runIshtar(t, environ, "download", "empty.bin", filepath.Join(got, "empty.out"))
	checkFile(t, filepath.Join(got, "empty.out"), empty)
	if out := runIshtar(t, environ, "download", "--bucket", "demo", "small.bin", "-"); out != string(small) {
		t.Fatalf("download to stdout gave %d bytes, want %d", len(out), len(small))
	}

	// A missing key: one line naming it, exit 1, and no file left behind.
	cmd := exec.Command("ishtar", "download", "nope.bin", filepath.Join(got, "nope.bin"))
	cmd.Env = append(os.Environ(), environ...)
	msg, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || string(msg) != "ishtar: download: s3://ishtar/nope.bin: NoSuchKey: The specified key does not exist\n" {
		t.Fatalf("download of a missing key: %v, %q", err, msg)
	}
	if ents, _ := os.ReadDir(got); len(ents) != 3 {
		t.Fatalf("files in the download directory: %v", ents)
	}
	p.stop()
}

// Port taken: devnet fails with one line that suggests --s3.
func TestDevnetS3PortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command("ishtar", "devnet", "--data", filepath.Join(t.TempDir(), "net"), "--s3", ln.Addr().String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	msg := stderr.String()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("devnet on a busy S3 port: %v, want exit status 1; stderr %q", err, msg)
	}
	if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "ishtar: devnet: s3: listen on "+ln.Addr().String()) ||
		!strings.Contains(msg, "address already in use") || !strings.Contains(msg, "--s3") {
		t.Fatalf("stderr %q, want one line naming the address and suggesting --s3", msg)
	}
}

// serve with --peer: a second owner's daemon stores files on the storage
// nodes of a devnet and reads them back.
func TestServeWithPeers(t *testing.T) {
	tmp := t.TempDir()
	netDir := filepath.Join(tmp, "net")
	dn := startIshtar(t, "S3 endpoint:", "devnet", "--data", netDir, "--s3", "127.0.0.1:0")
	st, err := readDevnetState(netDir)
	if err != nil {
		t.Fatal(err)
	}
	data := initDataDir(t)
	// All the peers are on loopback, one /24: address diversity would
	// allow only one shard per segment among them.
	if err := os.WriteFile(filepath.Join(data, configFile), []byte("[gateway]\naddress_diversity = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := serveArgs(data)
	for _, a := range st.Nodes[1:] {
		args = append(args, "--peer", "http://"+a)
	}
	p := startIshtar(t, "S3 endpoint:", args...)
	// It verified the five storage nodes it was given, and may have
	// learned of the devnet's gateway node from them already.
	var verified, placeable, heard int
	if _, err := fmt.Sscanf(p.lines["Peers:"], "%d verified, %d placeable, %d heard of", &verified, &placeable, &heard); err != nil ||
		verified < 5 || placeable < 5 {
		t.Fatalf("serve printed Peers: %q", p.lines["Peers:"])
	}
	// The file commands find this daemon's endpoint (a port chosen at
	// start) from its data directory alone.
	content := writeRandom(t, filepath.Join(tmp, "f.bin"), 1<<20+1)
	runIshtar(t, nil, "upload", "--data", data, filepath.Join(tmp, "f.bin"))
	if got := runIshtar(t, nil, "list", "--data", data); !strings.HasSuffix(got, " f.bin\n") {
		t.Fatalf("list after upload: %q", got)
	}
	runIshtar(t, nil, "download", "--data", data, "f.bin", filepath.Join(tmp, "f.out"))
	checkFile(t, filepath.Join(tmp, "f.out"), content)
	p.stop()
	dn.stop()
}

// verifiedURLs returns the URLs of the peers `ishtar peers` lists for the
// daemon of dir (verified ones only).
func verifiedURLs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := runIshtar(t, nil, "peers", "--data", dir)
	urls := map[string]bool{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], "http://") {
			urls[f[1]] = true
		}
	}
	return urls
}

// Two fresh `ishtar serve` processes and a devnet, each knowing one URL,
// find each other without restarts: A knows one devnet storage node, B
// knows only A. Then B uploads over peers it was never told of.
func TestServeFindEachOther(t *testing.T) {
	tmp := t.TempDir()
	netDir := filepath.Join(tmp, "net")
	fast := []string{"--exchange-interval", "1s"}
	startIshtar(t, "S3 endpoint:", append([]string{"devnet", "--data", netDir, "--s3", "127.0.0.1:0"}, fast...)...)
	st, err := readDevnetState(netDir)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(bootstrap string) (*proc, string) {
		data := initDataDir(t)
		// All on loopback, one /24: without address diversity every peer
		// may hold a shard of a segment.
		if err := os.WriteFile(filepath.Join(data, configFile), []byte("[gateway]\naddress_diversity = false\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return startIshtar(t, "S3 endpoint:", serveArgs(data, append(fast, "--bootstrap", bootstrap)...)...), data
	}
	a, aData := serve("http://" + st.Nodes[1])
	b, bData := serve(a.lines["Node endpoint:"])
	aURL, bURL := a.lines["Node endpoint:"], b.lines["Node endpoint:"]

	devnet := map[string]string{} // data directory -> node URL
	for i, addr := range st.Nodes {
		dir := netDir
		if i > 0 {
			dir = filepath.Join(netDir, fmt.Sprintf("node-%d", i))
		}
		devnet[dir] = "http://" + addr
	}
	// Who must know whom: A and B every node; every devnet node A and B.
	want := map[string][]string{aData: {bURL}, bData: {aURL}}
	for dir, u := range devnet {
		want[aData] = append(want[aData], u)
		want[bData] = append(want[bData], u)
		want[dir] = []string{aURL, bURL}
	}
	deadline := time.Now().Add(startTimeout)
	for dir, urls := range want {
		for {
			got := verifiedURLs(t, dir)
			missing := 0
			for _, u := range urls {
				if !got[u] {
					missing++
				}
			}
			if missing == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of %v not verified; it knows %v", dir, missing, urls, got)
			}
			// Rounds run every second; a poll costs a process start.
			time.Sleep(200 * time.Millisecond)
		}
	}
	content := writeRandom(t, filepath.Join(tmp, "f.bin"), 1<<20+3)
	ep := b.lines["S3 endpoint:"]
	runIshtar(t, nil, "upload", "--data", bData, "--endpoint", ep, filepath.Join(tmp, "f.bin"))
	runIshtar(t, nil, "download", "--data", bData, "--endpoint", ep, "f.bin", filepath.Join(tmp, "f.out"))
	checkFile(t, filepath.Join(tmp, "f.out"), content)

	// ishtar status shows the object's one segment with every shard
	// healthy, and its holders.
	out := runIshtar(t, nil, "status", "--data", bData)
	for _, want := range []string{"Objects (by their weakest segment): 1\n  5 of 5 shards healthy: 1\n",
		"Segments: 1\n  5 of 5 shards healthy: 1\n", "Lost shards:   0 awaiting repair", "Repairs:       0 segments repaired"} {
		if !strings.Contains(out, want) {
			t.Fatalf("ishtar status printed:\n%s\nwithout %q", out, want)
		}
	}
	out = runIshtar(t, nil, "status", "--data", bData, "ishtar/f.bin")
	if n := strings.Count(out, " healthy "); !strings.HasPrefix(out, "ishtar/f.bin: 1048579 bytes in 1 segment, k=3 n=5\n") || n != 5 {
		t.Fatalf("ishtar status ishtar/f.bin printed (%d healthy shards):\n%s", n, out)
	}
	var view upkeep.ObjectView
	out = runIshtar(t, nil, "status", "--data", bData, "--json", "ishtar/f.bin")
	if err := json.Unmarshal([]byte(out), &view); err != nil || view.Size != 1<<20+3 || len(view.Segments) != 1 ||
		len(view.Segments[0].Shards) != 5 || view.Segments[0].Shards[0].Size == 0 {
		t.Fatalf("ishtar status --json ishtar/f.bin printed %s (%v)", out, err)
	}
}
