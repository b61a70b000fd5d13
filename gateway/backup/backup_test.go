package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/node"
	"ishtar/shard"
)

// fakeBlobs keeps blobs in memory, as 2-of-3 segments on the fake nodes.
type fakeBlobs struct {
	mu      sync.Mutex
	data    map[meta.SegmentID][]byte
	nodes   []shard.PublicKey
	dropped []meta.SegmentID
	fail    bool
}

func (f *fakeBlobs) StoreBlob(_ context.Context, data []byte) ([]meta.Segment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return nil, errors.New("no peers")
	}
	var s meta.Segment
	rand.Read(s.ID[:])
	s.K, s.N, s.BlockSize, s.PlainSize, s.Refs = 2, 3, 1024, int64(len(data)), 1
	for i := range 3 {
		var id [32]byte
		rand.Read(id[:])
		node := f.nodes[(int(s.ID[0])+i)%len(f.nodes)]
		s.Shards = append(s.Shards, meta.SegmentShard{ID: id, Node: node, Holder: node, Sig: []byte("sig")})
	}
	f.data[s.ID] = slices.Clone(data)
	return []meta.Segment{s}, nil
}

func (f *fakeBlobs) ReadBlob(_ context.Context, segs []meta.Segment) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []byte
	for _, s := range segs {
		d, ok := f.data[s.ID]
		if !ok {
			return nil, fmt.Errorf("no segment %x", s.ID[:4])
		}
		out = append(out, d...)
	}
	return out, nil
}

func (f *fakeBlobs) DropBlobs(ids []meta.SegmentID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = append(f.dropped, ids...)
	return nil
}

// fakeHolder is a node's root store: the highest seq per owner, as a
// node keeps it; it may be away, or replay an old root.
type fakeHolder struct {
	id     shard.PublicKey
	mu     sync.Mutex
	roots  map[shard.PublicKey]shard.RootRecord
	down   bool
	replay *shard.RootRecord // answered instead of the newest
}

func (h *fakeHolder) PutRoot(_ context.Context, rec shard.RootRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return errors.New("unreachable")
	}
	if err := rec.Verify(); err != nil {
		return err
	}
	if old, ok := h.roots[rec.Owner]; ok && old.Seq >= rec.Seq {
		return node.ErrConflict
	}
	h.roots[rec.Owner] = rec
	return nil
}

func (h *fakeHolder) GetRoot(_ context.Context, owner shard.PublicKey) (shard.RootRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.down:
		return shard.RootRecord{}, errors.New("unreachable")
	case h.replay != nil:
		return *h.replay, nil
	}
	rec, ok := h.roots[owner]
	if !ok {
		return rec, node.ErrNotFound
	}
	return rec, nil
}

type fakePeers map[shard.PublicKey]*fakeHolder

// RootHolders ranks the peers by SHA-256 of owner and node, as
// rendezvous hashing does.
func (p fakePeers) RootHolders(owner shard.PublicKey, count int) []shard.PublicKey {
	var ids []shard.PublicKey
	for id := range p {
		ids = append(ids, id)
	}
	score := func(id shard.PublicKey) []byte {
		s := sha256.Sum256(append(owner[:], id[:]...))
		return s[:]
	}
	slices.SortFunc(ids, func(a, b shard.PublicKey) int { return bytes.Compare(score(b), score(a)) })
	return ids[:min(count, len(ids))]
}

func (p fakePeers) RootClient(id shard.PublicKey) RootClient {
	if h := p[id]; h != nil {
		return h
	}
	return nil
}

type world struct {
	t     *testing.T
	keys  shard.OwnerKeys
	db    *meta.DB
	blobs *fakeBlobs
	peers fakePeers
	mu    sync.Mutex
	now   time.Time
	b     *Backup
}

