package meta

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// check fails unless db holds every entity of f.
func (f fixture) check(t *testing.T, db *DB) {
	t.Helper()
	same := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v (%v), want %+v", what, got, err, want)
		}
	}
	bks, err := db.Buckets()
	same("buckets", bks, f.buckets, err)
	for _, o := range f.objects {
		got, err := db.Object(o.Bucket, o.Key)
		// Compared encoded: nil and empty decode alike.
		same("object "+o.Key, encodeObject(got), encodeObject(o), err)
	}
	for _, s := range f.segments {
		got, err := db.Segment(s.ID)
		same("segment", got, s, err)
	}
	for _, u := range f.uploads {
		got, err := db.Upload(u.Bucket, u.ID)
		same("upload", got, u, err)
	}
	parts, err := db.Parts(UploadID{9})
	same("parts", parts, f.parts, err)
	js, err := db.Journals(0)
	same("journals", js, f.journals, err)
	rs, err := db.Releases([32]byte{}, [32]byte{}, 0)
	same("releases", rs, f.releases, err)
	for _, h := range f.held {
		got, err := db.HeldShard(h.ID)
		same("held shard", got, h, err)
	}
	for id, data := range f.inline {
		got, err := db.InlineShard(id)
		same("inline shard", got, data, err)
	}
	for k, want := range f.grants {
		got, err := db.LastGrant(k[0], k[1])
		same("last grant", got, want, err)
	}
	for _, p := range f.peers {
		got, err := db.Peer(p.ID)
		same("peer", got, p, err)
	}
	n, err := db.PeerChanges()
	same("peer changes", n, uint64(2), err)
	for _, r := range f.roots {
		got, err := db.Root(r.Owner)
		same("root", got, r, err)
	}
	for name, want := range f.counters {
		got, err := db.Counter(name)
		same("counter "+name, got, want, err)
	}
	used, err := db.Counter(CounterUsedBytes)
	same("used bytes", used, int64(4096+100), err)
	o, err := db.OwnerHeld(fid(40))
	same("owner 40 shards", o.Shards, int64(2), err)
}

