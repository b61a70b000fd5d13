package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

func TestInfo(t *testing.T) {
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.Capacity = 5000; c.Version = "v9" }})
	c := n.client(t)
	ctx := context.Background()
	rec, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Node != n.key.Public() || rec.Address != "http://placeholder" || rec.Capacity != 5000 ||
		rec.Free != 5000 || rec.Version != "v9" {
		t.Fatalf("record %+v", rec)
	}
	// Nothing changed: the same record. A store changes the free space:
	// a new one, with a higher Seq.
	again, err := c.Info(ctx)
	if err != nil || again.Seq != rec.Seq || !bytes.Equal(again.Sig, rec.Sig) {
		t.Fatalf("second record seq %d after %d (%v), want the same record", again.Seq, rec.Seq, err)
	}
	b, id := testShard(5, 1000)
	put(t, c, newKey(t), b, id)
	if after, err := c.Info(ctx); err != nil || after.Seq <= rec.Seq || after.Free != 5000-1000-ho {
		t.Fatalf("record after a store: seq %d after %d, free %d (%v)", after.Seq, rec.Seq, after.Free, err)
	}
	if id, err := c.PeerID(ctx); err != nil || id != n.key.Public() {
		t.Fatalf("PeerID = %s, %v", id, err)
	}
	other := startNode(t, nodeOpts{})
	pinned := NewClient(other.ts.URL, newKey(t), nil, WithPeerID(n.key.Public()))
	// Another node answers with its own record, which the client refuses.
	if _, err := pinned.Info(ctx); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("Info from a node other than the pinned one: %v", err)
	}
}

func TestPutGetShard(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax, cfg: func(c *Config) { c.Capacity = 1 << 20 }})
		c := n.client(t)
		owner := newKey(t)
		ctx := context.Background()
		b, id := testShard(1, 3*testLeafSize+100)
		g := newGrant(owner, shard.OpStore, id, int64(len(b)))
		rc, err := c.PutShard(ctx, id, bytes.NewReader(b), int64(len(b)), g)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Node != n.key.Public() || rc.Shard != id || rc.Owner != owner.Public() || rc.LeaseExpiry != g.LeaseExpiry {
			t.Fatalf("receipt %+v", rc)
		}
		n.wantPlaced(t, m, id, len(b))
		held, err := n.db.HeldShard(id)
		if err != nil || held.Size != int64(len(b)) || len(held.Holders) != 1 || held.Holders[0].Owner != owner.Public() {
			t.Fatalf("index %+v, %v", held, err)
		}
		if used, _ := n.db.Counter(meta.CounterUsedBytes); used != int64(len(b))+ho {
			t.Fatalf("used %d", used)
		}
		if rec, _ := c.Info(ctx); rec.Free != 1<<20-int64(len(b))-ho {
			t.Fatalf("free %d", rec.Free)
		}

		size := int64(len(b))
		for _, r := range []struct{ off, n int64 }{
			{0, -1}, {0, size}, {1, -1}, {5, 10}, {size - 1, 1}, {size - 1, -1}, {100, size}, {testLeafSize, testLeafSize},
		} {
			rd, err := c.GetShard(ctx, id, r.off, r.n)
			if err != nil {
				t.Fatalf("GetShard(%d, %d): %v", r.off, r.n, err)
			}
			got, err := io.ReadAll(rd)
			rd.Close()
			end := size
			if r.n >= 0 {
				end = min(size, r.off+r.n)
			}
			if err != nil || !bytes.Equal(got, b[r.off:end]) {
				t.Fatalf("GetShard(%d, %d): %d bytes, %v; want bytes %d..%d", r.off, r.n, len(got), err, r.off, end)
			}
		}
		if _, err := c.GetShard(ctx, id, size, -1); !errors.Is(err, ErrRangeNotSatisfiable) {
			t.Fatalf("range past the end: %v", err)
		}
		_, unknown := testShard(2, 10)
		if _, err := c.GetShard(ctx, unknown, 0, -1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown shard: %v", err)
		}
	})
}

func TestPutShardCorrupt(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		c := n.client(t)
		owner := newKey(t)
		b, id := testShard(3, 2*testLeafSize)
		before := n.state(t)
		bad := bytes.Clone(b)
		bad[testLeafSize+3] ^= 1
		_, err := c.PutShard(context.Background(), id, bytes.NewReader(bad), int64(len(bad)), newGrant(owner, shard.OpStore, id, int64(len(b))))
		wantCode(t, err, ErrCorrupt)
		if after := n.state(t); !after.equal(before) {
			t.Fatalf("corrupt upload changed state: %+v", after)
		}
		// The refused grant was not recorded: the same upload, correct, works.
		put(t, c, owner, b, id)
	})
}

