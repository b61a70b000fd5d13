package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node/peers"
	"ishtar/shard"
)

// registryNode starts a node with a peer registry (its bounds set by
// pcfg, on the node's clock) and returns both.
func registryNode(t *testing.T, pcfg peers.Config, cfg func(*Config)) (*testNode, *peers.Registry) {
	t.Helper()
	db, err := meta.Open("node", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key := newKey(t)
	pcfg.Self = key.Public()
	var reg *peers.Registry
	n := startNode(t, nodeOpts{db: db, key: &key, cfg: func(c *Config) {
		if cfg != nil {
			cfg(c)
		}
		pcfg.Now = c.Now
		if reg, err = peers.Open(pcfg, db, nil); err != nil {
			t.Fatal(err)
		}
		c.Registry = reg
	}})
	t.Cleanup(func() { reg.Close() })
	return n, reg
}

func signedRecord(t testing.TB, k shard.PrivateKey, addr string, seq uint64, at time.Time) shard.NodeRecord {
	t.Helper()
	r := shard.NodeRecord{Address: addr, Capacity: 1 << 30, Free: 1 << 30, Seq: seq, Time: at.Unix()}
	r.Sign(k)
	return r
}

// A node announces its own record only; the registry keeps it within its
// bounds, and GET /v1/peers hands out only records verified by a
// challenge, incrementally from a cursor.
func TestPeerExchange(t *testing.T) {
	n, reg := registryNode(t, peers.Config{}, nil)
	ctx := context.Background()
	k := newKey(t)
	c := NewClient(n.ts.URL, k, nil)
	rec := signedRecord(t, k, "http://198.51.100.7:7070", 1, time.Now())
	if ok, why, err := c.Announce(ctx, rec); err != nil || !ok {
		t.Fatalf("Announce = %v, %q, %v", ok, why, err)
	}
	if ok, why, err := c.Announce(ctx, rec); err != nil || ok || why != "stale" {
		t.Fatalf("announce again: %v, %q, %v; want refused as stale", ok, why, err)
	}
	other := signedRecord(t, newKey(t), "http://198.51.100.8:7070", 1, time.Now())
	_, _, err := c.Announce(ctx, other)
	wantCode(t, err, ErrForbidden)
	forged := signedRecord(t, k, "http://198.51.100.7:7070", 2, time.Now())
	forged.Free--
	_, _, err = c.Announce(ctx, forged)
	wantCode(t, err, ErrBadSignature)

	// Heard of, not verified: not handed out.
	recs, next, more, err := c.Peers(ctx, 0)
	if err != nil || len(recs) != 0 || more {
		t.Fatalf("Peers before any challenge = %d records, %v", len(recs), err)
	}
	if err := reg.Verified(rec); err != nil {
		t.Fatal(err)
	}
	recs, next, more, err = c.Peers(ctx, next)
	if err != nil || len(recs) != 1 || recs[0].Node != k.Public() || more {
		t.Fatalf("Peers after the challenge = %+v, %v, %v", recs, more, err)
	}
	// Nothing new: nothing, and the same cursor.
	if again, next2, _, err := c.Peers(ctx, next); err != nil || len(again) != 0 || next2 != next {
		t.Fatalf("Peers with nothing new = %d records, cursor %d after %d, %v", len(again), next2, next, err)
	}
}

// A stranger with fresh keypairs, announcing from one address block, used
// to grow the catalog without bound (and have the records handed out).
// The registry keeps at most NewPerSource of them, and hands none out.
func TestPeerRecordFlood(t *testing.T) {
	n, reg := registryNode(t, peers.Config{NewPerSource: 20, PerBlock: 10}, nil)
	ctx := context.Background()
	for i := range 100 {
		c := n.clientFrom(t, "127.0.21.1")
		rec := signedRecord(t, c.key, fmt.Sprintf("http://10.%d.%d.1:7070", i/250, i%250), 1, time.Now())
		if _, _, err := c.Announce(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	// Many advertising one block: ten at most.
	for i := range 15 {
		c := n.clientFrom(t, "127.0.23.1")
		if _, _, err := c.Announce(ctx, signedRecord(t, c.key, fmt.Sprintf("http://203.0.113.%d:7070", i+1), 1, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	st := reg.Stats()
	if st.New != 20+10 || st.Tried != 0 {
		t.Fatalf("after the floods: %d new, %d tried; want 20 from the first source, 10 of one block", st.New, st.Tried)
	}
	if recs, _, _, err := n.client(t).Peers(ctx, 0); err != nil || len(recs) != 0 {
		t.Fatalf("unverified records handed out: %d, %v", len(recs), err)
	}
	var kept int
	if err := n.db.Scan([]byte{'p'}, nil, 0, func(k, v []byte) error { kept++; return nil }); err != nil || kept != 30 {
		t.Fatalf("%d peer records in the catalog (%v), want 30", kept, err)
	}
}

// Only the node's own key may read its registry (`ishtar peers`).
func TestRegistryIsPrivate(t *testing.T) {
	n, reg := registryNode(t, peers.Config{}, nil)
	ctx := context.Background()
	k := newKey(t)
	rec := signedRecord(t, k, "http://198.51.100.9:7070", 1, time.Now())
	if err := reg.Add(rec, "198.51.100.0/24"); err != nil {
		t.Fatal(err)
	}
	_, err := n.client(t).Registry(ctx)
	wantCode(t, err, ErrForbidden)
	forged := signedRecord(t, newKey(t), "http://198.51.100.10:7070", 1, time.Now())
	forged.Free++
	if err := reg.Add(forged, "198.51.100.0/24"); err == nil {
		t.Fatal("a forged record was kept")
	}
	v, err := NewClient(n.ts.URL, n.key, nil).Registry(ctx)
	if err != nil || len(v.Peers) != 1 || v.Peers[0].Record.Node != k.Public() || v.Peers[0].Tried {
		t.Fatalf("Registry = %+v, %v", v, err)
	}
	if v.Stats.New != 1 || v.Stats.Refused["bad_signature"] != 1 {
		t.Fatalf("Registry stats = %+v", v.Stats)
	}
}
