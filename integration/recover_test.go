package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"ishtar/cmd/ishtar/daemon"
)

// statusOf is a daemon's `ishtar status --json`, the backup included.
func statusOf(t testing.TB, s *serveRun) daemon.Status {
	t.Helper()
	var st daemon.Status
	ishtarStatus(t, s, &st)
	return st
}

// waitBackup waits until the gateway's catalog backup has every change
// that calls for one.
func waitBackup(t testing.TB, gw *serveRun) daemon.Status {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st := statusOf(t, gw)
		if st.Backup.RootSeq != 0 && st.Backup.Lag == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog is not backed up after 2 min: %+v", st.Backup)
		}
		time.Sleep(250 * time.Millisecond) // polling the gateway's status
	}
}

// listAll lists every key of bucket with its size and ETag.
func listAll(t testing.TB, c *s3.Client, bucket string) []string {
	t.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out = append(out, fmt.Sprintf("%s %d %s", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag)))
		}
	}
	return out
}

// ishtarRecover runs `ishtar recover` with phrase on its standard input.
func ishtarRecover(t testing.TB, dir, phrase string, args ...string) (string, error) {
	cmd := exec.CommandContext(t.Context(), ishtarBin(t), append([]string{"recover", "--data", dir}, args...)...)
	cmd.Env = append(os.Environ(), "ISHTAR_CONFIG=", "ISHTAR_DATA=")
	cmd.Stdin = strings.NewReader(phrase + "\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// startBackupNet starts 6 storage nodes that know each other (all
// bootstrap from the first: a new machine learns the whole network from
// any one of them) and a gateway using them, with env (and gwEnv for the
// gateway alone); it returns the nodes, the gateway and the gateway's
// environment.
func startBackupNet(t *testing.T, env, gwEnv []string) ([]*serveRun, *serveRun, []string) {
	t.Helper()
	needProcesses(t)
	first := startServe(t, env, "--capacity", "1GiB")
	nodes := []*serveRun{first}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			s := startServe(t, env, "--capacity", "1GiB", "--bootstrap", first.NodeURL)
			mu.Lock()
			nodes = append(nodes, s)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	args := []string{"--capacity", "8GiB"}
	for _, n := range nodes {
		args = append(args, "--bootstrap", n.NodeURL)
	}
	gwEnv = append(append([]string{"ISHTAR_GATEWAY_ADDRESS_DIVERSITY=false"}, env...), gwEnv...)
	return nodes, startServe(t, gwEnv, args...), gwEnv
}

// Issue 11, item 6: storage nodes in their own processes; a gateway
// stores a few hundred objects (small, one segment, many
// segments, multipart), overwrites and deletes some, and backs its
// catalog up; its data directory is destroyed and two of the six nodes
// (root holders all) go down; `ishtar recover` with the phrase and one
// peer's URL brings back the same listing and every
// object byte-exact, deleted ones stay deleted, and uploads go on.
func TestRecoverFromPhrase(t *testing.T) {
	env := []string{"ISHTAR_NETWORK_EXCHANGE_INTERVAL=1s", "ISHTAR_GATEWAY_BACKUP_LAG=2s", "ISHTAR_GATEWAY_SEGMENT_SIZE=256KiB"}
	nodes, gw, gwEnv := startBackupNet(t, env, nil)
	c := NewS3Client(gw.Endpoint, gw.AccessKey, gw.SecretKey, nil)
	bucket := createBucket(t, c, "recover")
	other := createBucket(t, c, "recover-other")

	want := map[string][]byte{}
	var pmu sync.Mutex
	var pwg sync.WaitGroup
	sem := make(chan struct{}, 8)
	putOne := func(key string, data []byte) {
		sem <- struct{}{}
		pwg.Go(func() {
			defer func() { <-sem }()
			putObject(t, c, bucket, key, data)
			pmu.Lock()
			want[key] = data
			pmu.Unlock()
		})
	}
	for i := range 300 {
		putOne(fmt.Sprintf("small/%03d", i), randBytes(100+i*13, uint64(9000+i)))
	}
	for i := range 3 {
		putOne(fmt.Sprintf("one/%d", i), randBytes(200*KiB+i, uint64(9400+i)))
		putOne(fmt.Sprintf("many/%d", i), randBytes(MiB+7*KiB+i, uint64(9500+i)))
	}
	pwg.Wait()
	p1, p2 := randBytes(5*MiB, 9601), randBytes(300*KiB, 9602)
	id := createUpload(t, c, bucket, "multi")
	parts := []types.CompletedPart{uploadPart(t, c, bucket, "multi", id, 1, p1), uploadPart(t, c, bucket, "multi", id, 2, p2)}
	if _, err := c.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("multi"),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	want["multi"] = append(slices.Clone(p1), p2...)
	putObject(t, c, other, "x", []byte("in the other bucket"))
	// The first backup is done; then overwrites and deletions follow, in
	// log chunks.
	waitBackup(t, gw)
	for i := range 20 {
		key := fmt.Sprintf("small/%03d", i)
		if i%2 == 0 {
			data := randBytes(77+i, uint64(9700+i))
			putObject(t, c, bucket, key, data)
			want[key] = data
		} else {
			if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				t.Fatal(err)
			}
			delete(want, key)
		}
	}
	if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("many/1")}); err != nil {
		t.Fatal(err)
	}
	delete(want, "many/1")
	st := waitBackup(t, gw)
	if st.Backup.RootHolders == 0 || st.Backup.Logs == 0 {
		t.Fatalf("backup %+v: want log steps and root holders", st.Backup)
	}
	before, beforeOther := listAll(t, c, bucket), listAll(t, c, other)
	if len(before) != len(want) {
		t.Fatalf("listed %d objects, want %d", len(before), len(want))
	}

	// The machine is lost: the process killed, its directory gone. Only
	// the phrase is left.
	phraseBytes, err := os.ReadFile(filepath.Join(gw.dir, "owner.seed"))
	if err != nil {
		t.Fatal(err)
	}
	phrase := strings.TrimSpace(string(phraseBytes))
	if err := gw.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(gw.dir); err != nil {
		t.Fatal(err)
	}
	// Two of the root holders (every node is one: 2n > 6) are down too;
	// each segment keeps k of its n shards.
	for _, s := range nodes[4:] {
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
	}

	dir := filepath.Join(t.TempDir(), "recovered")
	// A typo in the phrase is caught by its checksum, and nothing is left
	// behind.
	groups := strings.Split(phrase, "-")
	groups[3], groups[4] = groups[4], groups[3]
	if out, err := ishtarRecover(t, dir, strings.Join(groups, "-"), "--bootstrap", nodes[2].NodeURL); err == nil || !strings.Contains(out, "checksum") {
		t.Fatalf("a wrong phrase: %v\n%s", err, out)
	}
	if _, err := os.Stat(dir); err == nil {
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			t.Fatalf("a failed recovery left %d files in %s", len(ents), dir)
		}
	}
	out, err := ishtarRecover(t, dir, phrase, "--bootstrap", nodes[2].NodeURL)
	if err != nil {
		t.Fatalf("ishtar recover: %v\n%s", err, out)
	}
	if !strings.Contains(out, fmt.Sprintf("Recovered:     2 buckets, %d objects", len(want)+1)) {
		t.Fatalf("ishtar recover printed:\n%s", out)
	}
	gw2 := serveIn(t, dir, gwEnv, "--capacity", "8GiB", "--bootstrap", nodes[2].NodeURL)
	c2 := NewS3Client(gw2.Endpoint, gw2.AccessKey, gw2.SecretKey, nil)
	if got := listAll(t, c2, bucket); !slices.Equal(got, before) {
		t.Fatalf("listing after recovery differs: %d objects, want %d", len(got), len(before))
	}
	if got := listAll(t, c2, other); !slices.Equal(got, beforeOther) {
		t.Fatalf("other bucket after recovery: %v, want %v", got, beforeOther)
	}
	for key, data := range want {
		got, _ := getObject(t, c2, bucket, key, "")
		sameBytes(t, key+" after recovery", got, data)
	}
	_, err = c2.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("many/1")})
	wantStatus(t, err, 404)
	putObject(t, c2, bucket, "after", []byte("uploads go on"))
	got, _ := getObject(t, c2, bucket, "after", "")
	sameBytes(t, "an upload after recovery", got, []byte("uploads go on"))
	if st := waitBackup(t, gw2); st.Backup.Snapshots == 0 {
		t.Fatalf("the recovered gateway made no snapshot: %+v", st.Backup)
	}
}

