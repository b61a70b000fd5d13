package meta

import (
	"bytes"
	"errors"
	"testing"
)

func equalPeer(a, b Peer) bool {
	return a.ID == b.ID && a.Seq == b.Seq && a.Seen == b.Seen && bytes.Equal(a.Record, b.Record) &&
		a.Source == b.Source && a.Table == b.Table && a.Change == b.Change && bytes.Equal(a.History, b.History)
}

// Values written by earlier versions decode, with the fields they lack
// at their zero value; v3 round-trips every field.
func TestPeerVersions(t *testing.T) {
	id := [32]byte{7}
	key := peerKey(id)
	legacy := func(version byte, source bool) []byte {
		e := newEncoder(version, 32)
		e.uvarint(12)
		e.varint(-3)
		e.bytes([]byte(`{"seq":12}`))
		if source {
			e.bytes([]byte("203.0.113.0/24"))
		}
		return e.b
	}
	full := Peer{ID: id, Seq: 12, Seen: -3, Record: []byte(`{"seq":12}`), Source: "203.0.113.0/24",
		Table: PeerTried, Change: 1 << 40, History: []byte{1, 2, 3}}
	for _, c := range []struct {
		name string
		v    []byte
		want Peer
	}{
		{"v1", legacy(peerV1, false), Peer{ID: id, Seq: 12, Seen: -3, Record: []byte(`{"seq":12}`)}},
		{"v2", legacy(peerV2, true), Peer{ID: id, Seq: 12, Seen: -3, Record: []byte(`{"seq":12}`), Source: "203.0.113.0/24"}},
		{"v3", encodePeer(full), full},
		{"v3 trailing", append(encodePeer(full), 9, 9), full},
	} {
		got, err := decodePeer(key, c.v)
		if err != nil || !equalPeer(got, c.want) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	good := encodePeer(full)
	for i := range good {
		if _, err := decodePeer(key, good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v, want ErrCorrupt", i, err)
		}
	}
	bad := encodePeer(Peer{Table: 2})
	if _, err := decodePeer(key, bad); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown table: %v", err)
	}
	if _, err := decodePeer(key, append([]byte{peerV3 + 1}, good[1:]...)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestPeerChanges(t *testing.T) {
	db := openMem(t)
	if n, err := db.PeerChanges(); err != nil || n != 0 {
		t.Fatalf("fresh counter = %d, %v", n, err)
	}
	put(t, db, func(b *Batch) error {
		if err := b.SetPeerChanges(41); err != nil {
			return err
		}
		if n, err := b.PeerChanges(); err != nil || n != 41 {
			t.Errorf("in batch = %d, %v", n, err)
		}
		return b.SetPeerChanges(42)
	})
	if n, err := db.PeerChanges(); err != nil || n != 42 {
		t.Fatalf("counter = %d, %v", n, err)
	}
	if err := db.Update(func(b *Batch) error { return b.SetPeerChanges(1 << 63) }); err == nil {
		t.Fatal("a counter beyond int64 was accepted")
	}
	if err := db.Set(counterKey(counterPeerChanges), encodeInt(-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PeerChanges(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("negative counter: %v", err)
	}
}

func FuzzDecodePeer(f *testing.F) {
	id := [32]byte{1}
	f.Add(encodePeer(Peer{ID: id, Seq: 3, Seen: 4, Record: []byte("rec"), Source: "s", Table: PeerTried, Change: 9, History: []byte{1}}))
	f.Add([]byte{peerV1, 1, 2, 0})
	f.Add([]byte{peerV2, 1, 2, 1, 'x', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		key := peerKey(id)
		got, err := decodePeer(key, v)
		if err != nil {
			return
		}
		again, err := decodePeer(key, encodePeer(got))
		if err != nil || !equalPeer(again, got) {
			t.Fatalf("re-encode round trip: %+v vs %+v, %v", got, again, err)
		}
	})
}
