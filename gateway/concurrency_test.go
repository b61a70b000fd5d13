package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"ishtar/meta"
	"ishtar/s3api"
)

// TestConcurrentWritersAndReaders overwrites, copies, deletes and reads a
// few keys from many goroutines, with and without inline versions among
// them: every read sees one whole version, and at the end the catalog's
// counters and references match what is left.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Run("sharded", func(t *testing.T) { testConcurrentWritersAndReaders(t, 0) })
	t.Run("inline", func(t *testing.T) { testConcurrentWritersAndReaders(t, DefaultInlineMax) })
}

func testConcurrentWritersAndReaders(t *testing.T, inlineMax int64) {
	tn := newNet(t, 6, func(c *Config) { c.Concurrency, c.InlineMax = 2, inlineMax })
	tn.bucket("b")
	seg := int(tn.g.cfg.SegmentSize)
	versions := make([][]byte, 6)
	for i := range versions {
		size := seg/2 + i*seg/3
		if inlineMax > 0 && i%2 == 0 {
			size = int(inlineMax) - i
		}
		versions[i] = randBytes(size, uint64(100+i))
	}
	isVersion := func(b []byte) bool {
		for _, v := range versions {
			if bytes.Equal(b, v) {
				return true
			}
		}
		return false
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 6 {
				key := fmt.Sprintf("k%d", (w+i)%3)
				v := versions[(w*7+i)%len(versions)]
				if _, err := tn.g.PutObject(ctx, putInput("b", key, v)); err != nil {
					t.Error(err)
					return
				}
				switch i % 3 {
				case 1:
					_, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: key, Bucket: "b",
						Key: fmt.Sprintf("k%d", (w+i+1)%3), Check: func(s3api.ObjectInfo) error { return nil }})
					if err != nil && !isCode(err, s3api.ErrNoSuchKey) {
						t.Error(err)
					}
				case 2:
					if err := tn.g.DeleteObject(ctx, "b", key); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	for r := range 4 {
		wg.Go(func() {
			for i := range 10 {
				got, err := tn.read(ctx, "b", fmt.Sprintf("k%d", (r+i)%3), 0, -1)
				if err != nil {
					if !isCode(err, s3api.ErrNoSuchKey) {
						t.Error(err)
					}
					continue
				}
				if !isVersion(got) {
					t.Error("read a mix of versions")
				}
			}
		})
	}
	wg.Wait()
	// What is left is consistent: references, counters, and after the
	// releases, exactly the shards of the live objects on the peers.
	live := map[meta.SegmentID]int64{}
	var objects, logical, stored, inline int64
	for i := range 3 {
		o, err := tn.db.Object("b", fmt.Sprintf("k%d", i))
		if err != nil {
			continue
		}
		objects++
		logical += o.Size
		inline += inlineBytes(o)
		for _, r := range o.Segments {
			live[r.ID]++
		}
	}
	segs, err := tn.db.Segments(meta.SegmentID{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != len(live) {
		t.Fatalf("%d segment records, %d referenced", len(segs), len(live))
	}
	for _, s := range segs {
		if s.Refs != live[s.ID] {
			t.Fatalf("segment %x: refs %d, referenced %d times", s.ID, s.Refs, live[s.ID])
		}
		stored += storedBytes(s)
	}
	if tn.counter(meta.CounterObjects) != objects || tn.counter(meta.CounterLogicalBytes) != logical ||
		tn.counter(meta.CounterStoredBytes) != stored || tn.counter(meta.CounterInlineBytes) != inline {
		t.Fatalf("counters %d/%d/%d/%d, want %d/%d/%d/%d", tn.counter(meta.CounterObjects), tn.counter(meta.CounterLogicalBytes),
			tn.counter(meta.CounterStoredBytes), tn.counter(meta.CounterInlineBytes), objects, logical, stored, inline)
	}
	tn.releaseAll()
	held := tn.held()
	want := 0
	for _, s := range segs {
		for _, sh := range s.Shards {
			want++
			if held[sh.ID] != 1 {
				t.Fatalf("live shard held %d times", held[sh.ID])
			}
		}
	}
	if len(held) != want {
		t.Fatalf("%d shards held, %d live", len(held), want)
	}
}

func isCode(err error, code *s3api.Error) bool { return errors.Is(err, code) }
