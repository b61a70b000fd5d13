package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// diskNode starts a node whose shards and catalog live in real dirs.
func diskNode(t *testing.T, m storageMode, key shard.PrivateKey, storeDir, metaDir string, capacity int64) (*testNode, func()) {
	t.Helper()
	st, err := NewDiskStore(storeDir, testLeafSize)
	if err != nil {
		t.Fatal(err)
	}
	db, err := meta.Open(metaDir)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeOpts{st: st, db: db, key: &key, inlineMax: m.inlineMax, cfg: func(c *Config) { c.Capacity = capacity }})
	stop := func() {
		n.ts.Close()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return n, stop
}

// filesUnder lists the regular files under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readShard(t *testing.T, c *Client, id shard.ID) []byte {
	t.Helper()
	rd, err := c.GetShard(context.Background(), id, 0, -1)
	if err != nil {
		t.Fatalf("GetShard %s: %v", id, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRestartKeepsShards(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		storeDir, metaDir := t.TempDir(), t.TempDir()
		key := newKey(t)
		ctx := context.Background()
		a, b := newKey(t), newKey(t)
		var blobs [][]byte
		var ids []shard.ID
		for i, size := range []int{1, testLeafSize, 7*testLeafSize + 3, DefaultInlineMax + 1} {
			data, id := testShard(uint64(20+i), size)
			blobs, ids = append(blobs, data), append(ids, id)
		}
		gone, goneID := testShard(30, 999)

		n, stop := diskNode(t, m, key, storeDir, metaDir, 1<<20)
		c := n.client(t)
		for i := range blobs {
			put(t, c, a, blobs[i], ids[i])
		}
		put(t, c, b, blobs[2], ids[2])
		oldStore := newGrant(a, shard.OpStore, goneID, 999)
		if _, err := c.PutShard(ctx, goneID, bytes.NewReader(gone), 999, oldStore); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteShard(ctx, goneID, newGrant(a, shard.OpDelete, goneID, 999)); err != nil {
			t.Fatal(err)
		}
		before := n.state(t)
		stop()

		n, stop = diskNode(t, m, key, storeDir, metaDir, 1<<20)
		defer stop()
		c = n.client(t)
		if !n.state(t).equal(before) {
			t.Fatalf("state after restart:\n%+v\nwant\n%+v", n.state(t), before)
		}
		for i, id := range ids {
			n.wantPlaced(t, m, id, len(blobs[i]))
			if got := readShard(t, c, id); !bytes.Equal(got, blobs[i]) {
				t.Fatalf("shard %d differs after restart", i)
			}
		}
		if loc := n.location(t, goneID); loc != "" {
			t.Fatalf("deleted shard kept %s", loc)
		}
		if _, err := c.GetShard(ctx, goneID, 0, -1); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted shard after restart: %v", err)
		}
		// Grant times survive the restart: the old store grant stays refused.
		_, err := c.PutShard(ctx, goneID, bytes.NewReader(gone), 999, oldStore)
		wantCode(t, err, ErrStaleGrant)
		rec, err := c.Info(ctx)
		if want := int64(1<<20-len(blobs[0])-len(blobs[1])-len(blobs[2])-len(blobs[3])) - before.holdings()*ho; err != nil || rec.Free != want {
			t.Fatalf("free after restart %d (%v), want %d", rec.Free, err, want)
		}
		if err := c.DeleteShard(ctx, ids[2], newGrant(b, shard.OpDelete, ids[2], int64(len(blobs[2])))); err != nil {
			t.Fatal(err)
		}
		if got := readShard(t, c, ids[2]); !bytes.Equal(got, blobs[2]) {
			t.Fatal("shard still held for owner a is gone")
		}
	})
}

