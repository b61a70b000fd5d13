package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"ishtar/meta"
	"ishtar/shard"
)

func memCatalog(t testing.TB) *meta.DB {
	t.Helper()
	db, err := meta.Open("catalog", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func storeBytes(t *testing.T, st Store, b []byte, id shard.ID) {
	t.Helper()
	ctx := context.Background()
	w, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func walkIDs(t *testing.T, st Store) map[shard.ID]int {
	t.Helper()
	seen := map[shard.ID]int{}
	if err := st.Walk(context.Background(), func(in Info) error { seen[in.ID]++; return nil }); err != nil {
		t.Fatal(err)
	}
	return seen
}

func readAll(t *testing.T, st Store, id shard.ID) []byte {
	t.Helper()
	r, err := st.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInlineStoreKeepsShardsWhereTheyAre changes the threshold over one
// catalog and file store: a shard is rewritten where it already is, never
// held twice, and read and deleted from either place.
func TestInlineStoreKeepsShardsWhereTheyAre(t *testing.T) {
	db, files := memCatalog(t), NewMemStore(testLeafSize)
	ctx := context.Background()
	small, smallID := testShard(70, 1000)
	big, bigID := testShard(71, 3*testLeafSize)

	none := NewInlineStore(db, files, 0, testLeafSize)
	storeBytes(t, none, small, smallID) // no inlining: a file
	all := NewInlineStore(db, files, DefaultInlineMax, testLeafSize)
	storeBytes(t, all, big, bigID) // inline
	storeBytes(t, all, small, smallID)
	tiny := NewInlineStore(db, files, 10, testLeafSize)
	storeBytes(t, tiny, big, bigID)

	if _, err := files.Stat(ctx, smallID); err != nil {
		t.Fatalf("small shard left its file: %v", err)
	}
	if _, err := db.InlineShard(smallID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("small shard also inline: %v", err)
	}
	if _, err := files.Stat(ctx, bigID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inline shard also in a file: %v", err)
	}
	for _, st := range []Store{none, all, tiny} {
		if seen := walkIDs(t, st); len(seen) != 2 || seen[smallID] != 1 || seen[bigID] != 1 {
			t.Fatalf("Walk: %v", seen)
		}
		if !bytes.Equal(readAll(t, st, smallID), small) || !bytes.Equal(readAll(t, st, bigID), big) {
			t.Fatal("wrong bytes")
		}
		if in, err := st.Stat(ctx, bigID); err != nil || in.Size != int64(len(big)) {
			t.Fatalf("Stat = %+v, %v", in, err)
		}
	}
	for _, id := range []shard.ID{smallID, bigID} {
		if err := none.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := all.Delete(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	}
	if seen := walkIDs(t, all); len(seen) != 0 {
		t.Fatalf("Walk after deletes: %v", seen)
	}
}

// TestInlineCommitInBatch commits inline shards inside catalog batches:
// the bytes land with the batch, or not at all.
func TestInlineCommitInBatch(t *testing.T) {
	db := memCatalog(t)
	st := NewInlineStore(db, NewMemStore(testLeafSize), DefaultInlineMax, testLeafSize)
	ctx := context.Background()
	data, id := testShard(72, 2000)
	writer := func(b []byte) batchWriter {
		w, err := st.Create(ctx, id, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		bw, ok := w.(batchWriter)
		if !ok || bw.catalog() != db {
			t.Fatalf("inline writer %T cannot join batches of its catalog", w)
		}
		if _, err := bw.Write(b); err != nil {
			t.Fatal(err)
		}
		return bw
	}

	abort := errors.New("abort")
	w := writer(data)
	err := db.Update(func(b *meta.Batch) error {
		if err := w.commitIn(b); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bytes of an aborted batch: %v", err)
	}

	bad := bytes.Clone(data)
	bad[5] ^= 1
	err = db.Update(func(b *meta.Batch) error { return writer(bad).commitIn(b) })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("commit of wrong bytes in a batch: %v", err)
	}

	w = writer(data)
	if err := db.Update(func(b *meta.Batch) error { return w.commitIn(b) }); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after commitIn succeeded")
	}
	if !bytes.Equal(readAll(t, st, id), data) {
		t.Fatal("wrong bytes after a batch commit")
	}

	// Deletion joins batches of its own catalog only.
	other := memCatalog(t)
	err = other.Update(func(b *meta.Batch) error {
		if ok, err := st.deleteIn(b, id); ok || err != nil {
			t.Errorf("deleteIn in another catalog's batch: %v, %v", ok, err)
		}
		return b.Set([]byte("x"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(b *meta.Batch) error {
		ok, err := st.deleteIn(b, id)
		if !ok && err == nil {
			t.Error("deleteIn did not delete inline bytes")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after deleteIn: %v", err)
	}
}

// unwrapStore is a decorator that says what it decorates.
type unwrapStore struct{ Store }

func (u unwrapStore) Unwrap() Store { return u.Store }

// TestServerInlineWrapping: the Server wraps a plain store, but uses an
// inline store, or a decorator of one, as it is.
func TestServerInlineWrapping(t *testing.T) {
	db := memCatalog(t)
	inline := NewInlineStore(db, NewMemStore(testLeafSize), DefaultInlineMax, testLeafSize)
	for _, tc := range []struct {
		name string
		st   Store
		same bool
	}{
		{"plain", NewMemStore(testLeafSize), false},
		{"inline", inline, true},
		{"decorated", unwrapStore{unwrapStore{inline}}, true},
		{"decorated plain", unwrapStore{NewMemStore(testLeafSize)}, false},
	} {
		n := startNode(t, nodeOpts{st: tc.st, db: db})
		if _, ok := n.srv.st.(*InlineStore); !tc.same && !ok {
			t.Fatalf("%s: server store %T, want an InlineStore", tc.name, n.srv.st)
		}
		if tc.same && n.srv.st != tc.st {
			t.Fatalf("%s: server store %T, want the given one", tc.name, n.srv.st)
		}
	}
}

// TestInlineThresholdChanges restarts a node with inlining off, on and off
// again: every shard stays readable and releasable wherever it was put.
func TestInlineThresholdChanges(t *testing.T) {
	storeDir, metaDir, key := t.TempDir(), t.TempDir(), newKey(t)
	ctx := context.Background()
	a, b := newKey(t), newKey(t)
	fileShard, fileID := testShard(73, 1500)
	inShard, inID := testShard(74, 1600)
	off, on := storageModes[0], storageModes[1]

	n, stop := diskNode(t, off, key, storeDir, metaDir, 1<<20)
	put(t, n.client(t), a, fileShard, fileID)
	stop()

	n, stop = diskNode(t, on, key, storeDir, metaDir, 1<<20)
	c := n.client(t)
	put(t, c, a, inShard, inID)
	put(t, c, b, fileShard, fileID) // a second owner: the bytes stay in their file
	if n.location(t, fileID) != "file" || n.location(t, inID) != "inline" {
		t.Fatalf("locations %q, %q", n.location(t, fileID), n.location(t, inID))
	}
	stop()

	n, stop = diskNode(t, off, key, storeDir, metaDir, 1<<20)
	defer stop()
	c = n.client(t)
	if !bytes.Equal(readShard(t, c, inID), inShard) || !bytes.Equal(readShard(t, c, fileID), fileShard) {
		t.Fatal("wrong bytes after turning inlining off")
	}
	if s := n.state(t); len(s.shards) != 2 || s.used != int64(len(fileShard)+len(inShard))+3*ho {
		t.Fatalf("state %+v", s)
	}
	for _, d := range []struct {
		owner shard.PrivateKey
		id    shard.ID
		size  int
	}{{a, inID, len(inShard)}, {a, fileID, len(fileShard)}, {b, fileID, len(fileShard)}} {
		if err := c.DeleteShard(ctx, d.id, newGrant(d.owner, shard.OpDelete, d.id, int64(d.size))); err != nil {
			t.Fatal(err)
		}
	}
	if s := n.state(t); len(s.shards) != 0 || len(s.held) != 0 || s.used != 0 {
		t.Fatalf("state after releases %+v", s)
	}
	if n.location(t, fileID) != "" || n.location(t, inID) != "" {
		t.Fatal("released bytes left behind")
	}
}

func TestInlineMaxConfig(t *testing.T) {
	c := Config{Key: newKey(t), Address: "http://x"}
	c.Defaults()
	if c.InlineMax != DefaultInlineMax || c.Validate() != nil {
		t.Fatalf("default InlineMax %d, %v", c.InlineMax, c.Validate())
	}
	for _, v := range []int64{-1, 1, MaxInline} {
		c.InlineMax = v
		if err := c.Validate(); err != nil {
			t.Fatalf("InlineMax %d: %v", v, err)
		}
	}
	c.InlineMax = MaxInline + 1
	if err := c.Validate(); err == nil {
		t.Fatal("InlineMax above MaxInline accepted")
	}
}
