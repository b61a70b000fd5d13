package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ishtar/gateway"
	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// TestProcess runs the built binary's devnet as a child process: a clean
// restart (SIGTERM) keeps every object; a SIGKILL during a 100 MiB upload
// leaves the object absent or whole, every earlier object intact, and the
// orphaned shards released.
func TestProcess(t *testing.T) {
	// The catalog backup is off: the crash test counts every byte the
	// objects store on the nodes.
	d := startDevnetWith(t, []string{"ISHTAR_GATEWAY_BACKUP=false"}, nil)
	c := NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, nil)
	createBucket(t, c, "process")
	t.Run("ready", func(t *testing.T) { testReadyOutput(t, d) })
	var kept []chaosObject
	for i, size := range []int{1, 4 * KiB, 5 * MiB, 20 * MiB} {
		o := chaosObject{key: fmt.Sprintf("kept/%d", size), data: randBytes(size, uint64(3000+i))}
		putObject(t, c, "process", o.key, o.data)
		kept = append(kept, o)
	}
	t.Run("restart", func(t *testing.T) {
		d.restart()
		c = NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, nil)
		for _, o := range kept {
			readExact(t, c, "process", o)
		}
	})
	t.Run("crash", func(t *testing.T) { testCrash(t, d, kept) })
}

// testReadyOutput checks devnet's announcement and its env file.
func testReadyOutput(t *testing.T, d *devnetRun) {
	var endpoint string
	for _, line := range strings.Split(d.Output(), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimPrefix(line, "stdout: "), "S3 endpoint:"); ok {
			endpoint = strings.TrimSpace(rest)
			break
		}
	}
	if endpoint != d.Endpoint || endpoint != "http://"+d.s3 {
		t.Fatalf("devnet printed endpoint %q; devnet.env says %q; asked for %s", endpoint, d.Endpoint, d.s3)
	}
	// `. DIR/devnet.env` works in a shell.
	env := filepath.Join(d.dir, "devnet.env")
	out, err := exec.CommandContext(t.Context(), "sh", "-c", `. "$1" && echo "$ISHTAR_S3_ENDPOINT $AWS_REGION"`, "sh", env).Output()
	if err != nil || strings.TrimSpace(string(out)) != d.Endpoint+" "+d.Region {
		t.Fatalf("sourcing %s: %q, %v", env, out, err)
	}
}

// testCrash kills the devnet while a 100 MiB upload is half sent and
// restarts it.
func testCrash(t *testing.T, d *devnetRun, kept []chaosObject) {
	nodes := d.storageNodes(t)
	base := nodes.used(t)
	if want := d.storedSize(t, kept); base != want {
		t.Fatalf("storage nodes use %d bytes for the earlier objects, want %d", base, want)
	}

	data := randBytes(100*MiB, 3100)
	body := &haltingReader{r: bytes.NewReader(data), haltAt: 40 * MiB, halted: make(chan struct{}), resume: make(chan struct{})}
	upload := make(chan error, 1)
	go func() { upload <- rawPut(t.Context(), d, "process", "crash/big", body, int64(len(data))) }()
	select {
	case <-body.halted:
	case err := <-upload:
		t.Fatalf("upload ended before 40 MiB were sent: %v", err)
	}
	// Wait until shards of the first segments are on the nodes, so the
	// kill leaves orphans. Nothing announces a stored shard to the
	// outside, so this polls the nodes' used space.
	nodes.waitUsed(t, func(u int64) bool { return u > base }, "shards of the interrupted upload to arrive")
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	close(body.resume)
	if err := <-upload; err == nil {
		t.Fatal("the upload succeeded although the devnet was killed during it")
	}
	checkJournal(t, d.dir)

	d.start()
	c := NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, nil)
	for _, o := range kept {
		readExact(t, c, "process", o)
	}
	want := base
	_, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("process"), Key: aws.String("crash/big")})
	switch {
	case err == nil:
		got, _ := getObject(t, c, "process", "crash/big", "")
		sameBytes(t, "object whose upload was interrupted", got, data)
		want += d.storedSize(t, []chaosObject{{data: data}})
	default:
		wantStatus(t, err, http.StatusNotFound)
	}
	// The restarted gateway releases the orphans in the background.
	nodes.waitUsed(t, func(u int64) bool { return u == want }, fmt.Sprintf("the nodes to use %d bytes", want))
}

