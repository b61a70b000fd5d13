package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// Lies a lyingStore can tell about the shards it serves.
const (
	honest int32 = iota
	flipBits
	truncate
	otherShard
)

// lyingStore stores honestly but, once told to, serves altered bytes for
// one shard.
type lyingStore struct {
	node.Store
	lie    atomic.Int32
	target atomic.Pointer[shard.ID]
}

func (s *lyingStore) tell(lie int32, id shard.ID) {
	s.target.Store(&id)
	s.lie.Store(lie)
}

func (s *lyingStore) Open(ctx context.Context, id shard.ID) (node.Reader, error) {
	lie := s.lie.Load()
	if t := s.target.Load(); t == nil || *t != id {
		lie = honest
	}
	if lie == otherShard {
		var other shard.ID
		err := s.Store.Walk(ctx, func(in node.Info) error {
			if in.ID != id {
				other = in.ID
				return errors.New("found")
			}
			return nil
		})
		if other.IsZero() {
			return nil, fmt.Errorf("no other shard: %w", err)
		}
		id = other
	}
	r, err := s.Store.Open(ctx, id)
	if err != nil || lie == honest || lie == otherShard {
		return r, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	switch lie {
	case flipBits:
		b[len(b)/2] ^= 0x04
	case truncate:
		b = b[:len(b)-1000]
	}
	return memReader{bytes.NewReader(b)}, nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

// netNode is one node of the test network.
type netNode struct {
	key  shard.PrivateKey
	srv  *node.Server
	ts   *httptest.Server
	st   *lyingStore
	peer *node.Client // the owner's client of this node
}

func (n *netNode) start(t *testing.T, self shard.PrivateKey) {
	n.ts = httptest.NewUnstartedServer(n.srv)
	n.ts.Config = n.srv.HTTPServer()
	n.ts.Start()
	t.Cleanup(n.ts.Close)
	n.peer = node.NewClient(n.ts.URL, self, nil, node.WithPeerID(n.key.Public()))
}

func startNetwork(t *testing.T, count int, ownerNode shard.PrivateKey) []*netNode {
	nodes := make([]*netNode, count)
	for i := range nodes {
		key, err := shard.GeneratePrivateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		db, err := meta.Open(fmt.Sprint("node", i), meta.InMemory())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st := &lyingStore{Store: node.NewMemStore(shard.DefaultBlockSize)}
		cfg := node.Config{Key: key, Address: fmt.Sprintf("http://node%d", i), Capacity: 1 << 30}
		nodes[i] = &netNode{key: key, st: st, srv: node.NewServer(cfg, st, db, nil)}
		nodes[i].start(t, ownerNode)
	}
	return nodes
}

// segment is the owner's manifest entry for one segment.
type segment struct {
	ctx        shard.SegmentContext
	plainSize  int
	sealedSize int64
	ids        []shard.ID
	holders    []int // node index of each shard
}

func TestNetworkStoresAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 40 MiB through five nodes")
	}
	ctx := context.Background()
	p := shard.DefaultParams()
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	owner := seed.Keys().Signing
	ownerNode, err := shard.GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := shard.NewDataKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startNetwork(t, p.N, ownerNode)

	object := make([]byte, 40<<20)
	if _, err := rand.Read(object); err != nil {
		t.Fatal(err)
	}
	var obj [16]byte
	copy(obj[:], "object-0")
	const segSize = 16 << 20
	var manifest []segment
	for i := 0; i*segSize < len(object); i++ {
		plain := object[i*segSize : min((i+1)*segSize, len(object))]
		seg := segment{ctx: shard.SegmentContext{Object: obj, Segment: uint64(i)}, plainSize: len(plain)}
		if _, err := rand.Read(seg.ctx.Salt[:]); err != nil {
			t.Fatal(err)
		}
		sealed := shard.NewSegmentCipher(dk, seg.ctx, p.BlockSize).Seal(nil, plain)
		seg.sealedSize = int64(len(sealed))
		shards, err := shard.Encode(p, sealed)
		if err != nil {
			t.Fatal(err)
		}
		for j, sh := range shards {
			id := shard.ComputeID(sh, p.BlockSize)
			holder := (i + j) % len(nodes) // five distinct nodes per segment
			g := shard.Grant{Op: shard.OpStore, Shard: id, Size: int64(len(sh)),
				LeaseExpiry: time.Now().Add(24 * time.Hour).Unix(), Time: time.Now().UnixNano()}
			g.Sign(owner)
			rc, err := nodes[holder].peer.PutShard(ctx, id, bytes.NewReader(sh), int64(len(sh)), g)
			if err != nil {
				t.Fatalf("segment %d shard %d on node %d: %v", i, j, holder, err)
			}
			if rc.Node != nodes[holder].key.Public() {
				t.Fatalf("receipt from %s", rc.Node)
			}
			seg.ids, seg.holders = append(seg.ids, id), append(seg.holders, holder)
		}
		manifest = append(manifest, seg)
	}
	if len(manifest) != 3 {
		t.Fatalf("%d segments, want 3", len(manifest))
	}

	// Two nodes leave: every byte still comes back.
	nodes[1].ts.Close()
	nodes[3].ts.Close()
	got, caught := readObject(t, nodes, manifest, dk, p)
	if !bytes.Equal(got, object) {
		t.Fatal("object read with two nodes down differs")
	}
	if caught != 0 {
		t.Fatalf("%d honest shards failed verification", caught)
	}

	// They come back. In each segment, the node holding its first data
	// shard lies about it, each in another way: flipped bits, truncated
	// bytes, another shard's bytes.
	nodes[1].start(t, ownerNode)
	nodes[3].start(t, ownerNode)
	for i, lie := range []int32{flipBits, truncate, otherShard} {
		seg := manifest[i]
		if seg.holders[0] != i {
			t.Fatalf("segment %d shard 0 is on node %d", i, seg.holders[0])
		}
		nodes[i].st.tell(lie, seg.ids[0])
	}
	got, caught = readObject(t, nodes, manifest, dk, p)
	if !bytes.Equal(got, object) {
		t.Fatal("object read with lying nodes differs")
	}
	if caught != 3 {
		t.Fatalf("caught %d lies, want 3", caught)
	}
}

