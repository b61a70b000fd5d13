package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// testNet is a gateway over fake peers.
type testNet struct {
	t      testing.TB
	owner  shard.OwnerKeys
	peers  []*fakePeer
	faults []*faulty
	dir    segstore.StaticDirectory
	db     *meta.DB
	g      *Gateway
	cfg    Config
	skew   atomic.Int64 // added to the gateway's clock
}

// testConfig keeps tests fast: small segments, quick hedging; 3 of 5
// always, unless a test asks for another code.
func testConfig() Config {
	return Config{Params: shard.DefaultParams(), SegmentSize: 256 << 10, HedgeAfter: 5 * time.Second, RequestTimeout: time.Minute}
}

// newNet starts a gateway over n fake peers with an in-memory catalog.
func newNet(t testing.TB, n int, mod func(*Config)) *testNet {
	db, err := meta.Open("", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newNetDB(t, n, db, mod)
}

func newNetDB(t testing.TB, n int, db *meta.DB, mod func(*Config)) *testNet {
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNet{t: t, owner: seed.Keys(), db: db, cfg: testConfig()}
	if mod != nil {
		mod(&tn.cfg)
	}
	bs := tn.cfg.Params.BlockSize
	if bs == 0 {
		bs = shard.DefaultBlockSize
	}
	for i := range n {
		p := newFakePeer(tn.owner.Signing.Public(), bs)
		f := &faulty{inner: p}
		tn.peers = append(tn.peers, p)
		tn.faults = append(tn.faults, f)
		tn.dir = append(tn.dir, segstore.PeerInfo{ID: p.id, Addr: "http://10.0." + string(rune('0'+i/10)) + "." + string(rune('0'+i%10)) + ":7000", Peer: f})
	}
	tn.open()
	return tn
}

// open (re)creates the gateway over the catalog.
func (tn *testNet) open() {
	g, err := New(tn.cfg, tn.db, tn.owner, tn.dir, slog.New(slog.DiscardHandler))
	if err != nil {
		tn.t.Fatal(err)
	}
	g.now = func() time.Time { return time.Now().Add(time.Duration(tn.skew.Load())) }
	tn.g = g
}

// freeze stops the gateway's clock where it is; advance still moves it.
func (tn *testNet) freeze() {
	base := time.Now()
	tn.g.now = func() time.Time { return base.Add(time.Duration(tn.skew.Load())) }
}

// advance moves the gateway's clock forward.
func (tn *testNet) advance(d time.Duration) { tn.skew.Add(int64(d)) }

func noChecksum() s3api.Checksum { return s3api.Checksum{} }

func putInput(bucket, key string, data []byte) s3api.PutObjectInput {
	return s3api.PutObjectInput{Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		Checksum: noChecksum}
}

func (tn *testNet) bucket(name string) {
	tn.t.Helper()
	if err := tn.g.CreateBucket(context.Background(), name); err != nil {
		tn.t.Fatal(err)
	}
}

func (tn *testNet) put(bucket, key string, data []byte) s3api.PutObjectOutput {
	tn.t.Helper()
	out, err := tn.g.PutObject(context.Background(), putInput(bucket, key, data))
	if err != nil {
		tn.t.Fatalf("put %s/%s (%d bytes): %v", bucket, key, len(data), err)
	}
	if want := md5hex(data); out.ETag != want {
		tn.t.Fatalf("put %s/%s: ETag %s, want %s", bucket, key, out.ETag, want)
	}
	return out
}

func (tn *testNet) read(ctx context.Context, bucket, key string, off, n int64) ([]byte, error) {
	obj, err := tn.g.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = obj.Size - off
	}
	rc, err := obj.Open(ctx, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// get reads a whole object and fails the test on error.
func (tn *testNet) get(bucket, key string) []byte {
	tn.t.Helper()
	b, err := tn.read(context.Background(), bucket, key, 0, -1)
	if err != nil {
		tn.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b
}

// held returns every shard held by some peer, with the number of holders.
func (tn *testNet) held() map[shard.ID]int {
	m := make(map[shard.ID]int)
	for _, p := range tn.peers {
		for id := range p.ids() {
			m[id]++
		}
	}
	return m
}

// segments returns the segment records of an object.
func (tn *testNet) segments(bucket, key string) []meta.Segment {
	tn.t.Helper()
	_, segs, err := tn.g.snapshot(bucket, key)
	if err != nil {
		tn.t.Fatal(err)
	}
	return segs
}

// shardsOf returns the shard IDs of an object's segments.
func (tn *testNet) shardsOf(bucket, key string) map[shard.ID]bool {
	m := make(map[shard.ID]bool)
	for _, s := range tn.segments(bucket, key) {
		for _, sh := range s.Shards {
			m[sh.ID] = true
		}
	}
	return m
}

// releaseAll lets the release delay pass and drains the queue once.
func (tn *testNet) releaseAll() {
	tn.t.Helper()
	tn.advance(max(0, tn.g.cfg.ReleaseDelay) + time.Second)
	if _, err := tn.g.releaseDue(context.Background()); err != nil {
		tn.t.Fatal(err)
	}
}

func (tn *testNet) pendingReleases() int {
	tn.t.Helper()
	rs, err := tn.db.Releases([32]byte{}, [32]byte{}, 0)
	if err != nil {
		tn.t.Fatal(err)
	}
	return len(rs)
}

func (tn *testNet) counter(name string) int64 {
	tn.t.Helper()
	v, err := tn.db.Counter(name)
	if err != nil {
		tn.t.Fatal(err)
	}
	return v
}

// peerIndex returns the position of the peer with id.
func (tn *testNet) peerIndex(id [32]byte) int {
	for i, p := range tn.peers {
		if p.id == id {
			return i
		}
	}
	tn.t.Fatalf("no peer %x", id)
	return -1
}

func randBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	r.Read(b)
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// wantCode checks that err is the S3 error with code.
func wantCode(t testing.TB, err error, code *s3api.Error) {
	t.Helper()
	var se *s3api.Error
	if !errors.As(err, &se) || !errors.Is(err, code) {
		t.Fatalf("error %v, want S3 %s", err, code.Code)
	}
}