// checkJournal looks into the killed devnet's catalog: shards of the
// interrupted upload are on the nodes, so the gateway's journal must name
// them, or nothing will ever release them.
func checkJournal(t *testing.T, dir string) {
	db, err := meta.Open(filepath.Join(dir, "catalog"))
	if err != nil {
		t.Fatalf("open the killed devnet's catalog: %v", err)
	}
	defer db.Close()
	js, err := db.Journals(0)
	if err != nil {
		t.Fatalf("read the journal: %v", err)
	}
	if len(js) == 0 {
		t.Errorf("after SIGKILL during an upload whose shards reached the nodes, the gateway's journal is empty: " +
			"its entries did not survive the kill, and the orphans cannot be released")
	}
}

// haltingReader passes r through until haltAt bytes were read, then
// closes halted and blocks until resume is closed; after that it fails.
type haltingReader struct {
	r      io.Reader
	n      int64
	haltAt int64
	halted chan struct{}
	resume chan struct{}
}

func (h *haltingReader) Read(p []byte) (int, error) {
	if h.n >= h.haltAt {
		if h.n == h.haltAt {
			close(h.halted)
			h.n++
		}
		<-h.resume
		return 0, errors.New("upload abandoned")
	}
	p = p[:min(int64(len(p)), h.haltAt-h.n)]
	n, err := h.r.Read(p)
	h.n += int64(n)
	return n, err
}

// rawPut sends a streaming PutObject signed with UNSIGNED-PAYLOAD, so the
// body is read once, as it is sent.
func rawPut(ctx context.Context, d *devnetRun, bucket, key string, body io.Reader, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, d.Endpoint+"/"+bucket+"/"+key, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: d.AccessKey, SecretAccessKey: d.SecretKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", d.Region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// devnetState is the part of DIR/devnet.toml the tests read.
type devnetState struct {
	S3    string   `toml:"s3"`
	Nodes []string `toml:"nodes"`
	K     int      `toml:"k"`
	N     int      `toml:"n"`
}

func (d *devnetRun) state(t testing.TB) devnetState {
	t.Helper()
	var st devnetState
	if _, err := toml.DecodeFile(filepath.Join(d.dir, "devnet.toml"), &st); err != nil {
		t.Fatalf("read devnet.toml: %v", err)
	}
	if st.K == 0 && st.N == 0 { // the default code, by the storage nodes' number
		p := shard.DefaultParams()
		if len(st.Nodes)-1 >= shard.WideParams().N {
			p = shard.WideParams()
		}
		st.K, st.N = p.K, p.N
	}
	if len(st.Nodes) < 2 || st.K < 1 || st.N <= st.K {
		t.Fatalf("devnet.toml: %+v", st)
	}
	return st
}

// storedSize is what objects take on the storage nodes: for each 16 MiB
// segment, N shards of the sealed segment's size over K, each charged
// meta.HoldingOverhead for its catalog entries; nothing for an object
// small enough to be kept inline in the gateway's catalog.
func (d *devnetRun) storedSize(t testing.TB, objs []chaosObject) int64 {
	st := d.state(t)
	p := shard.Params{K: st.K, N: st.N, BlockSize: shard.DefaultBlockSize}
	const seg = 16 * MiB
	var total int64
	for _, o := range objs {
		size := int64(len(o.data))
		if size <= gateway.DefaultInlineMax {
			continue
		}
		for off := int64(0); off < size || off == 0; off += seg {
			total += shard.EncodedSize(p, shard.SealedSize(min(seg, size-off), p.BlockSize)) + int64(p.N)*meta.HoldingOverhead
		}
	}
	return total
}

// nodeClients asks the devnet's storage nodes about their space.
type nodeClients []*node.Client

// storageNodes returns clients of the devnet's storage nodes (not the
// gateway's own), signing as a throwaway node key.
func (d *devnetRun) storageNodes(t testing.TB) nodeClients {
	t.Helper()
	key, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var cs nodeClients
	for _, addr := range d.state(t).Nodes[1:] {
		cs = append(cs, node.NewClient("http://"+addr, key, &http.Client{Timeout: 10 * time.Second}))
	}
	return cs
}

// used sums the bytes the nodes hold (capacity minus free).
func (cs nodeClients) used(t testing.TB) int64 {
	t.Helper()
	var total int64
	for _, c := range cs {
		rec, err := c.Info(t.Context())
		if err != nil {
			t.Fatalf("info of %s: %v", c.BaseURL(), err)
		}
		total += rec.Capacity - rec.Free
	}
	return total
}

// waitUsed polls the nodes' used space every 50 ms until ok accepts it,
// for at most a minute: nothing outside the process reports the shards a
// gateway stores or releases.
func (cs nodeClients) waitUsed(t testing.TB, ok func(int64) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		u := cs.used(t)
		if ok(u) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s; the storage nodes use %d bytes", what, u)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}
