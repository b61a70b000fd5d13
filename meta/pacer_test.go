package meta

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSyncPacerLoneWriter(t *testing.T) {
	p := newSyncPacer(4 * time.Millisecond)
	for range 1000 {
		p.begin()
		p.end()
		if d := p.minSyncInterval(); d != 0 {
			t.Fatalf("sequential commits paced by %v", d)
		}
	}
}

func TestSyncPacerOverlap(t *testing.T) {
	p := newSyncPacer(4 * time.Millisecond)
	p.begin() // one commit stays in progress: every other one overlaps it
	for range 100 {
		p.begin()
		p.end()
	}
	if d := p.minSyncInterval(); d != 4*time.Millisecond {
		t.Fatalf("overlapping commits paced by %v, want 4ms", d)
	}
	p.end()
	// Once commits stop overlapping the pacing fades.
	for range 100 {
		p.begin()
		p.end()
	}
	if d := p.minSyncInterval(); d != 0 {
		t.Fatalf("after overlap ended, paced by %v", d)
	}
}

func TestSyncPacerNil(t *testing.T) {
	var p *syncPacer
	p.begin()
	p.end()
}

// TestPacedCommitsDurableAndComplete runs concurrent durable commits on a
// paced catalog on disk: every one lands, and after reopening all are
// there.
func TestPacedCommitsDurableAndComplete(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, WithSyncPacing(2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				k := []byte(fmt.Sprintf("k/%02d/%02d", w, i))
				var err error
				if i%2 == 0 {
					err = db.Update(func(b *Batch) error { return b.Set(k, k) })
				} else {
					b := db.NewBatch()
					if err = b.Set(k, k); err == nil {
						err = b.Commit()
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.Scan([]byte("k/"), nil, 0, func(k, v []byte) error {
		if string(k) != string(v) {
			return fmt.Errorf("key %q holds %q", k, v)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 16*20 {
		t.Fatalf("%d keys after reopening, want %d", n, 16*20)
	}
}
