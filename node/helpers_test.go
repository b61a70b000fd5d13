package node

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

const testLeafSize = 4096

var keySeq atomic.Uint64

// newKey returns a fresh deterministic key.
func newKey(t testing.TB) shard.PrivateKey {
	t.Helper()
	seed := make([]byte, 32)
	r := rand.New(rand.NewPCG(keySeq.Add(1), 99))
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	k, err := shard.PrivateKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testNode is a Server on a loopback port.
type testNode struct {
	key shard.PrivateKey
	srv *Server
	ts  *httptest.Server
	st  Store
	db  *meta.DB
	cfg Config
}

type nodeOpts struct {
	cfg   func(*Config)
	st    Store
	db    *meta.DB
	key   *shard.PrivateKey
	noCap bool
}

func startNode(t testing.TB, o nodeOpts) *testNode {
	t.Helper()
	n := &testNode{st: o.st, db: o.db}
	if o.key != nil {
		n.key = *o.key
	} else {
		n.key = newKey(t)
	}
	if n.st == nil {
		n.st = NewMemStore(testLeafSize)
	}
	if n.db == nil {
		db, err := meta.Open("node", meta.InMemory())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		n.db = db
	}
	n.cfg = Config{Key: n.key, Address: "http://placeholder", Capacity: 1 << 30, LeafSize: testLeafSize}
	if o.cfg != nil {
		o.cfg(&n.cfg)
	}
	n.srv = NewServer(n.cfg, n.st, n.db, nil)
	n.ts = httptest.NewUnstartedServer(n.srv)
	n.ts.Config = n.srv.HTTPServer()
	n.ts.Start()
	t.Cleanup(n.ts.Close)
	return n
}

// client returns a client of n signing as a new node key.
func (n *testNode) client(t testing.TB, opts ...ClientOption) *Client {
	return NewClient(n.ts.URL, newKey(t), nil, opts...)
}

// testShard returns pseudo-random shard bytes and their ID.
func testShard(seed uint64, size int) ([]byte, shard.ID) {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b, shard.ComputeID(b, testLeafSize)
}

var (
	grantMu   sync.Mutex
	grantLast int64
)

// grantTime returns strictly increasing unix nanoseconds near now.
func grantTime() int64 {
	grantMu.Lock()
	defer grantMu.Unlock()
	grantLast = max(grantLast+1, time.Now().UnixNano())
	return grantLast
}

func newGrant(owner shard.PrivateKey, op shard.GrantOp, id shard.ID, size int64) shard.Grant {
	g := shard.Grant{Op: op, Shard: id, Size: size, LeaseExpiry: time.Now().Add(90 * 24 * time.Hour).Unix(), Time: grantTime()}
	g.Sign(owner)
	return g
}

func put(t testing.TB, c *Client, owner shard.PrivateKey, b []byte, id shard.ID) shard.Receipt {
	t.Helper()
	rc, err := c.PutShard(context.Background(), id, bytes.NewReader(b), int64(len(b)), newGrant(owner, shard.OpStore, id, int64(len(b))))
	if err != nil {
		t.Fatalf("PutShard: %v", err)
	}
	return rc
}

func wantCode(t testing.TB, err error, want *Error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, want) {
		t.Fatalf("got error %v, want code %s", err, want.Code)
	}
	if e.Status != want.Status {
		t.Fatalf("status %d for code %s, want %d", e.Status, e.Code, want.Status)
	}
}

// state is everything a refused request must leave unchanged.
type state struct {
	shards []shard.ID
	held   []meta.HeldShard
	used   int64
}

func (n *testNode) state(t testing.TB) state {
	t.Helper()
	var s state
	err := n.st.Walk(context.Background(), func(in Info) error {
		s.shards = append(s.shards, in.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(s.shards, func(a, b shard.ID) int { return bytes.Compare(a[:], b[:]) })
	if s.held, err = n.db.HeldShards([32]byte{}, 0); err != nil {
		t.Fatal(err)
	}
	if s.used, err = n.db.Counter(meta.CounterUsedBytes); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s state) equal(o state) bool {
	return slices.Equal(s.shards, o.shards) && s.used == o.used &&
		slices.EqualFunc(s.held, o.held, func(a, b meta.HeldShard) bool {
			return a.ID == b.ID && a.Size == b.Size && slices.Equal(a.Holders, b.Holders)
		})
}

// tamper is a RoundTripper that edits requests after the client signed them.
type tamper struct {
	fn func(*http.Request)
}

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	tp.fn(r)
	return http.DefaultTransport.RoundTrip(r)
}

func tamperedClient(t testing.TB, n *testNode, fn func(*http.Request)) *Client {
	return NewClient(n.ts.URL, newKey(t), &http.Client{Transport: tamper{fn}}, WithPeerID(n.key.Public()))
}
