package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

const benchShardSize = 64 << 20

// benchUploader uploads one 64 MiB body per call.
type benchUploader func(b *testing.B)

// nodeUploader stores the shard on a real node (disk store with fsync,
// Pebble index on disk) through the Client; each call stores it again
// under a fresh grant.
func nodeUploader(b *testing.B, data []byte) benchUploader {
	id := shard.ComputeID(data, shard.DefaultBlockSize)
	st, err := node.NewDiskStore(b.TempDir(), shard.DefaultBlockSize)
	if err != nil {
		b.Fatal(err)
	}
	db, err := meta.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	key, _ := shard.GeneratePrivateKey(rand.Reader)
	owner, _ := shard.GeneratePrivateKey(rand.Reader)
	self, _ := shard.GeneratePrivateKey(rand.Reader)
	srv := node.NewServer(node.Config{Key: key, Address: "http://bench", Capacity: 1 << 40}, st, db, nil)
	ts := httptest.NewUnstartedServer(srv)
	ts.Config = srv.HTTPServer()
	ts.Start()
	b.Cleanup(ts.Close)
	c := node.NewClient(ts.URL, self, nil, node.WithPeerID(key.Public()))
	return func(b *testing.B) {
		g := shard.Grant{Op: shard.OpStore, Shard: id, Size: int64(len(data)),
			LeaseExpiry: time.Now().Add(time.Hour).Unix(), Time: time.Now().UnixNano()}
		g.Sign(owner)
		if _, err := c.PutShard(context.Background(), id, bytes.NewReader(data), int64(len(data)), g); err != nil {
			b.Fatal(err)
		}
	}
}

// plainUploader posts the body to a bare handler that copies it to a new
// file in the same kind of directory, fsyncs and closes it.
func plainUploader(b *testing.B, data []byte) benchUploader {
	dir := b.TempDir()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.CreateTemp(dir, "upload-*")
		if err == nil {
			// The same 256 KiB buffer as the node, so only the work differs.
			_, err = io.CopyBuffer(struct{ io.Writer }{f}, r.Body, make([]byte, 256<<10))
		}
		if err == nil {
			err = f.Sync()
		}
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	b.Cleanup(ts.Close)
	hc := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	return func(b *testing.B) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, ts.URL, bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}

// BenchmarkStoreShard compares storing a 64 MiB shard on a node (Merkle
// hashing while writing, fsync, rename, index) with a plain HTTP upload to
// an fsynced file, over loopback. "interleaved" runs one of each per
// iteration, so both see the same machine load, and reports both rates
// and node/plain.
func BenchmarkStoreShard(b *testing.B) {
	data := make([]byte, benchShardSize)
	if _, err := rand.Read(data); err != nil {
		b.Fatal(err)
	}
	b.Run("node", func(b *testing.B) {
		up := nodeUploader(b, data)
		b.SetBytes(benchShardSize)
		for b.Loop() {
			up(b)
		}
	})
	b.Run("plain", func(b *testing.B) {
		up := plainUploader(b, data)
		b.SetBytes(benchShardSize)
		for b.Loop() {
			up(b)
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		nodeUp, plainUp := nodeUploader(b, data), plainUploader(b, data)
		var nodeTime, plainTime time.Duration
		b.SetBytes(2 * benchShardSize)
		for b.Loop() {
			start := time.Now()
			nodeUp(b)
			mid := time.Now()
			plainUp(b)
			nodeTime += mid.Sub(start)
			plainTime += time.Since(mid)
		}
		mbs := func(d time.Duration) float64 { return float64(b.N) * benchShardSize / 1e6 / d.Seconds() }
		b.ReportMetric(mbs(nodeTime), "node-MB/s")
		b.ReportMetric(mbs(plainTime), "plain-MB/s")
		b.ReportMetric(plainTime.Seconds()/nodeTime.Seconds(), "node/plain")
	})
}

func ExampleClient_PutShard() {
	// A node and an owner, in memory.
	db, _ := meta.Open("example", meta.InMemory())
	defer db.Close()
	nodeKey, _ := shard.GeneratePrivateKey(rand.Reader)
	srv := node.NewServer(node.Config{Key: nodeKey, Address: "http://example", Capacity: 1 << 20},
		node.NewMemStore(shard.DefaultBlockSize), db, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	callerKey, _ := shard.GeneratePrivateKey(rand.Reader)
	owner, _ := shard.GeneratePrivateKey(rand.Reader)

	data := []byte("an encrypted, erasure-coded shard")
	id := shard.ComputeID(data, shard.DefaultBlockSize)
	g := shard.Grant{Op: shard.OpStore, Shard: id, Size: int64(len(data)),
		LeaseExpiry: time.Now().Add(24 * time.Hour).Unix(), Time: time.Now().UnixNano()}
	g.Sign(owner)

	c := node.NewClient(ts.URL, callerKey, nil)
	ctx := context.Background()
	rc, err := c.PutShard(ctx, id, bytes.NewReader(data), int64(len(data)), g)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("held by the node:", rc.Node == nodeKey.Public())

	rd, _ := c.GetShard(ctx, id, 3, 9)
	defer rd.Close()
	part, _ := io.ReadAll(rd)
	fmt.Printf("%s\n", part)
	// Output:
	// held by the node: true
	// encrypted
}