// copyDir copies the files of a fixture catalog into a fresh directory.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// A catalog written by the schema 2 layout (testdata/schema2) opens with
// every entity intact, the owner's catalog moved under uppercase
// prefixes, nothing left under the old ones, and no log of the move; it
// opens again unchanged.
func TestMigrateSchema2(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "schema2"))
	for round := range 2 {
		db, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := db.Counter(counterSchema); err != nil || v != schemaVersion {
			t.Fatalf("schema %d, %v", v, err)
		}
		fixtureData().check(t, db)
		catalog := 0
		err = db.Scan(nil, nil, 0, func(k, v []byte) error {
			switch {
			case IsCatalogKey(k):
				catalog++
			case bytes.IndexByte([]byte("bmouq"), k[0]) >= 0:
				t.Errorf("round %d: key %q left under an old catalog prefix", round, k)
			case k[0] == prefixCounter && bytes.HasPrefix(k[1:], []byte(catalogCounterPrefix)):
				t.Errorf("round %d: counter %q left in the node's counters", round, k)
			}
			return nil
		})
		// 2 buckets, 3 objects, 2 segments, 1 upload, 1 part, 3 counters.
		if err != nil || catalog != 12 {
			t.Fatalf("round %d: %d catalog keys (%v), want 12", round, catalog, err)
		}
		if recs, err := db.CatalogLog(0, 0); err != nil || len(recs) != 0 || db.LastLogSeq() != 0 {
			t.Fatalf("round %d: the migration was logged: %d records, %v", round, len(recs), err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// A migration cut short (some keys moved, the schema not recorded) is
// finished by the next Open.
func TestMigrateSchema2Interrupted(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "schema2"))
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Undo part of the move: buckets and the counters back where schema 2
	// had them, the schema back to 2.
	err = db.Update(func(b *Batch) error {
		err := db.Scan(nil, nil, 0, func(k, v []byte) error {
			switch k[0] {
			case prefixBucket:
				if err := b.Set(append([]byte{'b'}, k[1:]...), v); err != nil {
					return err
				}
				return b.Delete(k)
			case prefixCatalogCounter:
				if err := b.Set(append([]byte{prefixCounter}, k[1:]...), v); err != nil {
					return err
				}
				return b.Delete(k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return b.Set(counterKey(counterSchema), encodeInt(2))
	}, unlogged())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fixtureData().check(t, db)
}

func logRecords(t *testing.T, db *DB) []LogRecord {
	t.Helper()
	recs, err := db.CatalogLog(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

type change struct {
	del        bool
	key, value string
}

func changesOf(t *testing.T, b []byte) []change {
	t.Helper()
	var out []change
	if err := ForEachChange(b, func(del bool, k, v []byte) error {
		out = append(out, change{del, string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Each batch that changes the catalog logs exactly its catalog changes,
// in commit order, under consecutive numbers that survive a trim and a
// reopen; node-only batches log nothing; Quiet is recorded.
func TestCatalogLog(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(b *Batch) error {
		if err := b.PutBucket(Bucket{Name: "a", Created: 1}); err != nil {
			return err
		}
		if err := b.PutPeer(Peer{ID: fid(1), Record: []byte("r")}); err != nil {
			return err
		}
		_, err := b.AddCounter(CounterObjects, 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(b *Batch) error { return b.PutPeer(Peer{ID: fid(2), Record: []byte("s")}) }); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch(Quiet())
	if err := b.DeleteBucket("a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	recs := logRecords(t, db)
	if len(recs) != 2 || recs[0].Seq != 1 || recs[1].Seq != 2 || recs[0].Quiet || !recs[1].Quiet || recs[0].Time == 0 {
		t.Fatalf("log %+v", recs)
	}
	want := []change{{false, string(bucketKey("a")), string(encodeBucket(Bucket{Created: 1}))},
		{false, string(counterKey(CounterObjects)), string(encodeInt(2))}}
	if got := changesOf(t, recs[0].Changes); !reflect.DeepEqual(got, want) {
		t.Fatalf("first record %+v, want %+v", got, want)
	}
	if got := changesOf(t, recs[1].Changes); !reflect.DeepEqual(got, []change{{true, string(bucketKey("a")), ""}}) {
		t.Fatalf("second record %+v", got)
	}
	if err := db.TrimCatalogLog(2); err != nil {
		t.Fatal(err)
	}
	if recs := logRecords(t, db); len(recs) != 0 {
		t.Fatalf("after the trim: %+v", recs)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(b *Batch) error { return b.PutBucket(Bucket{Name: "b"}) }); err != nil {
		t.Fatal(err)
	}
	if recs := logRecords(t, db); len(recs) != 1 || recs[0].Seq != 3 || db.LastLogSeq() != 3 {
		t.Fatalf("after a reopen: %+v, last %d", recs, db.LastLogSeq())
	}
}

// catalogDump is every catalog key and value of db, in order.
func catalogDump(t *testing.T, db *DB) []change {
	t.Helper()
	var out []change
	err := db.Scan(nil, nil, 0, func(k, v []byte) error {
		if IsCatalogKey(k) {
			out = append(out, change{false, string(k), string(v)})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A snapshot and the log records after it rebuild, in another database,
// exactly the catalog of the first, leaving that database's own keys
// alone.
func TestSnapshotRestore(t *testing.T) {
	src, err := Open("src", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := fixtureData()
	if err := f.write(src); err != nil {
		t.Fatal(err)
	}
	snap := src.SnapshotCatalog()
	// Changes after the snapshot: they are in the log, not the snapshot.
	err = src.Update(func(b *Batch) error {
		if err := b.DeleteObject("alpha", "b/two"); err != nil {
			return err
		}
		o := f.objects[0]
		o.Key, o.Size = "c/three", 7
		if err := b.PutObject(o); err != nil {
			return err
		}
		_, err := b.AddCounter(CounterObjects, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var image []byte
	if err := snap.Scan(nil, 0, func(k, v []byte) error { image = AppendSet(image, k, v); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if len(changesOf(t, image)) != 12 {
		t.Fatalf("snapshot of %d keys", len(changesOf(t, image)))
	}
	after, err := src.CatalogLog(snap.Seq, 0)
	if err != nil || len(after) != 1 {
		t.Fatalf("log after the snapshot: %d records, %v", len(after), err)
	}

	dst, err := Open("dst", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	// dst has a catalog of its own, and node keys, before the restore.
	err = dst.Update(func(b *Batch) error {
		if err := b.PutBucket(Bucket{Name: "stale"}); err != nil {
			return err
		}
		return b.PutPeer(f.peers[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.ReplaceCatalog(); err != nil {
		t.Fatal(err)
	}
	if err := dst.ApplyChanges(image); err != nil {
		t.Fatal(err)
	}
	for _, r := range after {
		if err := dst.ApplyChanges(r.Changes); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := catalogDump(t, dst), catalogDump(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored catalog of %d keys differs from the source's %d", len(got), len(want))
	}
	if p, err := dst.Peer(f.peers[0].ID); err != nil || !reflect.DeepEqual(p, f.peers[0]) {
		t.Fatalf("the restore touched the node's peers: %+v, %v", p, err)
	}
	if recs := logRecords(t, dst); len(recs) != 0 {
		t.Fatalf("the restore was logged: %d records", len(recs))
	}
}

// A change list that is malformed or touches anything but the catalog
// is refused whole.
func TestApplyChangesRefuses(t *testing.T) {
	db, err := Open("x", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := AppendSet(nil, bucketKey("ok"), encodeBucket(Bucket{}))
	for name, list := range map[string][]byte{
		"node key":      AppendSet(append([]byte{}, good...), peerKey(fid(1)), []byte("x")),
		"bad operation": append(append([]byte{}, good...), 9),
		"cut short":     good[:len(good)-1],
		"empty key":     AppendSet(append([]byte{}, good...), nil, nil),
	} {
		if err := db.ApplyChanges(list); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if bks, err := db.Buckets(); err != nil || len(bks) != 0 {
		t.Fatalf("a refused list changed the catalog: %+v, %v", bks, err)
	}
}

// The backup's blob index is in the catalog (logged), its local values
// are not; segment records round-trip through EncodeSegment.
func TestBackupKeys(t *testing.T) {
	db, err := Open("x", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := fixtureData()
	err = db.Update(func(b *Batch) error {
		if err := b.PutBackupBlob(f.segments[1].ID); err != nil {
			return err
		}
		if err := b.PutBackupBlob(f.segments[0].ID); err != nil {
			return err
		}
		return b.SetLocalValue("backup/state", []byte("s"))
	})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := db.BackupBlobs()
	if err != nil || len(ids) != 2 || ids[0] != f.segments[0].ID || ids[1] != f.segments[1].ID {
		t.Fatalf("blobs %x, %v", ids, err)
	}
	if v, err := db.LocalValue("backup/state"); err != nil || string(v) != "s" {
		t.Fatalf("local value %q, %v", v, err)
	}
	if _, err := db.LocalValue("none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing local value: %v", err)
	}
	recs := logRecords(t, db)
	if len(recs) != 1 || len(changesOf(t, recs[0].Changes)) != 2 {
		t.Fatalf("log %+v: want the two blob keys only", recs)
	}
	s, err := DecodeSegment(f.segments[0].ID, EncodeSegment(f.segments[0]))
	if err != nil || !reflect.DeepEqual(s, f.segments[0]) {
		t.Fatalf("segment round trip: %+v, %v", s, err)
	}
}