func TestFullNodeRefusesCleanly(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		storeDir := t.TempDir()
		n, stop := diskNode(t, m, newKey(t), storeDir, t.TempDir(), 10_000)
		defer stop()
		c := n.client(t)
		ctx := context.Background()
		owner := newKey(t)
		first, firstID := testShard(40, 6000)
		put(t, c, owner, first, firstID)
		before := n.state(t)

		second, secondID := testShard(41, 6000)
		_, err := c.PutShard(ctx, secondID, bytes.NewReader(second), 6000, newGrant(owner, shard.OpStore, secondID, 6000))
		wantCode(t, err, ErrInsufficientStorage)
		if !strings.Contains(err.Error(), fmt.Sprintf("%d bytes free", 10_000-6000-ho)) {
			t.Fatalf("error does not say what is free: %v", err)
		}
		if after := n.state(t); !after.equal(before) {
			t.Fatalf("refused store changed state: %+v", after)
		}
		wantFiles := []string{firstID.String()}
		if m.inline(6000) {
			wantFiles = nil
		}
		if files := filesUnder(t, storeDir); !slices.Equal(files, wantFiles) {
			t.Fatalf("files on disk after refusal: %v, want %v", files, wantFiles)
		}
		n.wantPlaced(t, m, firstID, 6000)
		if loc := n.location(t, secondID); loc != "" {
			t.Fatalf("refused shard kept %s", loc)
		}
		if last, _ := n.db.LastGrant(secondID, owner.Public()); last != 0 {
			t.Fatal("refused store recorded its grant")
		}

		fits, fitsID := testShard(42, 10_000-6000-2*ho)
		put(t, c, owner, fits, fitsID)
		if rec, _ := c.Info(ctx); rec.Free != 0 {
			t.Fatalf("free %d, want 0", rec.Free)
		}
		if err := c.DeleteShard(ctx, firstID, newGrant(owner, shard.OpDelete, firstID, 6000)); err != nil {
			t.Fatal(err)
		}
		put(t, c, owner, second, secondID)
	})
}

func TestLimits(t *testing.T) {
	forEachMode(t, func(t *testing.T, m storageMode) {
		storeDir := t.TempDir()
		st, err := NewDiskStore(storeDir, testLeafSize)
		if err != nil {
			t.Fatal(err)
		}
		n := startNode(t, nodeOpts{st: st, inlineMax: m.inlineMax, cfg: func(c *Config) {
			c.MaxShardSize = 8192
			c.MaxJSONBody = 2000
			c.RequestTimeout = 300 * time.Millisecond
			c.MinRate = 1 << 40
		}})
		c := n.client(t)
		ctx := context.Background()
		owner := newKey(t)
		before := n.state(t)

		big, bigID := testShard(50, 8193)
		_, err = c.PutShard(ctx, bigID, bytes.NewReader(big), 8193, newGrant(owner, shard.OpStore, bigID, 8193))
		wantCode(t, err, ErrTooLarge)

		data, id := testShard(51, 5000)
		g, _ := encodeGrant(newGrant(owner, shard.OpStore, id, 5000))
		chunked := request{method: http.MethodPost, path: "/v1/shards/" + id.String(),
			body: io.MultiReader(bytes.NewReader(data)), size: -1, bodyHash: id, grant: g}
		wantCode(t, c.doJSON(ctx, chunked, nil, nil, 0), ErrLengthRequired)

		bigJSON := request{method: http.MethodPost, path: "/v1/peers"}
		wantCode(t, c.doJSON(ctx, bigJSON, strings.Repeat("a", 3000), nil, 0), ErrTooLarge)

		huge := request{method: http.MethodGet, path: "/v1/info", header: http.Header{"X-Pad": {strings.Repeat("a", 40<<10)}}}
		err = c.doJSON(ctx, huge, nil, nil, 0)
		if e := (*Error)(nil); !errors.As(err, &e) || e.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized header: %v", err)
		}

		// A body that stalls half way is cut off at the deadline.
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write(data[:2000]) }()
		_, err = c.PutShard(ctx, id, pr, 5000, newGrant(owner, shard.OpStore, id, 5000))
		if err == nil {
			t.Fatal("stalled upload succeeded")
		}
		if !errors.Is(err, ErrTimeout) {
			t.Logf("stalled upload ended with %v (connection cut before the 408)", err)
		}
		if after := n.state(t); !after.equal(before) {
			t.Fatalf("refused requests changed state: %+v", after)
		}
		if files := filesUnder(t, storeDir); len(files) != 0 {
			t.Fatalf("files left on disk: %v", files)
		}
	})
}
