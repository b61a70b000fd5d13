package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// smallShard is what a 4 KiB object becomes: 4 KiB sealed (plus AEAD
// overhead) and cut into k=3 data shards of about 1.4 KiB.
const smallShard = 1400

// benchWriters is the number of concurrent clients, as in the 4 KiB
// gateway target (16 parallel S3 clients).
const benchWriters = 16

// benchNode is a real node on loopback: shards on disk (fsync), Pebble
// index on disk, reached through the Client.
type benchNode struct {
	c     *node.Client
	owner shard.PrivateKey
}

func startBenchNode(b *testing.B, cfg node.Config) *benchNode {
	b.Helper()
	st, err := node.NewDiskStore(b.TempDir(), shard.DefaultBlockSize)
	if err != nil {
		b.Fatal(err)
	}
	db, err := meta.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	key, _ := shard.GeneratePrivateKey(rand.Reader)
	owner, _ := shard.GeneratePrivateKey(rand.Reader)
	self, _ := shard.GeneratePrivateKey(rand.Reader)
	cfg.Key, cfg.Address, cfg.Capacity = key, "http://bench", 1<<40
	srv := node.NewServer(cfg, st, db, nil)
	ts := newLoopbackServer(srv)
	b.Cleanup(func() {
		ts.Close()
		db.Close()
	})
	return &benchNode{c: node.NewClient(ts.URL, self, nil, node.WithPeerID(key.Public())), owner: owner}
}

// item is one prepared store: the bytes, their ID and the owner's grant.
type item struct {
	data []byte
	id   shard.ID
	g    shard.Grant
}

// prepare makes n distinct small shards with their store grants, so that
// the timed loop measures the node and its client, not the owner's side.
func (bn *benchNode) prepare(b *testing.B, n int) []item {
	b.Helper()
	items := make([]item, n)
	buf := make([]byte, n*smallShard)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	lease := time.Now().Add(time.Hour).Unix()
	for i := range items {
		d := buf[i*smallShard : (i+1)*smallShard]
		id := shard.ComputeID(d, shard.DefaultBlockSize)
		g := shard.Grant{Op: shard.OpStore, Shard: id, Size: smallShard, LeaseExpiry: lease, Time: time.Now().UnixNano()}
		g.Sign(bn.owner)
		items[i] = item{data: d, id: id, g: g}
	}
	return items
}

// parallel runs op(i) for i in [0, n) on benchWriters goroutines.
func parallel(b *testing.B, n int, op func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchWriters)
	for range benchWriters {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := op(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure resets the timer and returns a function that reports ops/s and
// the CPU time per op of client and node together (the figure that
// matters on a shared machine: 2 cores give 2e6 CPU-µs a second).
func measure(b *testing.B) (report func()) {
	b.ResetTimer()
	start := cpuTime(b)
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// smallStoreModes are the node configurations the small-shard benchmarks
// compare.
var smallStoreModes = []struct {
	name string
	cfg  node.Config
}{
	{"file", node.Config{InlineMax: -1}},
	{"inline", node.Config{}},
}

// BenchmarkSmallStore stores distinct 1.4 KiB shards on one node from 16
// concurrent writers through the real Client over loopback, each store
// durable before it is answered.
func BenchmarkSmallStore(b *testing.B) {
	for _, m := range smallStoreModes {
		b.Run(m.name, func(b *testing.B) {
			bn := startBenchNode(b, m.cfg)
			items := bn.prepare(b, b.N)
			ctx := context.Background()
			report := measure(b)
			parallel(b, b.N, func(i int) error {
				it := items[i]
				_, err := bn.c.PutShard(ctx, it.id, bytes.NewReader(it.data), smallShard, it.g)
				return err
			})
			report()
		})
	}
}

// BenchmarkSmallGet reads whole 1.4 KiB shards from one node, 16 readers
// at a time, through the real Client over loopback.
func BenchmarkSmallGet(b *testing.B) {
	for _, m := range smallStoreModes {
		b.Run(m.name, func(b *testing.B) {
			bn := startBenchNode(b, m.cfg)
			items := bn.prepare(b, 1000)
			ctx := context.Background()
			parallel(b, len(items), func(i int) error {
				it := items[i]
				_, err := bn.c.PutShard(ctx, it.id, bytes.NewReader(it.data), smallShard, it.g)
				return err
			})
			report := measure(b)
			parallel(b, b.N, func(i int) error {
				it := items[i%len(items)]
				rd, err := bn.c.GetShard(ctx, it.id, 0, -1)
				if err != nil {
					return err
				}
				defer rd.Close()
				got, err := io.ReadAll(rd)
				if err == nil && !bytes.Equal(got, it.data) {
					err = fmt.Errorf("shard %s: wrong bytes", it.id)
				}
				return err
			})
			report()
		})
	}
}

// newLoopbackServer serves srv on a loopback port with its own limits.
func newLoopbackServer(srv *node.Server) *httptest.Server {
	ts := httptest.NewUnstartedServer(srv)
	ts.Config = srv.HTTPServer()
	ts.Start()
	return ts
}
