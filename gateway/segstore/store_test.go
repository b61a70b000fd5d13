package segstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"ishtar/meta"
	"ishtar/shard"
)

// memPeer is an honest in-memory node, but for the bytes a test spoils.
type memPeer struct {
	key       shard.PrivateKey
	blockSize int
	mu        sync.Mutex
	shards    map[shard.ID][]byte
}

func (p *memPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	data, err := io.ReadAll(body)
	if err != nil || int64(len(data)) != size || shard.Verify(id, data, p.blockSize) != nil {
		return shard.Receipt{}, fmt.Errorf("mem: bad shard %s: %v", id, err)
	}
	p.mu.Lock()
	p.shards[id] = data
	p.mu.Unlock()
	r := shard.Receipt{Shard: id, Size: size, Owner: g.Owner, LeaseExpiry: g.LeaseExpiry, Time: g.Time}
	r.Sign(p.key)
	return r, nil
}

func (p *memPeer) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	data, ok := p.shards[id]
	if !ok {
		return nil, ErrShardNotFound
	}
	return io.NopCloser(bytes.NewReader(bytes.Clone(data[off : off+n]))), nil
}

func (p *memPeer) DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.shards[id]; !ok {
		return ErrShardNotFound
	}
	delete(p.shards, id)
	return nil
}

// TestStoreRoundTrip: Put journals every shard before it is sent and
// returns records with receipts of N distinct peers; ReadRange returns the
// bytes, also when a data shard's peer lies; FetchShard verifies one
// shard and counts a false one as a lie; Release deletes every shard.
func TestStoreRoundTrip(t *testing.T) {
	seed, _ := shard.NewSeed(rand.Reader)
	owner := seed.Keys()
	var dir StaticDirectory
	var mems []*memPeer
	for i := range 6 {
		k, _ := shard.GeneratePrivateKey(rand.Reader)
		m := &memPeer{key: k, blockSize: shard.DefaultBlockSize, shards: make(map[shard.ID][]byte)}
		mems = append(mems, m)
		dir = append(dir, PeerInfo{ID: k.Public(), Addr: distinctAddr(i), Peer: m})
	}
	cfg := testConfig()
	obs := &observingDir{StaticDirectory: dir, lied: map[shard.PublicKey]int{}}
	cfg.Owner, cfg.Directory, cfg.Log = owner, obs, slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := testCode.Params

	plain := make([]byte, 300<<10)
	rand.Read(plain)
	dk, _ := shard.NewDataKey(rand.Reader)
	wrapped, err := owner.Wrap.Wrap(dk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := meta.Segment{ID: segKey(7), Number: 0, WrappedKey: wrapped, PlainSize: int64(len(plain)),
		SealedSize: shard.SealedSize(int64(len(plain)), p.BlockSize), K: p.K, N: p.N, BlockSize: p.BlockSize, Refs: 1}
	rand.Read(rec.Salt[:])
	sctx := shard.SegmentContext{Object: rec.Object, Segment: rec.Number, Salt: rec.Salt}
	enc := s.Buffer(int(shard.EncodedSize(p, rec.SealedSize)))
	shard.NewSegmentCipher(dk, sctx, p.BlockSize).Seal(enc[:0], plain)

	var journaled []meta.PendingShard
	recs, failed, err := s.Put(context.Background(), rec.ID, testCode, enc, rec.SealedSize, func(ps []meta.PendingShard) error {
		journaled = append(journaled[:0], ps...)
		return nil
	})
	s.PutBuffer(enc)
	if err != nil || len(failed) != 0 || len(recs) != p.N || len(journaled) != p.N {
		t.Fatalf("put: %v, %d failed, %d records, %d journaled", err, len(failed), len(recs), len(journaled))
	}
	nodes := map[shard.PublicKey]bool{}
	for i, r := range recs {
		if !r.Stored() || r.ID != journaled[i].Shard || r.Node != journaled[i].Node || nodes[r.Node] {
			t.Fatalf("record %d: %+v, journaled %+v", i, r, journaled[i])
		}
		nodes[r.Node] = true
	}
	rec.Shards = recs

	read := func(off, n int64) {
		t.Helper()
		v, err := s.Open(rec)
		if err != nil {
			t.Fatal(err)
		}
		got, buf, err := s.ReadRange(context.Background(), v, off, n)
		if err != nil {
			t.Fatalf("read [%d, +%d): %v", off, n, err)
		}
		if !bytes.Equal(got, plain[off:off+n]) {
			t.Fatalf("read [%d, +%d): wrong bytes", off, n)
		}
		s.PutBuffer(buf)
	}
	read(0, rec.PlainSize)
	read(70<<10, 100)

	holder := func(i int) (PeerInfo, *memPeer) {
		for j, d := range dir {
			if d.ID == recs[i].Node {
				return d, mems[j]
			}
		}
		t.Fatalf("no holder of shard %d", i)
		return PeerInfo{}, nil
	}
	size := shard.ShardSize(p, rec.SealedSize)
	for i := range recs {
		pi, _ := holder(i)
		b, err := s.FetchShard(context.Background(), pi, recs[i].ID, size, p.BlockSize)
		if err != nil {
			t.Fatalf("fetch shard %d: %v", i, err)
		}
		s.PutBuffer(b)
	}
	// The holder of data shard 0 spoils a byte: a whole fetch of it fails
	// and counts as a lie; a read still gets the right bytes.
	liar, lm := holder(0)
	lm.mu.Lock()
	lm.shards[recs[0].ID][10] ^= 1
	lm.mu.Unlock()
	if _, err := s.FetchShard(context.Background(), liar, recs[0].ID, size, p.BlockSize); err == nil || s.Reputation(liar.ID) >= 1 {
		t.Fatalf("false shard fetched: %v, reputation %v", err, s.Reputation(liar.ID))
	}
	if obs.liedOf(liar.ID) == 0 {
		t.Fatal("the directory (the peer registry) was not told of the lie")
	}
	read(0, 1000)
	if s.Stats().AuthFailures == 0 {
		t.Fatal("the spoilt range was not caught by authentication")
	}

	peers := s.PeerIndex()
	for i, r := range recs {
		done, wait, err := s.Release(context.Background(), peers, r.ID, r.Node, size)
		if !done || wait != 0 || err != nil {
			t.Fatalf("release %d: done %v wait %v err %v", i, done, wait, err)
		}
	}
	for _, m := range mems {
		if len(m.shards) != 0 {
			t.Fatalf("a peer holds %d shards after release", len(m.shards))
		}
	}
	if st := s.Stats(); st.Released != int64(p.N) || st.ShardsStored != int64(p.N) {
		t.Fatalf("stats %+v", st)
	}
}

// observingDir is a directory that records what the store tells it of
// lies, as the peer registry does.
type observingDir struct {
	StaticDirectory
	mu   sync.Mutex
	lied map[shard.PublicKey]int
}

func (d *observingDir) Contact(shard.PublicKey, bool) {}

func (d *observingDir) Lied(id shard.PublicKey) {
	d.mu.Lock()
	d.lied[id]++
	d.mu.Unlock()
}

func (d *observingDir) liedOf(id shard.PublicKey) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lied[id]
}

