package meta

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// wantForeign checks the foreign roots' tallies of poster and block and
// of the node, and the whole expiry index, in expiry order.
func wantForeign(t *testing.T, db *DB, poster [32]byte, block string, want ForeignTallies, index ...ForeignExpiry) {
	t.Helper()
	got, err := db.ForeignTallies(poster, block)
	if err != nil || got != want {
		t.Fatalf("tallies %+v (%v), want %+v", got, err, want)
	}
	all, err := db.ExpiredForeignRoots(nil, 1<<62, 0)
	if err != nil || !slices.Equal(all, index) {
		t.Fatalf("expiry index %+v (%v), want %+v", all, err, index)
	}
}

// Foreign roots are indexed by expiry and tallied per poster, per block
// and in total, through every change of a root: posted, replaced by
// another poster, made ordinary, made foreign again, deleted.
func TestForeignRoots(t *testing.T) {
	db := openMem(t)
	alice, bob := [32]byte{0xa}, [32]byte{0xb}
	o1, o2 := [32]byte{1}, [32]byte{2}
	const blockA, blockB = "10.0.0.0/24", "10.0.1.0/24"
	r1 := Root{Owner: o1, Seq: 1, Record: []byte("one"), Poster: alice, Block: blockA, Posted: 50, Expires: 500}
	r2 := Root{Owner: o2, Seq: 1, Record: []byte("second"), Poster: alice, Block: blockA, Posted: 60, Expires: 400}
	put(t, db, func(b *Batch) error {
		if err := b.PutRoot(r1); err != nil {
			return err
		}
		return b.PutRoot(r2)
	})
	if got, err := db.Root(o1); err != nil || !reflect.DeepEqual(got, r1) {
		t.Fatalf("Root = %+v, %v, want %+v", got, err, r1)
	}
	both := ForeignTally{Roots: 2, Bytes: 9}
	wantForeign(t, db, alice, blockA, ForeignTallies{both, both, both}, ForeignExpiry{400, o2}, ForeignExpiry{500, o1})

	// A higher seq from another poster and block moves o1's root.
	r1b := Root{Owner: o1, Seq: 2, Record: []byte("one, again"), Poster: bob, Block: blockB, Posted: 70, Expires: 700}
	put(t, db, func(b *Batch) error { return b.PutRoot(r1b) })
	wantForeign(t, db, alice, blockB, ForeignTallies{
		Poster: ForeignTally{1, 6}, Block: ForeignTally{1, 10}, Node: ForeignTally{2, 16},
	}, ForeignExpiry{400, o2}, ForeignExpiry{700, o1})

	// The owner's shards arrive: o1's root is an ordinary one.
	r1b.Expires = 0
	put(t, db, func(b *Batch) error { return b.PutRoot(r1b) })
	wantForeign(t, db, bob, blockA, ForeignTallies{Block: ForeignTally{1, 6}, Node: ForeignTally{1, 6}}, ForeignExpiry{400, o2})

	// And foreign again; then both go, in one batch that sees its writes.
	r1b.Expires = 800
	put(t, db, func(b *Batch) error { return b.PutRoot(r1b) })
	wantForeign(t, db, bob, blockB, ForeignTallies{ForeignTally{1, 10}, ForeignTally{1, 10}, ForeignTally{2, 16}},
		ForeignExpiry{400, o2}, ForeignExpiry{800, o1})
	if got, err := db.ExpiredForeignRoots(nil, 799, 10); err != nil || !slices.Equal(got, []ForeignExpiry{{400, o2}}) {
		t.Fatalf("expired at 799: %+v, %v", got, err)
	}
	if got, err := db.ExpiredForeignRoots(&ForeignExpiry{400, o2}, 800, 10); err != nil || !slices.Equal(got, []ForeignExpiry{{800, o1}}) {
		t.Fatalf("expired at 800 after o2: %+v, %v", got, err)
	}
	put(t, db, func(b *Batch) error {
		if err := b.DeleteRoot(o1); err != nil {
			return err
		}
		if err := b.DeleteRoot(o2); err != nil {
			return err
		}
		if tl, err := b.ForeignTallies(bob, blockB); err != nil || tl != (ForeignTallies{}) {
			t.Errorf("the batch sees tallies %+v, %v", tl, err)
		}
		return b.DeleteRoot([32]byte{3}) // absent: nothing to do
	})
	wantForeign(t, db, bob, blockB, ForeignTallies{})
	// Tallies of no roots are deleted, not kept at zero.
	if err := db.Scan([]byte{prefixForeign}, nil, 0, func(k, _ []byte) error {
		return errors.New("key left: " + string(k))
	}); err != nil {
		t.Fatal(err)
	}
}

// A root written before posters and expiry were recorded (v1) reads as
// an ordinary root with no poster.
func TestRootV1(t *testing.T) {
	db := openMem(t)
	e := newEncoder(rootV1, 8)
	e.uvarint(9)
	e.bytes([]byte("old"))
	if err := db.Set(rootKey([32]byte{4}), e.b); err != nil {
		t.Fatal(err)
	}
	r, err := db.Root([32]byte{4})
	if err != nil || !reflect.DeepEqual(r, Root{Owner: [32]byte{4}, Seq: 9, Record: []byte("old")}) {
		t.Fatalf("v1 root = %+v, %v", r, err)
	}
	good := encodeRoot(Root{Owner: [32]byte{4}, Seq: 9, Record: []byte("x"), Block: "b", Posted: 1, Expires: 2})
	for i := range good {
		if _, err := decodeRoot(rootKey([32]byte{4}), good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("root truncated to %d bytes: %v", i, err)
		}
	}
}
