package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// benchPeer is a storage node that costs as little as possible, so that
// benchmarks measure the gateway: it signs receipts but neither verifies
// nor (unless keep) retains what it is sent.
type benchPeer struct {
	key  shard.PrivateKey
	keep bool
	mu   sync.RWMutex
	data map[shard.ID][]byte
}

func (p *benchPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	var buf []byte
	if p.keep {
		buf = make([]byte, size)
		if _, err := io.ReadFull(body, buf); err != nil {
			return shard.Receipt{}, err
		}
		p.mu.Lock()
		p.data[id] = buf
		p.mu.Unlock()
	} else if _, err := io.Copy(io.Discard, body); err != nil {
		return shard.Receipt{}, err
	}
	r := shard.Receipt{Shard: id, Size: size, Owner: g.Owner, LeaseExpiry: g.LeaseExpiry, Time: g.Time}
	r.Sign(p.key)
	return r, nil
}

func (p *benchPeer) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	p.mu.RLock()
	b, ok := p.data[id]
	p.mu.RUnlock()
	if !ok {
		return nil, segstore.ErrShardNotFound
	}
	return io.NopCloser(bytes.NewReader(b[off : off+n])), nil
}

func (p *benchPeer) DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error {
	p.mu.Lock()
	delete(p.data, id)
	p.mu.Unlock()
	return nil
}

func benchGateway(b *testing.B, keep bool, mod func(*Config)) *Gateway {
	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	var dir segstore.StaticDirectory
	for i := range 5 {
		k, _ := shard.GeneratePrivateKey(rand.Reader)
		dir = append(dir, segstore.PeerInfo{ID: k.Public(), Addr: fmt.Sprintf("http://10.0.0.%d:1", i),
			Peer: &benchPeer{key: k, keep: keep, data: make(map[shard.ID][]byte)}})
	}
	seed, _ := shard.NewSeed(rand.Reader)
	cfg := Config{}
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg, db, seed.Keys(), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	if err := g.CreateBucket(context.Background(), "b"); err != nil {
		b.Fatal(err)
	}
	return g
}

// clients is the number of concurrent clients of the benchmarks, as in
// the targets (4 clients for 64 MiB objects on 2 cores).
const clients = 4

func benchPut(b *testing.B, size int, par int, mod func(*Config)) {
	g := benchGateway(b, false, mod)
	data := randBytes(size, 1)
	var n atomic.Int64
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.SetParallelism(max(1, par/max(1, runtimeProcs())))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := fmt.Sprintf("k%d", n.Add(1))
			if _, err := g.PutObject(context.Background(), s3api.PutObjectInput{Bucket: "b", Key: key,
				Body: bytes.NewReader(data), Size: int64(size), Checksum: noChecksum}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchGet(b *testing.B, size int, par int, mod func(*Config)) {
	g := benchGateway(b, true, mod)
	data := randBytes(size, 2)
	const keys = 8
	for i := range keys {
		if _, err := g.PutObject(context.Background(), putInput("b", fmt.Sprint(i), data)); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.SetParallelism(max(1, par/max(1, runtimeProcs())))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 256<<10)
		for pb.Next() {
			ctx := context.Background()
			obj, err := g.GetObject(ctx, "b", fmt.Sprint(n.Add(1)%keys))
			if err != nil {
				b.Error(err)
				return
			}
			rc, err := obj.Open(ctx, 0, obj.Size)
			if err != nil {
				b.Error(err)
				return
			}
			got, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
			rc.Close()
			if err != nil || got != int64(size) {
				b.Errorf("read %d bytes: %v", got, err)
				return
			}
		}
	})
	b.ReportMetric(float64(g.store.Stats().Hedges), "hedges")
	b.ReportMetric(float64(g.store.Stats().Reconstructions), "rebuilds")
}

func BenchmarkPutObject64MiB(b *testing.B) { benchPut(b, 64<<20, clients, nil) }
func BenchmarkGetObject64MiB(b *testing.B) { benchGet(b, 64<<20, clients, nil) }

// The 4 KiB benchmarks run with the object inline (InlineMax 4 KiB, the
// daemon's default) and on peers (InlineMax 0).
func BenchmarkPutObject4KiB(b *testing.B) { bench4KiB(b, benchPut) }
func BenchmarkGetObject4KiB(b *testing.B) { bench4KiB(b, benchGet) }

func bench4KiB(b *testing.B, run func(b *testing.B, size, par int, mod func(*Config))) {
	for _, c := range []struct {
		name  string
		limit int64
	}{{"inline", DefaultInlineMax}, {"sharded", 0}} {
		b.Run(c.name, func(b *testing.B) { run(b, 4<<10, 16, func(cfg *Config) { cfg.InlineMax = c.limit }) })
	}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkListObjects lists pages of 1,000 keys out of 100,000, with and
// without a delimiter; one op is one page.
func BenchmarkListObjects(b *testing.B) {
	g := benchGateway(b, false, nil)
	const n = 100_000
	for lo := 0; lo < n; lo += 10_000 {
		err := g.db.Update(func(bt *meta.Batch) error {
			for i := lo; i < lo+10_000; i++ {
				o := meta.Object{Bucket: "b", Key: fmt.Sprintf("dir%02d/file-%06d", i%50, i), Size: int64(i), ETag: md5hex(nil),
					Modified: 1, Segments: []meta.SegmentRef{{Size: int64(i)}}}
				if err := bt.PutObject(o); err != nil {
					return err
				}
			}
			return nil
		}, meta.NoSync())
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, delim := range []string{"", "/"} {
		b.Run("delimiter="+delim, func(b *testing.B) {
			after := ""
			for b.Loop() {
				out, err := g.ListObjects(context.Background(), s3api.ListObjectsInput{Bucket: "b", Prefix: "dir07/",
					Delimiter: delim, After: after, MaxKeys: 1000})
				if err != nil || len(out.Objects) == 0 {
					b.Fatalf("%d objects, %v", len(out.Objects), err)
				}
				after = out.NextAfter
				if !out.IsTruncated {
					after = ""
				}
			}
		})
	}
	b.Run("whole-bucket", func(b *testing.B) {
		after := ""
		for b.Loop() {
			out, err := g.ListObjects(context.Background(), s3api.ListObjectsInput{Bucket: "b", After: after, MaxKeys: 1000})
			if err != nil || len(out.Objects) != 1000 {
				b.Fatalf("%d objects, %v", len(out.Objects), err)
			}
			after = out.NextAfter
			if !out.IsTruncated || after >= "dir49/file-099000" {
				after = ""
			}
		}
	})
}