// rootPostsAfter returns the seq of the first "posting a root" log line
// (debug level) of gw with a seq above after, or 0.
func rootPostsAfter(gw *serveRun, after uint64) uint64 {
	for _, line := range strings.Split(gw.Output(), "\n") {
		if !strings.Contains(line, "backup: posting a root") {
			continue
		}
		_, rest, ok := strings.Cut(line, " seq=")
		if !ok {
			continue
		}
		var seq uint64
		if _, err := fmt.Sscan(strings.Fields(rest)[0], &seq); err == nil && seq > after {
			return seq
		}
	}
	return 0
}

// Issue 11, item 6: a SIGKILL during a backup step leaves a consistent,
// recoverable state. One storage node is stopped (SIGSTOP), so the step
// that follows an upload hangs on it (storing the log chunk, or posting
// the root to it); the gateway is killed right then. Restarted, it backs
// up again; recovered elsewhere from the phrase, the catalog lists what
// the restarted gateway lists, and reads byte-exact.
func TestBackupKilledMidStep(t *testing.T) {
	env := []string{"ISHTAR_NETWORK_EXCHANGE_INTERVAL=1s", "ISHTAR_GATEWAY_BACKUP_LAG=2s"}
	nodes, gw, gwEnv := startBackupNet(t, env, []string{"ISHTAR_LOG_LEVEL=debug"})
	c := NewS3Client(gw.Endpoint, gw.AccessKey, gw.SecretKey, nil)
	bucket := createBucket(t, c, "killed")
	want := map[string][]byte{}
	for i := range 20 {
		key := fmt.Sprintf("before/%d", i)
		want[key] = randBytes(3000+i*997, uint64(9800+i))
		putObject(t, c, bucket, key, want[key])
	}
	st := waitBackup(t, gw)

	stopped := nodes[3]
	if err := syscallStop(stopped); err != nil {
		t.Fatal(err)
	}
	defer syscallCont(stopped)
	want["during"] = randBytes(10*KiB, 9900)
	putObject(t, c, bucket, "during", want["during"])
	deadline := time.Now().Add(time.Minute)
	for rootPostsAfter(gw, st.Backup.RootSeq) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no backup step started within a minute of the upload:\n%s", lastLines(gw.Output(), 20))
		}
		time.Sleep(20 * time.Millisecond) // polling the gateway's log
	}
	if err := gw.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := syscallCont(stopped); err != nil {
		t.Fatal(err)
	}
	phraseBytes, err := os.ReadFile(filepath.Join(gw.dir, "owner.seed"))
	if err != nil {
		t.Fatal(err)
	}

	// Restarted, the gateway has every acknowledged object and backs up.
	gw.start()
	c = NewS3Client(gw.Endpoint, gw.AccessKey, gw.SecretKey, nil)
	before := listAll(t, c, bucket)
	if len(before) != len(want) {
		t.Fatalf("the restarted gateway lists %d objects, want %d", len(before), len(want))
	}
	waitBackup(t, gw)

	dir := filepath.Join(t.TempDir(), "recovered")
	out, err := ishtarRecover(t, dir, strings.TrimSpace(string(phraseBytes)), "--bootstrap", nodes[0].NodeURL)
	if err != nil {
		t.Fatalf("ishtar recover: %v\n%s", err, out)
	}
	if err := gw.Kill(); err != nil { // the recovered gateway takes its place
		t.Fatal(err)
	}
	gw2 := serveIn(t, dir, gwEnv, "--capacity", "8GiB", "--bootstrap", nodes[0].NodeURL)
	c2 := NewS3Client(gw2.Endpoint, gw2.AccessKey, gw2.SecretKey, nil)
	if got := listAll(t, c2, bucket); !slices.Equal(got, before) {
		t.Fatalf("recovered listing %v\nwant %v", got, before)
	}
	for key, data := range want {
		got, _ := getObject(t, c2, bucket, key, "")
		sameBytes(t, key+" after recovery", got, data)
	}
}

func syscallStop(s *serveRun) error { return syscall.Kill(s.PID(), syscall.SIGSTOP) }
func syscallCont(s *serveRun) error { return syscall.Kill(s.PID(), syscall.SIGCONT) }
