package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// faultObject stores a multi-segment object on exactly N peers, so that
// every segment has a shard on every peer.
func faultObject(t *testing.T, mod func(*Config)) (*testNet, []byte) {
	tn := newNet(t, 5, mod)
	tn.bucket("b")
	data := randBytes(int(2*tn.g.cfg.SegmentSize+777), 30)
	tn.put("b", "o", data)
	return tn, data
}

// holders returns the peer indices holding data shards 0.. and parity
// shards of the first segment, in shard order.
func holders(tn *testNet) []int {
	var out []int
	for _, sh := range tn.segments("b", "o")[0].Shards {
		out = append(out, tn.peerIndex(sh.Node))
	}
	return out
}

// checkReads reads the whole object and ranges across segments; every
// byte must be right.
func checkReads(t *testing.T, tn *testNet, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seg := tn.g.cfg.SegmentSize
	for _, r := range [][2]int64{{0, int64(len(data))}, {seg - 5, 10}, {100, 1}, {2 * seg, 777}} {
		got, err := tn.read(ctx, "b", "o", r[0], r[1])
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		if !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %v: WRONG BYTES", r)
		}
	}
}

func TestTwoPeersOffline(t *testing.T) {
	tn, data := faultObject(t, nil)
	h := holders(tn)
	for _, pair := range [][2]int{{0, 1}, {0, 3}, {3, 4}, {1, 2}} {
		t.Run(fmt.Sprintf("shards%d%d", pair[0], pair[1]), func(t *testing.T) {
			for i := range tn.faults {
				tn.faults[i].set(healthy)
			}
			tn.faults[h[pair[0]]].set(offline)
			tn.faults[h[pair[1]]].set(offline)
			checkReads(t, tn, data)
		})
	}
	// A third: a clean ServiceUnavailable, never bytes.
	for i := range tn.faults {
		tn.faults[i].set(healthy)
	}
	for _, i := range []int{0, 2, 4} {
		tn.faults[h[i]].set(offline)
	}
	_, err := tn.read(context.Background(), "b", "o", 0, -1)
	wantCode(t, err, s3api.ErrServiceUnavailable)
	// Back online: reads work again, even though the peers are in back-off.
	for i := range tn.faults {
		tn.faults[i].set(healthy)
	}
	checkReads(t, tn, data)
}

func TestThirdPeerLostMidStream(t *testing.T) {
	tn := newNet(t, 5, nil)
	tn.bucket("b")
	data := randBytes(int(5*tn.g.cfg.SegmentSize), 36)
	tn.put("b", "o", data)
	ctx := context.Background()
	obj, err := tn.g.GetObject(ctx, "b", "o")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := obj.Open(ctx, 0, obj.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	// The first segment is read; then three peers go. At most two more
	// segments are fetched ahead, so the fifth cannot be read.
	first := make([]byte, tn.g.cfg.SegmentSize)
	if _, err := io.ReadFull(rc, first); err != nil || !bytes.Equal(first, data[:len(first)]) {
		t.Fatalf("first segment: %v", err)
	}
	for _, f := range tn.faults[:3] {
		f.set(offline)
	}
	rest, err := io.ReadAll(rc)
	// The next segment may have been prefetched before the peers went;
	// whatever arrives must be right, and the body must end in an error.
	if err == nil || !errors.Is(err, segstore.ErrUnavailable) {
		t.Fatalf("read past three lost peers: %v", err)
	}
	if !bytes.Equal(rest, data[len(first):len(first)+len(rest)]) {
		t.Fatal("WRONG BYTES before the error")
	}
}

func TestHungPeersHedged(t *testing.T) {
	tn, data := faultObject(t, func(c *Config) {
		c.HedgeAfter = 20 * time.Millisecond
		c.RequestTimeout = 10 * time.Minute // the test fails by its deadline if reads wait for hung peers
	})
	h := holders(tn)
	tn.faults[h[0]].set(hang)
	tn.faults[h[2]].set(hang)
	checkReads(t, tn, data)
	if tn.g.store.Stats().Hedges == 0 || tn.g.store.Stats().Reconstructions == 0 {
		t.Fatalf("hedges %d reconstructions %d", tn.g.store.Stats().Hedges, tn.g.store.Stats().Reconstructions)
	}
	// A hung parity holder besides does not hold a read back either.
	tn.faults[h[3]].set(hang)
	tn.faults[h[2]].set(healthy)
	checkReads(t, tn, data)
}

func TestLyingPeers(t *testing.T) {
	for _, lie := range []fault{flipBits, truncate, wrongShard} {
		for _, liars := range [][]int{{0}, {1, 4}, {0, 2}, {3}} {
			t.Run(fmt.Sprintf("%v%v", lie, liars), func(t *testing.T) {
				tn, data := faultObject(t, func(c *Config) { c.Params.BlockSize = 16 << 10 })
				h := holders(tn)
				for _, i := range liars {
					tn.faults[h[i]].set(lie)
				}
				checkReads(t, tn, data)
			})
		}
	}
	// One liar and one offline data shard.
	tn, data := faultObject(t, nil)
	h := holders(tn)
	tn.faults[h[0]].set(flipBits)
	tn.faults[h[1]].set(offline)
	checkReads(t, tn, data)
	if tn.g.store.Stats().AuthFailures == 0 {
		t.Fatal("no authentication failure seen with a lying data shard")
	}
	// Three liars: an error, never their bytes.
	tn.faults[h[1]].set(wrongShard)
	tn.faults[h[4]].set(truncate)
	_, err := tn.read(context.Background(), "b", "o", 0, -1)
	wantCode(t, err, s3api.ErrServiceUnavailable)
}

// badBody returns data then an integrity error instead of io.EOF.
type badBody struct {
	r   io.Reader
	err error
}

func (b *badBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, b.err
	}
	return n, err
}

