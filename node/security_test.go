package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/shard"
)

// recorder keeps the last request a client sent, to replay it verbatim.
type recorder struct {
	mu     sync.Mutex
	method string
	url    string
	header http.Header
	body   []byte
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	rec.mu.Lock()
	rec.method, rec.url, rec.header, rec.body = r.Method, r.URL.String(), r.Header.Clone(), body
	rec.mu.Unlock()
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(r)
}

// replay sends the recorded request again and returns its error answer.
func (rec *recorder) replay(t *testing.T) error {
	t.Helper()
	return rec.replayTo(t, "")
}

// replayTo sends the recorded request again, to the node at base if not
// empty, and returns its error answer.
func (rec *recorder) replayTo(t *testing.T, base string) error {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	u := rec.url
	if base != "" {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		u = base + pu.RequestURI()
	}
	req, err := http.NewRequestWithContext(context.Background(), rec.method, u, bytes.NewReader(rec.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = rec.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 {
		return nil
	}
	return readError(resp)
}

func TestRefusedRequestsChangeNothing(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		ctx := context.Background()
		owner, other := newKey(t), newKey(t)
		held, heldID := testShard(10, 3*testLeafSize)
		fresh, freshID := testShard(11, 2*testLeafSize+1)
		size := int64(len(fresh))

		type attempt func(t *testing.T, n *testNode) error
		store := func(c *Client, g shard.Grant) error {
			_, err := c.PutShard(ctx, freshID, bytes.NewReader(fresh), size, g)
			return err
		}
		storeGrant := func() shard.Grant { return newGrant(owner, shard.OpStore, freshID, size) }
		deleteHeld := func(c *Client, g shard.Grant) error { return c.DeleteShard(ctx, heldID, g) }
		delGrant := func(k shard.PrivateKey) shard.Grant {
			return newGrant(k, shard.OpDelete, heldID, int64(len(held)))
		}
		stripAuth := func(r *http.Request) {
			for _, h := range []string{HeaderNode, HeaderTime, HeaderNonce, HeaderBodyHash, HeaderSignature} {
				r.Header.Del(h)
			}
		}
		tests := []struct {
			name string
			want *Error
			try  attempt
		}{
			{"unsigned store", ErrUnauthenticated, func(t *testing.T, n *testNode) error {
				return store(tamperedClient(t, n, stripAuth), storeGrant())
			}},
			{"grant header removed after signing", ErrBadSignature, func(t *testing.T, n *testNode) error {
				c := tamperedClient(t, n, func(r *http.Request) { r.Header.Del(HeaderGrant) })
				return store(c, storeGrant())
			}},
			{"unsigned delete", ErrUnauthenticated, func(t *testing.T, n *testNode) error {
				return deleteHeld(tamperedClient(t, n, stripAuth), delGrant(owner))
			}},
			{"forged store signature", ErrBadSignature, func(t *testing.T, n *testNode) error {
				c := tamperedClient(t, n, func(r *http.Request) { r.Header.Set(HeaderNode, other.Public().String()) })
				return store(c, storeGrant())
			}},
			{"forged delete signature", ErrBadSignature, func(t *testing.T, n *testNode) error {
				c := tamperedClient(t, n, func(r *http.Request) {
					sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(HeaderSignature))
					sig[7] ^= 1
					r.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
				})
				return deleteHeld(c, delGrant(owner))
			}},
			{"store re-aimed at another path", ErrBadSignature, func(t *testing.T, n *testNode) error {
				c := tamperedClient(t, n, func(r *http.Request) { r.URL.RawQuery = "x=1" })
				return store(c, storeGrant())
			}},
			{"expired store", ErrClockSkew, func(t *testing.T, n *testNode) error {
				c := n.client(t, WithClientClock(func() time.Time { return time.Now().Add(-11 * time.Minute) }), WithPeerID(n.key.Public()))
				return store(c, storeGrant())
			}},
			{"future delete", ErrClockSkew, func(t *testing.T, n *testNode) error {
				c := n.client(t, WithClientClock(func() time.Time { return time.Now().Add(11 * time.Minute) }))
				return deleteHeld(c, delGrant(owner))
			}},
			{"expired grant", ErrClockSkew, func(t *testing.T, n *testNode) error {
				g := storeGrant()
				g.Time = time.Now().Add(-11 * time.Minute).UnixNano()
				g.Sign(owner)
				return store(n.client(t), g)
			}},
			{"store without grant", ErrUnauthenticated, func(t *testing.T, n *testNode) error {
				rq := request{method: http.MethodPost, path: "/v1/shards/" + freshID.String(),
					body: bytes.NewReader(fresh), size: size, bodyHash: freshID}
				return n.client(t).doJSON(ctx, rq, nil, nil, 0)
			}},
			{"grant with a forged owner", ErrBadSignature, func(t *testing.T, n *testNode) error {
				g := storeGrant()
				g.Sign(other)
				g.Owner = owner.Public()
				return store(n.client(t), g)
			}},
			{"grant for another shard", ErrForbidden, func(t *testing.T, n *testNode) error {
				g := newGrant(owner, shard.OpStore, heldID, size)
				return store(n.client(t), g)
			}},
			{"delete grant used to store", ErrForbidden, func(t *testing.T, n *testNode) error {
				return store(n.client(t), newGrant(owner, shard.OpDelete, freshID, size))
			}},
			{"grant for another size", ErrForbidden, func(t *testing.T, n *testNode) error {
				return store(n.client(t), newGrant(owner, shard.OpStore, freshID, size+1))
			}},
			{"delete by another owner", ErrForbidden, func(t *testing.T, n *testNode) error {
				return deleteHeld(n.client(t), delGrant(other))
			}},
			{"delete of a shard not held", ErrNotFound, func(t *testing.T, n *testNode) error {
				return n.client(t).DeleteShard(ctx, freshID, newGrant(owner, shard.OpDelete, freshID, size))
			}},
			{"store grant older than the last", ErrStaleGrant, func(t *testing.T, n *testNode) error {
				old := newGrant(owner, shard.OpStore, heldID, int64(len(held)))
				// A newer grant lands first, leasing no longer than the
				// holding already is, so that it changes nothing but the
				// last grant time.
				rec, err := n.db.HeldShard(heldID)
				if err != nil {
					t.Fatal(err)
				}
				newer := shard.Grant{Op: shard.OpStore, Shard: heldID, Size: int64(len(held)),
					LeaseExpiry: rec.Holders[0].LeaseExpiry, Time: grantTime()}
				newer.Sign(owner)
				if _, err := n.client(t).PutShard(ctx, heldID, bytes.NewReader(held), int64(len(held)), newer); err != nil {
					t.Fatal(err)
				}
				before := n.state(t)
				_, err = n.client(t).PutShard(ctx, heldID, bytes.NewReader(held), int64(len(held)), old)
				if !n.state(t).equal(before) {
					t.Fatal("stale store grant changed state")
				}
				return err
			}},
			{"tampered JSON body", ErrBadSignature, func(t *testing.T, n *testNode) error {
				c := tamperedClient(t, n, func(r *http.Request) {
					r.Body = io.NopCloser(bytes.NewReader([]byte("[]")))
					r.ContentLength = 2
				})
				r := shard.NodeRecord{Address: "http://x", Seq: 1}
				r.Sign(other)
				_, _, err := c.Announce(ctx, r)
				return err
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
				put(t, n.client(t), owner, held, heldID)
				before := n.state(t)
				err := tt.try(t, n)
				wantCode(t, err, tt.want)
				if after := n.state(t); !after.equal(before) {
					t.Fatalf("refused request changed state:\nbefore %+v\nafter  %+v", before, after)
				}
				if tt.want != ErrStaleGrant {
					// The owner's own fresh requests still work afterwards.
					put(t, n.client(t), owner, fresh, freshID)
				}
			})
		}
	})
}

