package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ishtar/integration/devnet"
	"ishtar/node"
)

// serveRun is an `ishtar serve` process of a test, restartable on its data
// directory and addresses.
type serveRun struct {
	t              testing.TB
	dir            string
	listen, s3addr string
	args           []string
	env            []string
	*devnet.Process
}

// startServe makes a data directory with `ishtar init` and starts `ishtar
// serve` on it, listening for peers on a free loopback port.
func startServe(t testing.TB, env []string, args ...string) *serveRun {
	t.Helper()
	needProcesses(t)
	dir := filepath.Join(t.TempDir(), "data")
	if err := devnet.Init(t.Context(), ishtarBin(t), dir); err != nil {
		t.Fatal(err)
	}
	return serveIn(t, dir, env, args...)
}

// serveIn starts `ishtar serve` on an existing data directory (made by
// `ishtar init` or `ishtar recover`), on free loopback ports.
func serveIn(t testing.TB, dir string, env []string, args ...string) *serveRun {
	t.Helper()
	s := &serveRun{t: t, dir: dir, args: args, env: env}
	// The ports are free when chosen, but processes starting at the same
	// time may take one first: choose again then.
	for attempt := 1; ; attempt++ {
		var err error
		if s.listen, err = devnet.FreeAddr(); err != nil {
			t.Fatal(err)
		}
		if s.s3addr, err = devnet.FreeAddr(); err != nil {
			t.Fatal(err)
		}
		err = s.try()
		if err == nil {
			return s
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// start starts the process again on its ports (its peers know its URL).
func (s *serveRun) start() {
	s.t.Helper()
	if err := s.try(); err != nil {
		s.t.Fatal(err)
	}
}

// try starts the process and reports why it did not become ready.
func (s *serveRun) try() error {
	p, err := devnet.StartServe(s.t.Context(), devnet.Options{
		Bin: ishtarBin(s.t), Dir: s.dir, S3: s.s3addr, Env: s.env, StartTimeout: time.Minute,
		Args: append([]string{"--listen", s.listen}, s.args...),
	})
	if err != nil {
		return err
	}
	s.Process = p
	s.t.Cleanup(func() {
		if err := p.Kill(); err != nil {
			s.t.Error(err)
		}
		if s.t.Failed() {
			s.t.Logf("serve %s output (last lines):\n%s", s.dir, lastLines(p.Output(), 40))
		}
	})
	return nil
}

// stop stops the process cleanly (SIGTERM).
func (s *serveRun) stop() {
	s.t.Helper()
	if err := s.Stop(time.Minute); err != nil {
		s.t.Fatal(err)
	}
}

// serveNet is a gateway process using n storage node processes as its
// peers, all on loopback (address diversity off).
type serveNet struct {
	gw    *serveRun
	nodes []*serveRun
}

func startServeNet(t testing.TB, env []string, capacities ...string) *serveNet {
	t.Helper()
	needProcesses(t) // before any goroutine: a skip must end the test itself
	net := &serveNet{}
	var wg sync.WaitGroup
	net.nodes = make([]*serveRun, len(capacities))
	// The gateway's owner holds nothing for the nodes' owners: they let
	// it store on grace up to their whole capacity, so that what these
	// tests see is refusals for space (credit: TestFairExchange).
	nodeEnv := append([]string{"ISHTAR_NODE_STRANGER_SHARE=1"}, env...)
	for i, c := range capacities {
		wg.Go(func() { net.nodes[i] = startServe(t, nodeEnv, "--capacity", c) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	args := []string{"--capacity", "8GiB"}
	for _, n := range net.nodes {
		args = append(args, "--peer", n.NodeURL)
	}
	net.gw = startServe(t, append([]string{"ISHTAR_GATEWAY_ADDRESS_DIVERSITY=false"}, env...), args...)
	return net
}

// Item 2: a refusal is not a verdict. A gateway with exactly N storage
// peers, as separate processes: one 507 used to keep a peer out of
// placement for five minutes, so once a full peer had room again PUTs
// still failed for minutes; a restarted peer is taken back at once too.
func TestAdversarialRefusalIsNotAVerdict(t *testing.T) {
	const tight = 6 << 20
	// Every shard must be stored (min_acks = n): a full peer fails the
	// PUT rather than leaving its shard to repair, which is what shows
	// the back-off.
	env := []string{"ISHTAR_GATEWAY_RELEASE_DELAY=-1s", "ISHTAR_GATEWAY_MIN_ACKS=5"}
	sn := startServeNet(t, env, "1GiB", "1GiB", "6MiB", "1GiB", "1GiB")
	c := NewS3Client(sn.gw.Endpoint, sn.gw.AccessKey, sn.gw.SecretKey, nil)
	bucket := createBucket(t, c, "verdict")
	full := sn.nodes[2]

	// Fill the tight peer until it refuses: each 4 MiB object leaves a
	// shard of about 1.4 MiB on it.
	var keys []string
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("the 6 MiB peer never refused a shard")
		}
		key := fmt.Sprintf("fill/%d", i)
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: strings.NewReader(string(randBytes(4*MiB, uint64(7000+i))))})
		if err != nil {
			wantCode(t, err, "SlowDown")
			break
		}
		keys = append(keys, key)
	}
	// Room again: the owner deletes objects, their shards are released.
	for _, k := range keys[:2] {
		if _, err := c.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	nc := node.NewClient(full.NodeURL, freshKey(t), nil)
	waitFree(t, nc, 3*MiB)
	// The very next PUT places a shard on it again.
	honestTraffic(t, c, bucket, "room-again", 1)

	// A peer restarts: while it is away PUTs fail (exactly N peers); the
	// first one after it is back succeeds.
	sn.nodes[3].stop()
	data := randBytes(600*KiB, 7100)
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("away"),
		Body: strings.NewReader(string(data))})
	wantCode(t, err, "SlowDown")
	got, _ := getObject(t, c, bucket, keys[len(keys)-1], "")
	sameBytes(t, "read with a peer away", got, randBytes(4*MiB, uint64(7000+len(keys)-1)))
	sn.nodes[3].start()
	putObject(t, c, bucket, "back", data)
	got, _ = getObject(t, c, bucket, "back", "")
	sameBytes(t, "put once the peer is back", got, data)
}

// waitFree polls a node's record until it advertises at least want bytes
// free, for at most a minute: releases go out in the background.
func waitFree(t *testing.T, c *node.Client, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		rec, err := c.Info(t.Context())
		if err == nil && rec.Free >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node still advertises %d bytes free after a minute (%v), want %d", rec.Free, err, want)
		}
		time.Sleep(50 * time.Millisecond) // polling, not synchronisation
	}
}