func TestTwoOwnersShareBytes(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		c := n.client(t)
		ctx := context.Background()
		a, b := newKey(t), newKey(t)
		data, id := testShard(4, 5000)
		put(t, c, a, data, id)
		put(t, c, b, data, id)
		if s := n.state(t); s.used != 5000+2*ho || len(s.held) != 1 || len(s.held[0].Holders) != 2 {
			t.Fatalf("two owners: %+v", s)
		}
		if err := c.DeleteShard(ctx, id, newGrant(a, shard.OpDelete, id, 5000)); err != nil {
			t.Fatal(err)
		}
		if s := n.state(t); s.used != 5000+ho || len(s.shards) != 1 || len(s.held[0].Holders) != 1 || s.held[0].Holders[0].Owner != b.Public() {
			t.Fatalf("after the first release: %+v", s)
		}
		if err := c.DeleteShard(ctx, id, newGrant(a, shard.OpDelete, id, 5000)); !errors.Is(err, ErrForbidden) {
			t.Fatalf("second release by the same owner: %v", err)
		}
		rd, err := c.GetShard(ctx, id, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		rd.Close()
		if err := c.DeleteShard(ctx, id, newGrant(b, shard.OpDelete, id, 5000)); err != nil {
			t.Fatal(err)
		}
		if s := n.state(t); s.used != 0 || len(s.shards) != 0 || len(s.held) != 0 {
			t.Fatalf("after the last release: %+v", s)
		}
		if _, err := c.GetShard(ctx, id, 0, -1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GET after release: %v", err)
		}
	})
}

func TestRenew(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		c := n.client(t)
		ctx := context.Background()
		owner, other := newKey(t), newKey(t)
		data, id := testShard(5, 700)
		first := put(t, c, owner, data, id)

		g := newGrant(owner, shard.OpRenew, id, 700)
		g.LeaseExpiry = first.LeaseExpiry + 3600
		g.Sign(owner)
		rc, err := c.Renew(ctx, id, g)
		if err != nil || rc.LeaseExpiry != g.LeaseExpiry {
			t.Fatalf("Renew = %+v, %v", rc, err)
		}
		held, _ := n.db.HeldShard(id)
		if hd, _ := held.Holding(owner.Public()); hd.LeaseExpiry != g.LeaseExpiry {
			t.Fatalf("stored lease %d, want %d", hd.LeaseExpiry, g.LeaseExpiry)
		}
		// A shorter lease never shortens it.
		short := newGrant(owner, shard.OpRenew, id, 700)
		short.LeaseExpiry = first.LeaseExpiry - 10
		short.Sign(owner)
		if rc, err := c.Renew(ctx, id, short); err != nil || rc.LeaseExpiry != g.LeaseExpiry {
			t.Fatalf("shorter renew = %+v, %v", rc, err)
		}

		before := n.state(t)
		_, err = c.Renew(ctx, id, newGrant(other, shard.OpRenew, id, 700))
		wantCode(t, err, ErrForbidden)
		_, unknown := testShard(6, 10)
		_, err = c.Renew(ctx, unknown, newGrant(owner, shard.OpRenew, unknown, 10))
		wantCode(t, err, ErrNotFound)
		_, err = c.Renew(ctx, id, g) // the same grant again
		wantCode(t, err, ErrStaleGrant)
		if !n.state(t).equal(before) {
			t.Fatal("refused renewals changed state")
		}
	})
}

func TestProof(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		c := n.client(t)
		ctx := context.Background()
		data, id := testShard(7, 5*testLeafSize+11)
		put(t, c, newKey(t), data, id)
		for _, leaf := range []uint64{0, 3, 5} {
			nonce := []byte{byte(leaf), 1, 2, 3}
			a, err := c.Proof(ctx, id, leaf, nonce)
			if err != nil {
				t.Fatalf("leaf %d: %v", leaf, err)
			}
			end := min(int(leaf+1)*testLeafSize, len(data))
			if !bytes.Equal(a.Data, data[int(leaf)*testLeafSize:end]) || a.Size != int64(len(data)) || a.Node != n.key.Public() {
				t.Fatalf("leaf %d: answer %+v", leaf, a)
			}
			a.Nonce = []byte{9}
			if a.Verify() == nil {
				t.Fatal("audit answer verifies with another nonce")
			}
		}
		_, err := c.Proof(ctx, id, 6, []byte{1})
		wantCode(t, err, ErrBadRequest)
		_, unknown := testShard(8, 10)
		_, err = c.Proof(ctx, unknown, 0, []byte{1})
		wantCode(t, err, ErrNotFound)
	})
}