// readObject reads every segment, data shards first, verifying each shard
// against its ID and falling back to the next shard on any failure. It
// returns the plaintext and how many shards failed verification.
func readObject(t *testing.T, nodes []*netNode, manifest []segment, dk shard.DataKey, p shard.Params) ([]byte, int) {
	t.Helper()
	ctx := context.Background()
	var out []byte
	caught := 0
	for i, seg := range manifest {
		shards := make([][]byte, p.N)
		have := 0
		for j := 0; j < p.N && have < p.K; j++ {
			b, err := fetch(ctx, nodes[seg.holders[j]].peer, seg.ids[j], shard.ShardSize(p, seg.sealedSize))
			if err != nil {
				continue // offline or refusing: try the next shard
			}
			if err := shard.Verify(seg.ids[j], b, p.BlockSize); err != nil {
				if !errors.Is(err, shard.ErrCorrupt) {
					t.Fatal(err)
				}
				caught++
				continue
			}
			shards[j] = b
			have++
		}
		sealed, err := shard.Reconstruct(p, shards, seg.sealedSize)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		// Open into a buffer of the plaintext size: it appends block by block.
		plain, err := shard.NewSegmentCipher(dk, seg.ctx, p.BlockSize).Open(make([]byte, 0, seg.plainSize), sealed)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if len(plain) != seg.plainSize {
			t.Fatalf("segment %d: %d bytes, want %d", i, len(plain), seg.plainSize)
		}
		out = append(out, plain...)
	}
	return out, caught
}

// fetch reads a whole shard of the expected size; a peer sending more or
// less gives bytes that fail verification.
func fetch(ctx context.Context, c *node.Client, id shard.ID, size int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rd, err := c.GetShard(ctx, id, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b := make([]byte, size+1)
	n, err := io.ReadFull(rd, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:n], err
}
