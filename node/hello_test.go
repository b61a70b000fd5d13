package node

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"ishtar/shard"
)

func TestHello(t *testing.T) {
	n := startNode(t, nodeOpts{})
	ctx := context.Background()
	c := n.client(t)
	rec, err := c.Hello(ctx)
	if err != nil || rec.Node != n.key.Public() || rec.Address != "http://placeholder" {
		t.Fatalf("Hello = %+v, %v", rec, err)
	}
	if id, _ := c.PeerID(ctx); id != n.key.Public() {
		t.Fatalf("Hello pinned %s", id)
	}
	_, err = NewClient(n.ts.URL, newKey(t), nil, WithPeerID(newKey(t).Public())).Hello(ctx)
	wantCode(t, err, ErrBadResponse)
}

// Someone advertising a node's address, or replaying its answers, cannot
// pass a hello: the nonce is fresh and only the record's key signs it.
func TestHelloCannotBeFaked(t *testing.T) {
	victim := startNode(t, nodeOpts{})
	impostor := newKey(t)
	ctx := context.Background()
	var replay Hello
	// A recorded genuine answer to an earlier challenge.
	if rec, err := victim.client(t).Hello(ctx); err != nil {
		t.Fatal(err)
	} else {
		replay = Hello{Record: rec, Nonce: []byte{1, 2, 3}, Sig: victim.key.Sign(helloBytes(rec, []byte{1, 2, 3}))}
	}
	own := shard.NodeRecord{Address: victim.ts.URL, Seq: 1, Time: 1}
	own.Sign(impostor)
	for name, answer := range map[string]func(nonce []byte) Hello{
		"replayed answer": func([]byte) Hello { return replay },
		"the victim's record, the impostor's signature": func(nonce []byte) Hello {
			return Hello{Record: replay.Record, Nonce: nonce, Sig: impostor.Sign(helloBytes(replay.Record, nonce))}
		},
		"the impostor's record at the victim's address, unsigned nonce": func(nonce []byte) Hello {
			return Hello{Record: own, Nonce: nonce, Sig: make([]byte, 64)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				nonce, _ := parseAuditNonce(r.URL.Query().Get("nonce"))
				_ = json.NewEncoder(w).Encode(answer(nonce))
			}))
			defer srv.Close()
			_, err := NewClient(srv.URL, newKey(t), nil, WithPeerID(victim.key.Public())).Hello(ctx)
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("faked hello: %v, want bad_response", err)
			}
		})
	}
}