func TestRoots(t *testing.T) {
	n := startNode(t, nodeOpts{})
	c := n.client(t)
	ctx := context.Background()
	owner := newKey(t)
	root := func(seq uint64) shard.RootRecord {
		r := shard.RootRecord{Seq: seq, Pointer: []byte{byte(seq)}, Time: time.Now().Unix()}
		r.Sign(owner)
		return r
	}
	_, err := c.GetRoot(ctx, owner.Public())
	wantCode(t, err, ErrNotFound)
	// A root of an owner this node holds nothing for is kept as a
	// foreign one (see roots_test.go), and becomes an ordinary one when
	// the owner's first shard arrives.
	if err := c.PutRoot(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	b, id := testShard(70, 3000)
	put(t, c, owner, b, id)
	if r, err := n.db.Root(owner.Public()); err != nil || r.Foreign() || r.Seq != 1 {
		t.Fatalf("root once the owner's shard came: %+v, %v", r, err)
	}
	if err := c.PutRoot(ctx, root(2)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.PutRoot(ctx, root(2)), ErrConflict)
	wantCode(t, c.PutRoot(ctx, root(1)), ErrConflict)
	forged := root(3)
	forged.Pointer = []byte("evil")
	wantCode(t, c.PutRoot(ctx, forged), ErrBadSignature)
	got, err := c.GetRoot(ctx, owner.Public())
	if err != nil || got.Seq != 2 || !bytes.Equal(got.Pointer, []byte{2}) {
		t.Fatalf("GetRoot = %+v, %v", got, err)
	}
	if err := c.PutRoot(ctx, root(7)); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetRoot(ctx, owner.Public()); got.Seq != 7 {
		t.Fatalf("after seq 7: %+v", got)
	}
	// A record posted under another owner's path.
	other := newKey(t)
	rq := request{method: http.MethodPost, path: "/v1/roots/" + other.Public().String()}
	wantCode(t, c.doJSON(ctx, rq, root(8), nil, 0), ErrBadRequest)
	huge := shard.RootRecord{Seq: 9, Pointer: make([]byte, shard.MaxPointerLen), Time: time.Now().Unix()}
	huge.Sign(owner)
	wantCode(t, c.PutRoot(ctx, huge), ErrTooLarge)

	// The root counts against the capacity, and with the owner's last
	// shard becomes a foreign root again (posted just now: well within
	// its TTL), counted against the caller's bounds.
	used, _ := n.db.Counter(meta.CounterUsedBytes)
	if used <= int64(len(b)) {
		t.Fatalf("used %d with a shard of %d bytes and a root", used, len(b))
	}
	if tl, err := n.db.ForeignTallies(c.key.Public(), "127.0.0.0/24"); err != nil || tl != (meta.ForeignTallies{}) {
		t.Fatalf("an ordinary root in the foreign tallies: %+v, %v", tl, err)
	}
	if err := c.DeleteShard(ctx, id, newGrant(owner, shard.OpDelete, id, int64(len(b)))); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetRoot(ctx, owner.Public()); err != nil || got.Seq != 7 {
		t.Fatalf("root after the owner's last shard went: %+v, %v", got, err)
	}
	kept, err := n.db.Root(owner.Public())
	if err != nil || !kept.Foreign() {
		t.Fatalf("root after the owner's last shard went: %+v, %v", kept, err)
	}
	one := meta.ForeignTally{Roots: 1, Bytes: int64(len(kept.Record))}
	if tl, err := n.db.ForeignTallies(c.key.Public(), "127.0.0.0/24"); err != nil || tl != (meta.ForeignTallies{Poster: one, Block: one, Node: one}) {
		t.Fatalf("foreign tallies %+v, %v", tl, err)
	}
	if used, _ := n.db.Counter(meta.CounterUsedBytes); used != int64(len(kept.Record)) {
		t.Fatalf("used %d with only a root of %d bytes left", used, len(kept.Record))
	}
}

func TestAnonymousReads(t *testing.T) {
	ctx := context.Background()
	get := func(url string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return http.DefaultClient.Do(req)
	}
	strict := startNode(t, nodeOpts{})
	// Records are public and self-signed: anyone may read them.
	for _, path := range []string{"/v1/info", "/v1/peers", "/v1/hello?nonce=0a"} {
		resp, err := get(strict.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("anonymous %s: %s", path, resp.Status)
		}
	}
	_, id := testShard(6, 100)
	resp, err := get(strict.ts.URL + "/v1/shards/" + id.String())
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, readError(resp), ErrUnauthenticated)
	resp.Body.Close()

	open := startNode(t, nodeOpts{cfg: func(c *Config) { c.AllowAnonymousReads = true }})
	resp, err = get(open.ts.URL + "/v1/roots/" + id.String())
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, readError(resp), ErrNotFound)
	resp.Body.Close()
	// Writes stay signed.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, open.ts.URL+"/v1/peers", bytes.NewReader([]byte("[]")))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, readError(resp), ErrUnauthenticated)
	resp.Body.Close()
}

func TestRouting(t *testing.T) {
	n := startNode(t, nodeOpts{})
	c := n.client(t)
	ctx := context.Background()
	wantCode(t, c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/nothing"}, nil, nil, 0), ErrNotFound)
	wantCode(t, c.doJSON(ctx, request{method: http.MethodPut, path: "/v1/info"}, nil, nil, 0), ErrMethodNotAllowed)
	wantCode(t, c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/shards/ABC"}, nil, nil, 0), ErrBadRequest)
	upper := "/v1/shards/" + string(bytes.ToUpper([]byte(shard.ID{0xab}.String())))
	wantCode(t, c.doJSON(ctx, request{method: http.MethodGet, path: upper}, nil, nil, 0), ErrBadRequest)
}
