package meta

import (
	"testing"
)

func TestOwnerHeld(t *testing.T) {
	db := openMem(t)
	a := [32]byte{1}
	if o, err := db.OwnerHeld(a); err != nil || o.Shards != 0 || o.Bytes != 0 || o.Owner != a {
		t.Fatalf("absent owner: %+v, %v", o, err)
	}
	put(t, db, func(b *Batch) error {
		if _, err := b.AddOwnerHeld(a, 1, 100); err != nil {
			return err
		}
		o, err := b.AddOwnerHeld(a, 1, 50)
		if err == nil && (o.Shards != 2 || o.Bytes != 150) {
			t.Errorf("in batch: %+v", o)
		}
		return err
	})
	if o, err := db.OwnerHeld(a); err != nil || o.Shards != 2 || o.Bytes != 150 {
		t.Fatalf("after adds: %+v, %v", o, err)
	}
	if err := db.Update(func(b *Batch) error { _, err := b.AddOwnerHeld(a, -3, -150); return err }); err == nil {
		t.Fatal("totals went negative without an error")
	}
	put(t, db, func(b *Batch) error { _, err := b.AddOwnerHeld(a, -2, -150); return err })
	if all, err := db.OwnersHeld([32]byte{}, 0); err != nil || len(all) != 0 {
		t.Fatalf("owner with no shards kept: %+v, %v", all, err)
	}
}

// A catalog written before owner totals existed gets them when opened.
func TestMigrateOwnerTotals(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, b := [32]byte{1}, [32]byte{2}
	shared := HeldShard{ID: [32]byte{10}, Size: 1000, Location: LocationFile}
	shared.SetHolding(Holding{Owner: a})
	shared.SetHolding(Holding{Owner: b})
	own := HeldShard{ID: [32]byte{11}, Size: 7, Location: LocationInline}
	own.SetHolding(Holding{Owner: a})
	// As the code before schema 1 left it: shards, no totals, no schema.
	put(t, db, func(bt *Batch) error {
		for _, h := range []HeldShard{shared, own} {
			if err := bt.PutHeldShard(h); err != nil {
				return err
			}
		}
		if err := bt.Delete(ownerKey(a)); err != nil {
			return err
		}
		return bt.Delete(counterKey(counterSchema))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		owner         [32]byte
		shards, bytes int64
	}{{a, 2, 1007 + 2*HoldingOverhead}, {b, 1, 1000 + HoldingOverhead}} {
		if o, err := db.OwnerHeld(c.owner); err != nil || o.Shards != c.shards || o.Bytes != c.bytes {
			t.Fatalf("owner %x: %+v, %v; want %d shards, %d bytes", c.owner[0], o, err, c.shards, c.bytes)
		}
	}
	if used, err := db.Counter(CounterUsedBytes); err != nil || used != 1007+3*HoldingOverhead {
		t.Fatalf("used %d, %v; want the shards' bytes and three holdings' overhead", used, err)
	}
	if v, err := db.Counter(counterSchema); err != nil || v != schemaVersion {
		t.Fatalf("schema %d, %v", v, err)
	}
}

// Peer records written before Source existed still decode.
func TestPeerV1(t *testing.T) {
	e := newEncoder(peerV1, 16)
	e.uvarint(7)
	e.varint(42)
	e.bytes([]byte("rec"))
	p, err := decodePeer(peerKey([32]byte{3}), e.b)
	if err != nil || p.Seq != 7 || p.Seen != 42 || string(p.Record) != "rec" || p.Source != "" {
		t.Fatalf("v1 peer: %+v, %v", p, err)
	}
	v2 := encodePeer(Peer{ID: [32]byte{3}, Seq: 8, Record: []byte("r2"), Source: "10.0.0.0/24"})
	if p, err = decodePeer(peerKey([32]byte{3}), v2); err != nil || p.Source != "10.0.0.0/24" || p.Seq != 8 {
		t.Fatalf("v2 peer: %+v, %v", p, err)
	}
}

// The block of an owner's last store is kept with its totals, which
// keep it as they change; totals written before blocks (v1) decode.
func TestOwnerBlock(t *testing.T) {
	db := openMem(t)
	a := [32]byte{1}
	put(t, db, func(b *Batch) error { return b.SetOwnerBlock(a, "10.0.0.0/24") }) // nothing held: not kept
	if o, err := db.OwnerHeld(a); err != nil || o.Block != "" {
		t.Fatalf("block kept for an owner with nothing held: %+v, %v", o, err)
	}
	put(t, db, func(b *Batch) error {
		if _, err := b.AddOwnerHeld(a, 1, 100); err != nil {
			return err
		}
		return b.SetOwnerBlock(a, "10.0.0.0/24")
	})
	put(t, db, func(b *Batch) error { _, err := b.AddOwnerHeld(a, 1, 50); return err })
	if o, err := db.OwnerHeld(a); err != nil || o.Block != "10.0.0.0/24" || o.Bytes != 150 {
		t.Fatalf("after adds: %+v, %v", o, err)
	}
	long := string(make([]byte, 2*MaxBlockLen))
	put(t, db, func(b *Batch) error { return b.SetOwnerBlock(a, long) })
	if o, _ := db.OwnerHeld(a); len(o.Block) != MaxBlockLen {
		t.Fatalf("block of %d bytes kept", len(o.Block))
	}
	v1 := []byte{ownerHeldV1}
	v1 = append(v1, 0x04, 0xc8, 0x01) // varint 2, varint 100
	o, err := decodeOwnerHeld(ownerKey(a), v1)
	if err != nil || o.Shards != 2 || o.Bytes != 100 || o.Block != "" {
		t.Fatalf("v1 totals: %+v, %v", o, err)
	}
}