// delegatingPeer stores like its memPeer but answers, as a node that
// delegated, a receipt naming holder as the shard's holder.
type delegatingPeer struct {
	*memPeer
	holder shard.PublicKey
}

func (p delegatingPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	r, err := p.memPeer.PutShard(ctx, id, body, size, g)
	if err != nil {
		return r, err
	}
	r.Holder = p.holder
	r.Sign(p.key)
	return r, nil
}

// A receipt whose declared holder holds another shard of the segment is
// not taken: the shard is released there and placed elsewhere, so no node
// holds two shards of a segment through delegation.
func TestPutRefusesSameHolder(t *testing.T) {
	seed, _ := shard.NewSeed(rand.Reader)
	var dir StaticDirectory
	var keys []shard.PrivateKey
	for range 7 {
		k, _ := shard.GeneratePrivateKey(rand.Reader)
		keys = append(keys, k)
	}
	for i, k := range keys {
		m := &memPeer{key: k, blockSize: shard.DefaultBlockSize, shards: make(map[shard.ID][]byte)}
		var p Peer = m
		if i == 0 {
			p = delegatingPeer{m, keys[1].Public()} // node 0 says node 1 holds its shards
		}
		dir = append(dir, PeerInfo{ID: k.Public(), Addr: distinctAddr(i), Peer: p})
	}
	cfg := testConfig()
	cfg.Owner, cfg.Directory, cfg.Log = seed.Keys(), dir, slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := testCode.Params
	refused := 0
	for seg := range 20 {
		sealed := shard.SealedSize(10<<10, p.BlockSize)
		enc := make([]byte, shard.EncodedSize(p, sealed))
		rand.Read(enc)
		recs, failed, err := s.Put(context.Background(), segKey(seg), testCode, enc, sealed, func([]meta.PendingShard) error { return nil })
		if err != nil {
			t.Fatalf("segment %d: %v", seg, err)
		}
		holders := map[[32]byte]bool{}
		for _, r := range recs {
			h := r.Holder
			if h == ([32]byte{}) {
				h = r.Node
			}
			if holders[h] {
				t.Fatalf("segment %d: two shards held by %x", seg, h[:4])
			}
			holders[h] = true
		}
		for _, f := range failed {
			if f.Node == keys[0].Public() {
				refused++
			}
		}
	}
	if refused == 0 {
		t.Fatal("node 0's delegated receipt never clashed with node 1 in 20 segments of 5 shards on 7 nodes")
	}
}