func TestReplayedDeleteAfterReupload(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		ctx := context.Background()
		owner := newKey(t)
		data, id := testShard(12, 2*testLeafSize)
		size := int64(len(data))
		rec := &recorder{}
		c := NewClient(n.ts.URL, newKey(t), &http.Client{Transport: rec}, WithPeerID(n.key.Public()))
		put(t, c, owner, data, id)
		del := newGrant(owner, shard.OpDelete, id, size)
		if err := c.DeleteShard(ctx, id, del); err != nil {
			t.Fatal(err)
		}
		if len(n.state(t).shards) != 0 {
			t.Fatal("delete left the shard")
		}
		put(t, n.client(t), owner, data, id) // the owner uploads it again
		before := n.state(t)

		// The captured DELETE, byte for byte: its nonce is spent.
		wantCode(t, rec.replay(t), ErrReplayed)
		// The old grant in a freshly signed request from another node.
		wantCode(t, n.client(t).DeleteShard(ctx, id, del), ErrStaleGrant)
		if !n.state(t).equal(before) {
			t.Fatal("replayed delete changed state")
		}
		rd, err := n.client(t).GetShard(ctx, id, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rd)
		rd.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("re-uploaded shard: %v or wrong bytes", err)
		}
	})
}

// TestReplayedToAnotherNode: a node replays the store and delete requests
// it received to another node, which refuses both unused nonces because
// they are signed for the first node.
func TestReplayedToAnotherNode(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		a := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		b := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		ctx := context.Background()
		owner := newKey(t)
		data, id := testShard(14, 2*testLeafSize)
		size := int64(len(data))
		put(t, b.client(t), owner, data, id) // b holds the shard too

		rec := &recorder{}
		c := NewClient(a.ts.URL, newKey(t), &http.Client{Transport: rec}, WithPeerID(a.key.Public()))
		other, otherID := testShard(15, 3*testLeafSize)
		put(t, c, owner, other, otherID)
		before := b.state(t)
		wantCode(t, rec.replayTo(t, b.ts.URL), ErrMisdirected)
		if !b.state(t).equal(before) {
			t.Fatal("a store replayed to another node changed it")
		}

		if err := c.DeleteShard(ctx, id, newGrant(owner, shard.OpDelete, id, size)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete on a, which never held the shard: %v", err)
		}
		wantCode(t, rec.replayTo(t, b.ts.URL), ErrMisdirected)
		if !b.state(t).equal(before) {
			t.Fatal("a delete replayed to another node changed it")
		}
	})
}

