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
	cfg       func(*Config)
	st        Store
	db        *meta.DB
	key       *shard.PrivateKey
	noCap     bool
	inlineMax int64 // Config.InlineMax; 0: its default
}

// storageMode is one way a node keeps shard bytes.
type storageMode struct {
	name      string
	inlineMax int64
}

// inline reports whether the mode keeps a shard of size bytes in the
// catalog.
func (m storageMode) inline(size int) bool { return m.inlineMax > 0 && int64(size) <= m.inlineMax }

// storageModes: every shard in the Store, or small ones (every shard of
// most tests) in the catalog.
var storageModes = []storageMode{{"files", -1}, {"inline", DefaultInlineMax}}

// forEachMode runs test once per storage mode.
func forEachMode(t *testing.T, test func(t *testing.T, m storageMode)) {
	for _, m := range storageModes {
		t.Run(m.name, func(t *testing.T) { test(t, m) })
	}
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
	n.cfg = Config{Key: n.key, Address: "http://placeholder", Capacity: 1 << 30, LeafSize: testLeafSize, InlineMax: o.inlineMax}
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

// ho is what a holding is charged beyond its shard's bytes.
const ho = meta.HoldingOverhead

// holdings counts the owners' holdings of every held shard.
func (s state) holdings() int64 {
	var n int64
	for _, h := range s.held {
		n += int64(len(h.Holders))
	}
	return n
}

func (n *testNode) state(t testing.TB) state {
	t.Helper()
	var s state
	err := n.srv.st.Walk(context.Background(), func(in Info) error {
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

// location says where n keeps the bytes of shard id: "inline" (the
// catalog), "file" (the Store it was given) or "" (nowhere). Both at once
// fails the test.
func (n *testNode) location(t testing.TB, id shard.ID) string {
	t.Helper()
	ctx := context.Background()
	_, ierr := n.db.InlineShard(id)
	_, ferr := n.st.Stat(ctx, id)
	for _, err := range []error{ierr, ferr} {
		if err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
	switch {
	case ierr == nil && ferr == nil:
		t.Fatalf("shard %s kept both inline and in a file", id)
	case ierr == nil:
		return "inline"
	case ferr == nil:
		return "file"
	}
	return ""
}

// wantPlaced checks that the held shard id of size bytes is where mode m
// keeps it, bytes and index entry alike.
func (n *testNode) wantPlaced(t testing.TB, m storageMode, id shard.ID, size int) {
	t.Helper()
	want, loc := "file", meta.LocationFile
	if m.inline(size) {
		want, loc = "inline", meta.LocationInline
	}
	if got := n.location(t, id); got != want {
		t.Fatalf("shard of %d bytes kept %q, want %q", size, got, want)
	}
	if rec, err := n.db.HeldShard(id); err != nil || rec.Location != loc {
		t.Fatalf("index of shard of %d bytes: location %d (%v), want %d", size, rec.Location, err, loc)
	}
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

// signedGet sends one signed read that the node answers when it accepts
// the request (a root nobody posted): nil if accepted, else the refusal.
func signedGet(ctx context.Context, c *Client) error {
	_, err := c.GetRoot(ctx, shard.PublicKey{7})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
