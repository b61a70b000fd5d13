package meta

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func openMem(t testing.TB) *DB {
	t.Helper()
	db, err := Open("mem", InMemory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestGetSetDelete(t *testing.T) {
	db := openMem(t)
	if _, err := db.Get([]byte("xa")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get absent: %v, want ErrNotFound", err)
	}
	if err := db.Set([]byte("xa"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	v, err := db.Get([]byte("xa"))
	if err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := db.Delete([]byte("xa")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("xa")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get deleted: %v, want ErrNotFound", err)
	}
	if err := db.Delete([]byte("nope")); err != nil {
		t.Fatalf("Delete absent: %v", err)
	}
}

func TestScan(t *testing.T) {
	db := openMem(t)
	for _, k := range []string{"a1", "b", "b\x00", "b1", "b2", "b\xff", "b\xff\xff", "c0"} {
		if err := db.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix, after string
		noAfter       bool
		limit         int
		want          []string
	}{
		{prefix: "b", noAfter: true, want: []string{"b", "b\x00", "b1", "b2", "b\xff", "b\xff\xff"}},
		{prefix: "b", noAfter: true, limit: 2, want: []string{"b", "b\x00"}},
		{prefix: "b", after: "b", want: []string{"b\x00", "b1", "b2", "b\xff", "b\xff\xff"}},
		{prefix: "b", after: "b1", limit: 2, want: []string{"b2", "b\xff"}},
		{prefix: "b", after: "b15", want: []string{"b2", "b\xff", "b\xff\xff"}},
		{prefix: "b", after: "a", want: []string{"b", "b\x00", "b1", "b2", "b\xff", "b\xff\xff"}},
		{prefix: "b", after: "c", want: nil},
		{prefix: "b\xff", noAfter: true, want: []string{"b\xff", "b\xff\xff"}},
		{prefix: "z", noAfter: true, want: nil},
		{prefix: "", noAfter: true, limit: 3, want: []string{"a1", "b", "b\x00"}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var after []byte
			if !tt.noAfter {
				after = []byte(tt.after)
			}
			var got []string
			err := db.Scan([]byte(tt.prefix), after, tt.limit, func(k, v []byte) error {
				if string(v) != "v"+string(k) {
					t.Errorf("value of %q = %q", k, v)
				}
				got = append(got, string(k))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScanStopsOnError(t *testing.T) {
	db := openMem(t)
	for i := range 5 {
		if err := db.Set([]byte{'k', byte(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := db.Scan([]byte("k"), nil, 0, func(k, v []byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("err %v after %d keys, want stop after 2", err, n)
	}
}

func TestBatchAtomic(t *testing.T) {
	db := openMem(t)
	b := db.NewBatch()
	if !b.Synced() {
		t.Fatal("default batch must sync")
	}
	if db.NewBatch(NoSync()).Synced() {
		t.Fatal("NoSync batch reports Synced")
	}
	for _, k := range []string{"k1", "k2"} {
		if err := b.Set([]byte(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := b.Get([]byte("k1")); err != nil || string(v) != "k1" {
		t.Fatalf("batch reads own write: %q, %v", v, err)
	}
	if _, err := db.Get([]byte("k1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted write visible: %v", err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
	for _, k := range []string{"k1", "k2"} {
		if v, err := db.Get([]byte(k)); err != nil || string(v) != k {
			t.Fatalf("Get %s = %q, %v", k, v, err)
		}
	}

	d := db.NewBatch()
	if err := d.Delete([]byte("k1")); err != nil {
		t.Fatal(err)
	}
	if err := d.Set([]byte("k3"), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("k1")); err != nil {
		t.Fatalf("discarded batch deleted k1: %v", err)
	}
	if _, err := db.Get([]byte("k3")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("discarded batch wrote k3: %v", err)
	}
}

func TestUpdateSerializes(t *testing.T) {
	db := openMem(t)
	const workers, each = 8, 25
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range each {
				if err := db.Update(func(b *Batch) error {
					_, err := b.AddCounter("test", 1)
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Counter("test")
	if err != nil || got != workers*each {
		t.Fatalf("counter = %d, %v; want %d", got, err, workers*each)
	}
}

func TestUpdateAbort(t *testing.T) {
	db := openMem(t)
	boom := errors.New("boom")
	err := db.Update(func(b *Batch) error {
		if err := b.Set([]byte("x"), []byte("1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if _, err := db.Get([]byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aborted update wrote: %v", err)
	}
	if err := db.Update(func(b *Batch) error { return nil }); err != nil {
		t.Fatalf("empty update: %v", err)
	}
}

func TestReopenPersists(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := HeldShard{ID: [32]byte{7}, Size: 123, StoredAt: 5, Location: LocationFile}
	h.SetHolding(Holding{Owner: [32]byte{1}, LeaseExpiry: 99, StoredAt: 5})
	err = db.Update(func(b *Batch) error {
		if err := b.PutHeldShard(h); err != nil {
			return err
		}
		_, err := b.AddCounter(CounterUsedBytes, 123)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	nb := db.NewBatch(NoSync())
	if err := nb.PutRoot(Root{Owner: [32]byte{2}, Seq: 4, Record: []byte("r")}); err != nil {
		t.Fatal(err)
	}
	if err := nb.Commit(); err != nil {
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
	got, err := db.HeldShard(h.ID)
	if err != nil || !equalHeld(got, h) {
		t.Fatalf("after reopen: %+v, %v; want %+v", got, err, h)
	}
	if n, err := db.Counter(CounterUsedBytes); err != nil || n != 123 {
		t.Fatalf("counter after reopen = %d, %v", n, err)
	}
	if r, err := db.Root([32]byte{2}); err != nil || r.Seq != 4 || !bytes.Equal(r.Record, []byte("r")) {
		t.Fatalf("root after reopen = %+v, %v", r, err)
	}
}