func TestReplayedStore(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		n := startNode(t, nodeOpts{inlineMax: m.inlineMax})
		owner := newKey(t)
		data, id := testShard(13, 3*testLeafSize)
		rec := &recorder{}
		c := NewClient(n.ts.URL, newKey(t), &http.Client{Transport: rec}, WithPeerID(n.key.Public()))
		put(t, c, owner, data, id)
		before := n.state(t)
		wantCode(t, rec.replay(t), ErrReplayed)
		if !n.state(t).equal(before) {
			t.Fatal("replayed store changed state")
		}
		last, err := n.db.LastGrant(id, owner.Public())
		if err != nil || last == 0 {
			t.Fatalf("last grant %d, %v", last, err)
		}
	})
}

func TestNonceCacheBound(t *testing.T) {
	n := startNode(t, nodeOpts{cfg: func(c *Config) { c.MaxNonces = 3 }})
	c := n.client(t)
	ctx := context.Background()
	for range 3 {
		if err := signedGet(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	err := signedGet(ctx, c)
	wantCode(t, err, ErrBusy)
}

// A peer that answers with a redirect cannot make the client send its
// signed request, and the shard body, anywhere else.
func TestClientFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	n := startNode(t, nodeOpts{})
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/info" {
			n.srv.ServeHTTP(w, r) // the peer's genuine record
			return
		}
		http.Redirect(w, r, other.URL+"/internal/admin", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	for _, hc := range []*http.Client{nil, {}} {
		c := NewClient(redirector.URL, newKey(t), hc, WithPeerID(n.key.Public()))
		b, id := testShard(60, 10_000)
		_, err := c.PutShard(context.Background(), id, bytes.NewReader(b), int64(len(b)), newGrant(newKey(t), shard.OpStore, id, int64(len(b))))
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect {
			t.Fatalf("PutShard answered with a redirect: %v, want an error with its status", err)
		}
	}
	if got := elsewhere.Load(); got != 0 {
		t.Fatalf("the client followed the redirect %d times", got)
	}
}

// The signed string separates its fields by new lines: a method, URI or
// grant holding a control character is refused before anything is
// verified.
func TestSignedFieldsHaveNoControlCharacters(t *testing.T) {
	k := newKey(t)
	for _, tc := range []struct{ method, uri, grant string }{
		{"GET\n/a", "/b", ""},
		{"GET", "/a\n/b", ""},
		{"POST", "/v1/shards/x", "abc\x00def"},
	} {
		r := &http.Request{Method: tc.method, RequestURI: tc.uri, Header: http.Header{}}
		sr := signedRequest{Method: tc.method, RequestURI: tc.uri, Time: 1, Grant: tc.grant}
		sr.sign(r.Header, k)
		if tc.grant != "" {
			r.Header.Set(HeaderGrant, tc.grant)
		}
		_, _, _, signed, err := parseSigned(r)
		if !signed || !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("%q %q %q: signed %v, %v; want unauthenticated", tc.method, tc.uri, tc.grant, signed, err)
		}
	}
}