func TestBodyIntegrityErrorStoresNothing(t *testing.T) {
	tn := newNet(t, 6, nil)
	ctx := context.Background()
	tn.bucket("b")
	data := randBytes(int(3*tn.g.cfg.SegmentSize+10), 31)
	_, err := tn.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Size: int64(len(data)),
		Body: &badBody{r: bytes.NewReader(data), err: s3api.ErrBadDigest}, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrBadDigest)
	// A short body: IncompleteBody.
	_, err = tn.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "k", Size: int64(len(data)) + 1,
		Body: bytes.NewReader(data), Checksum: noChecksum})
	wantCode(t, err, s3api.ErrIncompleteBody)
	_, err = tn.g.GetObject(ctx, "b", "k")
	wantCode(t, err, s3api.ErrNoSuchKey)
	if segs, _ := tn.db.Segments(meta.SegmentID{}, 0); len(segs) != 0 {
		t.Fatalf("%d segment records after failed uploads", len(segs))
	}
	if n := tn.counter(meta.CounterStoredBytes); n != 0 {
		t.Fatalf("stored bytes %d", n)
	}
	if js, _ := tn.db.Journals(0); len(js) != 0 {
		t.Fatalf("%d journal entries left", len(js))
	}
	held := tn.held()
	if len(held) == 0 || tn.pendingReleases() != len(held) {
		t.Fatalf("%d shards sent, %d queued for release", len(held), tn.pendingReleases())
	}
	sent := map[shard.ID]bool{}
	for id := range held {
		sent[id] = true
	}
	runUntilReleased(t, tn)
	checkDeleteGrants(t, tn, sent)
}

// runUntilReleased runs Run until every peer holds nothing.
func runUntilReleased(t *testing.T, tn *testNet) {
	t.Helper()
	total := len(tn.held())
	deleted := make(chan shard.ID, 4*total+10)
	for _, p := range tn.peers {
		p.mu.Lock()
		p.deleted = deleted
		p.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tn.g.Run(ctx) }()
	timeout := time.After(30 * time.Second)
	for n := 0; n < total; n++ {
		select {
		case <-deleted:
		case <-timeout:
			t.Fatalf("Run released %d of %d shards", n, total)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards still held", n)
	}
}

// blockingBody yields its data, then blocks until released.
type blockingBody struct {
	r       io.Reader
	reached chan struct{}
	release chan struct{}
}

func (b *blockingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) && n == 0 {
		close(b.reached)
		<-b.release
		return 0, errors.New("client gone")
	}
	return n, nil
}