func newWorld(t *testing.T, holders int) *world {
	t.Helper()
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, keys: seed.Keys(), peers: fakePeers{}, now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	db, err := meta.Open("gw", meta.InMemory(), meta.WithClock(w.clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	w.blobs = &fakeBlobs{data: map[meta.SegmentID][]byte{}}
	for range holders {
		k, err := shard.GeneratePrivateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		w.peers[k.Public()] = &fakeHolder{id: k.Public(), roots: map[shard.PublicKey]shard.RootRecord{}}
		w.blobs.nodes = append(w.blobs.nodes, k.Public())
	}
	w.b = w.open(db)
	return w
}

func (w *world) open(db *meta.DB) *Backup {
	w.t.Helper()
	b, err := New(Config{Holders: 6, MaxLogs: 3, Now: w.clock}, db, w.keys, w.blobs, w.peers, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) put(bucket, key string, size int64) {
	w.t.Helper()
	err := w.db.Update(func(b *meta.Batch) error {
		if err := b.PutBucket(meta.Bucket{Name: bucket}); err != nil {
			return err
		}
		return b.PutObject(meta.Object{Bucket: bucket, Key: key, Size: size, ETag: "e"})
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) step(force bool, want int) {
	w.t.Helper()
	got, err := w.b.Step(context.Background(), force)
	if err != nil || got != want {
		w.t.Fatalf("step %d (%v), want %d", got, err, want)
	}
}

// catalogOf lists every object of db as bucket/key:size.
func catalogOf(t *testing.T, db *meta.DB) []string {
	t.Helper()
	bks, err := db.Buckets()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, bk := range bks {
		it, err := db.Objects(bk.Name)
		if err != nil {
			t.Fatal(err)
		}
		for ok := it.SeekGE(""); ok; ok = it.Next() {
			l := it.Listing()
			out = append(out, fmt.Sprintf("%s/%s:%d", bk.Name, l.Key, l.Size))
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// A first snapshot, then log chunks, then a compaction after MaxLogs; a
// fresh database restored from the root found holds the same catalog,
// deletions included, at each point.
func TestBackupRestore(t *testing.T) {
	w := newWorld(t, 6)
	w.put("b", "one", 1)
	w.step(false, SnapshotStep) // never backed up: a snapshot at once
	restoreAndCompare := func(what string, want ...string) {
		t.Helper()
		dst, err := meta.Open("dst", meta.InMemory())
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		found, err := FindRoot(context.Background(), w.keys, w.peers, 4, timeout)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(context.Background(), dst, w.blobs, found, func(shard.PublicKey) bool { return true }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if want == nil {
			want = catalogOf(t, w.db)
		}
		if got := catalogOf(t, dst); !slices.Equal(got, want) {
			t.Fatalf("%s: restored %v, want %v", what, got, want)
		}
	}
	restoreAndCompare("snapshot")
	for i := range 3 {
		w.put("b", fmt.Sprintf("k%d", i), int64(i))
		w.step(true, LogStep)
	}
	if err := w.db.Update(func(b *meta.Batch) error { return b.DeleteObject("b", "k1") }); err != nil {
		t.Fatal(err)
	}
	restoreAndCompare("before the deletion is backed up", "b/k0:0", "b/k1:1", "b/k2:2", "b/one:1")
	w.step(true, SnapshotStep) // three logs follow: compaction
	restoreAndCompare("compacted")
	if st, _ := w.b.Status(); st.Snapshots != 2 || st.Logs != 3 || st.Pending != 0 || st.RootHolders < 6 {
		t.Fatalf("status %+v", st)
	}
	// The compaction dropped nothing recorded (the fake records no blobs
	// in the catalog), and the log is trimmed.
	if recs, err := w.db.CatalogLog(0, 0); err != nil || len(recs) != 0 {
		t.Fatalf("log after the compaction: %d, %v", len(recs), err)
	}
}

func timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Second)
}

// A change waits at most MaxLag/3 before a step takes it; bookkeeping
// alone starts none; a root is posted again after Repost.
func TestBackupLag(t *testing.T) {
	w := newWorld(t, 4)
	w.step(false, SnapshotStep)
	w.step(false, NoStep)
	w.put("b", "x", 1)
	if st, _ := w.b.Status(); st.Pending != 1 || st.Lag != 0 {
		t.Fatalf("status %+v", st)
	}
	w.advance(9 * time.Second)
	w.step(false, NoStep)
	if st, _ := w.b.Status(); st.Lag != 9*time.Second {
		t.Fatalf("lag %v", st.Lag)
	}
	w.advance(time.Second)
	w.step(false, LogStep)
	if err := w.db.Update(func(b *meta.Batch) error { return b.PutBucket(meta.Bucket{Name: "q"}) }, meta.Quiet()); err != nil {
		t.Fatal(err)
	}
	w.advance(time.Hour)
	w.step(false, NoStep)
	if st, _ := w.b.Status(); st.Pending != 1 || st.Lag != 0 {
		t.Fatalf("quiet change: %+v", st)
	}
	w.advance(24 * time.Hour)
	before, _ := w.b.Status()
	w.step(false, RepostStep)
	if after, _ := w.b.Status(); after.RootSeq <= before.RootSeq {
		t.Fatalf("repost kept seq %d", after.RootSeq)
	}
}

// The newest root is found with two holders away, one replaying an older
// root, one answering another owner's root and one forging ours; a wrong
// phrase finds nothing.
func TestFindRootAdversaries(t *testing.T) {
	w := newWorld(t, 8)
	w.put("b", "old", 1)
	w.step(false, SnapshotStep)
	var old shard.RootRecord
	for _, h := range w.peers {
		if r, ok := h.roots[w.keys.Signing.Public()]; ok {
			old = r
		}
	}
	w.put("b", "new", 2)
	w.advance(time.Second)
	w.step(true, LogStep)
	// Of the six holders chosen, one alone is honest and up.
	ranked := w.peers.RootHolders(w.keys.Signing.Public(), 8)
	w.peers[ranked[0]].down = true
	w.peers[ranked[1]].down = true
	w.peers[ranked[2]].replay = &old
	other, _ := shard.NewSeed(rand.Reader)
	foreign := shard.RootRecord{Seq: 1 << 62, Pointer: []byte("x")}
	foreign.Sign(other.Keys().Signing)
	w.peers[ranked[3]].replay = &foreign
	forged := foreign
	forged.Owner = w.keys.Signing.Public()
	w.peers[ranked[4]].replay = &forged
	found, err := FindRoot(context.Background(), w.keys, w.peers, 6, timeout)
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := w.b.Status()
	if found.Record.Seq != latest.RootSeq || found.Rejects != 2 {
		t.Fatalf("found seq %d (rejects %d, valid %d of %d), want %d", found.Record.Seq, found.Rejects, found.Valid, found.Asked, latest.RootSeq)
	}
	if _, err := FindRoot(context.Background(), other.Keys(), w.peers, 4, timeout); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("another phrase: %v", err)
	}
}

// A blob whose shards are mostly on unreachable peers is reported with
// how many of how many; the catalog is left alone.
func TestRestoreTooFewShards(t *testing.T) {
	w := newWorld(t, 4)
	w.put("b", "x", 1)
	w.step(false, SnapshotStep)
	found, err := FindRoot(context.Background(), w.keys, w.peers, 4, timeout)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := meta.Open("dst", meta.InMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Update(func(b *meta.Batch) error { return b.PutBucket(meta.Bucket{Name: "mine"}) }); err != nil {
		t.Fatal(err)
	}
	only := w.blobs.nodes[0]
	_, err = Restore(context.Background(), dst, w.blobs, found, func(id shard.PublicKey) bool { return id == only })
	if !errors.Is(err, ErrTooFewShards) || !strings.Contains(err.Error(), "of its 3 shards on reachable peers, 2 needed") {
		t.Fatalf("restore: %v", err)
	}
	if got := catalogOf(t, dst); len(got) != 0 {
		t.Fatalf("catalog touched: %v", got)
	}
	if bks, _ := dst.Buckets(); len(bks) != 1 {
		t.Fatalf("buckets %v", bks)
	}
}

// A step whose root no holder takes fails and changes no state; the
// next succeeds.
func TestBackupNoHolders(t *testing.T) {
	w := newWorld(t, 3)
	for _, h := range w.peers {
		h.down = true
	}
	if _, err := w.b.Step(context.Background(), false); err == nil || !strings.Contains(err.Error(), "no root holder took the root") {
		t.Fatalf("step: %v", err)
	}
	for _, h := range w.peers {
		h.down = false
	}
	w.step(false, SnapshotStep)
	// The state survives a reopen: nothing to do.
	w.b = w.open(w.db)
	w.step(false, NoStep)
}

func FuzzDecodePointer(f *testing.F) {
	var s meta.Segment
	s.K, s.N, s.Shards = 2, 3, make([]meta.SegmentShard, 3)
	f.Add(encodePointer(pointer{CatalogSeq: 3, Index: []meta.Segment{s}, Logs: []logRef{{From: 4, To: 5, Segs: []meta.Segment{s}}}}))
	// Whatever the bytes, decoding fails cleanly or yields a pointer
	// whose encoding decodes to the same.
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodePointer(b); err == nil {
			q, err := decodePointer(encodePointer(p))
			if err != nil || q.CatalogSeq != p.CatalogSeq || len(q.Index) != len(p.Index) || len(q.Logs) != len(p.Logs) {
				t.Fatalf("re-decoded %+v (%v), want %+v", q, err, p)
			}
		}
		_, _ = decodeLog(b)
		_, _, _ = decodeIndex(b)
	})
}

// A log step costs in proportion to what changed, not to the catalog:
// one changed object in a catalog of two thousand ships a blob of a few
// hundred bytes, against the snapshot's hundreds of KiB.
func TestBackupCostsWhatChanged(t *testing.T) {
	w := newWorld(t, 4)
	err := w.db.Update(func(b *meta.Batch) error {
		if err := b.PutBucket(meta.Bucket{Name: "b"}); err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.PutObject(meta.Object{Bucket: "b", Key: fmt.Sprintf("key/%05d", i), Size: int64(i), ETag: strings.Repeat("e", 32)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// sizeOf is the size of the blob of the given kind (one of each).
	sizeOf := func(kind byte) int {
		w.blobs.mu.Lock()
		defer w.blobs.mu.Unlock()
		for _, d := range w.blobs.data {
			if _, err := openBlob(d, kind); err == nil {
				return len(d)
			}
		}
		t.Fatalf("no blob of kind %d", kind)
		return 0
	}
	w.step(false, SnapshotStep)
	snap := sizeOf(kindSnapshot)
	w.put("b", "key/00007", 7777)
	w.step(true, LogStep)
	logBlob := sizeOf(kindLog)
	if snap < 100<<10 || logBlob > 1<<10 {
		t.Fatalf("snapshot blob %d bytes, log blob %d: want the log in proportion to the change", snap, logBlob)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// Run retries a failing step every MaxLag/3 and logs the same failure
// once per failureLogEvery, and the recovery once.
func TestRunLogsFailuresSparingly(t *testing.T) {
	w := newWorld(t, 3)
	w.blobs.fail = true
	var logs syncBuffer
	b, err := New(Config{Holders: 3, MaxLag: time.Second, Now: w.clock}, w.db, w.keys, w.blobs, w.peers, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFailures := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if st, _ := b.Status(); st.Failures >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("fewer than %d failed steps", n)
			}
			time.Sleep(10 * time.Millisecond) // polling the loop's counter
		}
	}
	waitFailures(1)
	for i := range 5 { // retried every MaxLag/3 of the (fake) clock
		w.advance(time.Second)
		waitFailures(int64(2 + i))
	}
	if n := logs.count("step failed"); n != 1 {
		t.Fatalf("the same failure logged %d times in six tries", n)
	}
	w.advance(failureLogEvery)
	waitFailures(7)
	if n := logs.count("step failed"); n != 2 {
		t.Fatalf("after %v: logged %d times, want 2", failureLogEvery, n)
	}
	w.blobs.mu.Lock()
	w.blobs.fail = false
	w.blobs.mu.Unlock()
	w.advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for logs.count("steps succeed again") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no success logged after the failures")
		}
		time.Sleep(10 * time.Millisecond) // polling the log
	}
}
