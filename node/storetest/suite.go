// Package storetest is the conformance suite every node.Store passes, in
// the manner of restic's backend test suite.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"ishtar/node"
	"ishtar/shard"
)

// Run runs the suite. newStore returns an empty store whose IDs use leaves
// of leafSize bytes; it is called once per subtest.
func Run(t *testing.T, leafSize int, newStore func(t *testing.T) node.Store) {
	s := suite{leafSize: leafSize, newStore: newStore}
	t.Run("RoundTrip", s.roundTrip)
	t.Run("InvisibleUntilCommit", s.invisibleUntilCommit)
	t.Run("Cancel", s.cancel)
	t.Run("WrongBytes", s.wrongBytes)
	t.Run("WrongSize", s.wrongSize)
	t.Run("Delete", s.delete)
	t.Run("Walk", s.walk)
	t.Run("Recommit", s.recommit)
	t.Run("Concurrent", s.concurrent)
}

type suite struct {
	leafSize int
	newStore func(t *testing.T) node.Store
}

// data returns deterministic pseudo-random bytes and their ID.
func (s suite) data(seed uint64, n int) ([]byte, shard.ID) {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b, shard.ComputeID(b, s.leafSize)
}

// put writes b in uneven pieces and commits.
func put(t *testing.T, st node.Store, id shard.ID, b []byte) {
	t.Helper()
	ctx := context.Background()
	w, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cancel(ctx)
	for rest, step := b, 1; len(rest) > 0; step = step*3 + 1 {
		n := min(step, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func mustNotExist(t *testing.T, st node.Store, id shard.ID) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Stat(ctx, id); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("Stat %s: %v, want ErrNotFound", id, err)
	}
	if r, err := st.Open(ctx, id); !errors.Is(err, node.ErrNotFound) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("Open %s: %v, want ErrNotFound", id, err)
	}
	if ids := list(t, st); slices.Contains(ids, id) {
		t.Fatalf("Walk lists %s", id)
	}
}

func list(t *testing.T, st node.Store) []shard.ID {
	t.Helper()
	var ids []shard.ID
	err := st.Walk(context.Background(), func(in node.Info) error {
		ids = append(ids, in.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func (s suite) roundTrip(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	for i, n := range []int{0, 1, s.leafSize - 1, s.leafSize, s.leafSize + 1, 5*s.leafSize + 17} {
		b, id := s.data(uint64(i), n)
		put(t, st, id, b)
		in, err := st.Stat(ctx, id)
		if err != nil || in.ID != id || in.Size != int64(n) {
			t.Fatalf("Stat = %+v, %v; want size %d", in, err, n)
		}
		r, err := st.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != int64(n) {
			t.Fatalf("Reader.Size = %d, want %d", r.Size(), n)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("size %d: read %d bytes (%v), not the written ones", n, len(got), err)
		}
		if n > 3 {
			off := int64(n / 3)
			buf := make([]byte, n/2)
			if _, err := r.ReadAt(buf, off); err != nil || !bytes.Equal(buf, b[off:off+int64(len(buf))]) {
				t.Fatalf("ReadAt(%d): %v or wrong bytes", off, err)
			}
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(rest, b[off:]) {
				t.Fatalf("after Seek(%d): %v or wrong bytes", off, err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func (s suite) invisibleUntilCommit(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(1, 3*s.leafSize)
	w, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, st, id)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatalf("Cancel after Commit: %v", err)
	}
	if _, err := st.Stat(ctx, id); err != nil {
		t.Fatalf("Stat after Commit: %v", err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("second Commit succeeded")
	}
}

func (s suite) cancel(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(2, 2*s.leafSize)
	w, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err == nil {
		t.Fatal("Commit after Cancel succeeded")
	}
	if _, err := w.Write(b[:1]); err == nil {
		t.Fatal("Write after Cancel succeeded")
	}
	mustNotExist(t, st, id)
	if ids := list(t, st); len(ids) != 0 {
		t.Fatalf("Walk after Cancel lists %v", ids)
	}
}

func (s suite) wrongBytes(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(3, 2*s.leafSize+5)
	bad := bytes.Clone(b)
	bad[s.leafSize+1] ^= 0x10
	w, err := st.Create(ctx, id, int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bad); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); !errors.Is(err, node.ErrCorrupt) {
		t.Fatalf("Commit of flipped bytes: %v, want ErrCorrupt", err)
	}
	mustNotExist(t, st, id)
}

func (s suite) wrongSize(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(4, s.leafSize+9)

	short, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.Write(b[:len(b)-1]); err != nil {
		t.Fatal(err)
	}
	if err := short.Commit(ctx); !errors.Is(err, node.ErrCorrupt) {
		t.Fatalf("Commit of short shard: %v, want ErrCorrupt", err)
	}
	mustNotExist(t, st, id)

	long, err := st.Create(ctx, id, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Cancel(ctx)
	if _, err := long.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := long.Write([]byte{0}); !errors.Is(err, node.ErrCorrupt) {
		t.Fatalf("Write past the declared size: %v, want ErrCorrupt", err)
	}
}

func (s suite) delete(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(5, 100)
	put(t, st, id, b)
	other, oid := s.data(6, 200)
	put(t, st, oid, other)
	if err := st.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	mustNotExist(t, st, id)
	if err := st.Delete(ctx, id); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
	if in, err := st.Stat(ctx, oid); err != nil || in.Size != 200 {
		t.Fatalf("other shard after Delete: %+v, %v", in, err)
	}
}

func (s suite) walk(t *testing.T) {
	st := s.newStore(t)
	want := map[shard.ID]int64{}
	for i := range 20 {
		b, id := s.data(uint64(100+i), 10+i)
		put(t, st, id, b)
		want[id] = int64(len(b))
	}
	got := map[shard.ID]int64{}
	err := st.Walk(context.Background(), func(in node.Info) error {
		if _, dup := got[in.ID]; dup {
			return fmt.Errorf("Walk lists %s twice", in.ID)
		}
		got[in.ID] = in.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Walk listed %d shards, want %d", len(got), len(want))
	}
	for id, n := range want {
		if got[id] != n {
			t.Fatalf("Walk: %s size %d, want %d", id, got[id], n)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err = st.Walk(context.Background(), func(node.Info) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk did not stop at the first error: %v after %d calls", err, calls)
	}
}

func (s suite) recommit(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	b, id := s.data(7, 3*s.leafSize)
	put(t, st, id, b)
	r, err := st.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	put(t, st, id, b)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("reader open across a recommit: %v or wrong bytes", err)
	}
	if ids := list(t, st); len(ids) != 1 {
		t.Fatalf("Walk after recommit lists %d shards", len(ids))
	}
}

func (s suite) concurrent(t *testing.T) {
	st := s.newStore(t)
	ctx := context.Background()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	blobs := make([][]byte, workers)
	ids := make([]shard.ID, workers)
	for i := range workers {
		// Workers 0 and 1 write the same shard.
		blobs[i], ids[i] = s.data(uint64(200+max(i, 1)), 4*s.leafSize+i%2)
	}
	for i := range workers {
		wg.Go(func() {
			w, err := st.Create(ctx, ids[i], int64(len(blobs[i])))
			if err != nil {
				errs <- err
				return
			}
			defer w.Cancel(ctx)
			for off := 0; off < len(blobs[i]); off += 1000 {
				if _, err := w.Write(blobs[i][off:min(off+1000, len(blobs[i]))]); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Commit(ctx)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range workers {
		r, err := st.Open(ctx, ids[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, blobs[i]) {
			t.Fatalf("worker %d: %v or wrong bytes", i, err)
		}
	}
}