func TestOrphansReleasedAtStart(t *testing.T) {
	dir := t.TempDir()
	db, err := meta.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn := newNetDB(t, 6, db, nil)
	tn.bucket("b")
	keep := randBytes(1000, 32)
	tn.put("b", "keep", keep)
	kept := tn.held()
	// A crash mid-upload: the shards of the first two segments are on
	// peers and in the journal, nothing is committed, and the process
	// stops (its upload never goes on).
	stored := make(chan shard.ID, 100)
	for _, p := range tn.peers {
		p.mu.Lock()
		p.stored = stored
		p.mu.Unlock()
	}
	seg := tn.g.cfg.SegmentSize
	body := &blockingBody{r: bytes.NewReader(randBytes(int(2*seg), 33)), reached: make(chan struct{}), release: make(chan struct{})}
	crashed := tn.g
	done := make(chan error, 1)
	go func() {
		_, err := crashed.storeBody(context.Background(), crashed.cfg.primary(), body, 3*seg, [16]byte{1}, 0)
		done <- err
	}()
	<-body.reached
	for range 2 * crashed.cfg.Params.N {
		<-stored
	}
	if js, _ := db.Journals(0); len(js) != 2 {
		t.Fatalf("%d journal entries for an upload of two segments in flight", len(js))
	}
	// The next run opens the same catalog: New finds the orphans, Run
	// releases them and nothing else.
	tn.open()
	if js, _ := db.Journals(0); len(js) != 0 || tn.pendingReleases() != 2*crashed.cfg.Params.N {
		t.Fatalf("after New: %d journal entries, %d releases queued", len(js), tn.pendingReleases())
	}
	runUntilReleasedExcept(t, tn, kept)
	if got := tn.get("b", "keep"); !bytes.Equal(got, keep) {
		t.Fatal("committed object damaged by orphan release")
	}
	close(body.release) // let the crashed upload's goroutine end
	if err := <-done; err == nil {
		t.Fatal("the crashed upload succeeded")
	}
}

// runUntilReleasedExcept runs Run until the peers hold exactly keep.
func runUntilReleasedExcept(t *testing.T, tn *testNet, keep map[shard.ID]int) {
	t.Helper()
	deleted := make(chan shard.ID, 1000)
	for _, p := range tn.peers {
		p.mu.Lock()
		p.deleted = deleted
		p.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tn.g.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	timeout := time.After(30 * time.Second)
	for {
		if held := tn.held(); len(held) == len(keep) {
			for id := range keep {
				if held[id] != 1 {
					t.Fatalf("kept shard %s released", id)
				}
			}
			return
		}
		select {
		case <-deleted:
		case <-timeout:
			t.Fatalf("Run left %d orphans", len(tn.held())-len(keep))
		}
	}
}

func TestPutRetriesOnOtherPeers(t *testing.T) {
	for _, f := range []fault{offline, refuse, badReceipt, forgedReceipt} {
		t.Run(f.String(), func(t *testing.T) {
			tn := newNet(t, 8, nil)
			tn.bucket("b")
			tn.faults[0].set(f)
			tn.faults[5].set(f)
			data := randBytes(700<<10, 34)
			tn.put("b", "k", data)
			for _, s := range tn.segments("b", "k") {
				checkSegment(t, tn, s)
				for _, sh := range s.Shards {
					if sh.Node == tn.peers[0].id || sh.Node == tn.peers[5].id {
						t.Fatalf("shard placed on a %v peer", f)
					}
				}
			}
			if got := tn.get("b", "k"); !bytes.Equal(got, data) {
				t.Fatal("wrong bytes")
			}
			// Failed attempts are released (a refusing peer may hold
			// nothing; the delete of a bad-receipt shard finds it).
			tn.releaseAll()
			for _, i := range []int{0, 5} {
				if n := len(tn.peers[i].ids()); n != 0 && f != offline {
					t.Fatalf("faulty peer still holds %d shards", n)
				}
			}
		})
	}
}

func TestHungPeerOnPut(t *testing.T) {
	tn := newNet(t, 6, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	tn.bucket("b")
	tn.faults[2].set(hang)
	data := randBytes(300<<10, 35)
	tn.put("b", "k", data)
	if got := tn.get("b", "k"); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	for _, s := range tn.segments("b", "k") {
		for _, sh := range s.Shards {
			if sh.Node == tn.peers[2].id {
				t.Fatal("shard on the hung peer")
			}
		}
	}
}

func TestMinAcksBelowN(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.MinAcks = 4 })
	tn.bucket("b")
	tn.faults[1].set(offline)
	data := randBytes(600<<10, 37)
	tn.put("b", "k", data)
	for _, s := range tn.segments("b", "k") {
		stored := 0
		for _, sh := range s.Shards {
			if sh.Stored() {
				stored++
			}
		}
		if stored != 4 {
			t.Fatalf("segment with %d shards stored, want 4", stored)
		}
	}
	// The missing shard counts for neither quota nor reads.
	if got, want := tn.counter(meta.CounterStoredBytes), tn.g.expansion(tn.g.cfg.Params, int64(len(data)))*4/5; got != want {
		t.Fatalf("stored bytes %d, want %d", got, want)
	}
	// Peer 1 holds nothing; with peer 3 away too, three shards are left.
	tn.faults[3].set(offline)
	if got, err := tn.read(context.Background(), "b", "k", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with one of four shards away: %v", err)
	}
	tn.faults[0].set(offline)
	_, err := tn.read(context.Background(), "b", "k", 0, -1)
	wantCode(t, err, s3api.ErrServiceUnavailable)
}
