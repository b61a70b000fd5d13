package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"ishtar/gateway/backup"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// listing is every object of bucket "b" of d's gateway, as key:size:etag.
func listing(t *testing.T, d *Daemon) []string {
	t.Helper()
	out, err := d.Gateway().ListObjects(context.Background(), s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var l []string
	for _, o := range out.Objects {
		l = append(l, fmt.Sprintf("%s:%d:%s", o.Key, o.Size, o.ETag))
	}
	return l
}

// waitBackedUp waits until d's backup has every change that calls for
// one (bookkeeping may wait).
func waitBackedUp(t *testing.T, d *Daemon) backup.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := d.Backup().Status()
		if err == nil && st.RootSeq != 0 && st.Lag == 0 {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("not backed up after a minute: %+v, %v", st, err)
		}
		time.Sleep(50 * time.Millisecond) // polling the backup's state
	}
}

// An owner's daemon backs its catalog up as it changes; its data
// directory is lost; Recover with the owner's keys alone and one peer's
// URL brings back every object (listing, bytes), deleted ones stay
// deleted, and the recovered daemon serves, uploads and backs up again;
// a root holder that was away (it answers with an older root) and one
// that serves a forged root with a higher seq do not change what is
// recovered.
func TestBackupAndRecover(t *testing.T) {
	// The storage nodes know each other through a tracker: the new
	// machine learns the network from any one of them.
	// Rounds every second: the tracker verifies the nodes that announce
	// themselves, and hands their records out.
	tr := startDaemonWith(t, func(c *Config, _ *Identity) {
		c.Network.Tracker, c.Network.ExchangeInterval = true, time.Second
	})
	storage, urls := startStorage(t, 4, func(c *Config) {
		c.Network.Trackers, c.Network.ExchangeInterval = []string{tr.NodeURL()}, time.Second
	})
	seed, err := shard.NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	owner := func(c *Config, id *Identity) {
		c.StorageOnly = false
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Gateway.SegmentSize = 64 << 10
		c.Upkeep.BackupLag = time.Second
		c.Network.Bootstrap = urls
		id.Owner = seed.Keys()
	}
	gw := startDaemonWith(t, owner)
	if err := gw.Gateway().CreateBucket(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i, size := range []int{0, 100, 64 << 10, 200<<10 + 3, 5000} {
		data := make([]byte, size)
		rand.Read(data)
		key := fmt.Sprintf("obj/%d", i)
		put(t, gw, key, data)
		want[key] = data
	}
	first := waitBackedUp(t, gw)
	// One root holder is away from now on: it keeps the first root, and
	// will answer with it (an older root replayed).
	stops[storage[0]]()
	// More changes after the first backup: an overwrite, a deletion, a
	// new object; they go out as log chunks.
	over := []byte("overwritten")
	put(t, gw, "obj/1", over)
	want["obj/1"] = over
	if err := gw.Gateway().DeleteObject(context.Background(), "b", "obj/2"); err != nil {
		t.Fatal(err)
	}
	delete(want, "obj/2")
	put(t, gw, "late", []byte("late object"))
	want["late"] = []byte("late object")
	last := waitBackedUp(t, gw)
	if last.RootSeq <= first.RootSeq || last.Snapshots+last.Logs < 2 || last.RootHolders == 0 {
		t.Fatalf("backup: first %+v, last %+v", first, last)
	}
	before := listing(t, gw)
	stops[gw]() // the machine is lost
	restartDaemon(t, storage[0])
	// Another holder keeps a forged root of the owner, with a higher seq
	// (as a malicious node would serve it).
	forged := fmt.Sprintf(`{"owner":%q,"seq":%d,"pointer":"AA==","time":1,"sig":"AA=="}`, seed.Keys().Signing.Public(), last.RootSeq+1)
	err = storage[1].Catalog().Update(func(b *meta.Batch) error {
		return b.PutRoot(meta.Root{Owner: seed.Keys().Signing.Public(), Seq: last.RootSeq + 1, Record: []byte(forged)})
	})
	if err != nil {
		t.Fatal(err)
	}

	// A new machine: the owner's keys (from the phrase), a fresh node
	// key, an empty data directory, one peer's URL.
	var cfg Config
	cfg.Defaults()
	cfg.Data = t.TempDir()
	cfg.Listen, cfg.S3Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Gateway.AddressDiversity = false
	cfg.Network.ExchangeInterval = time.Hour
	nk, _ := shard.GeneratePrivateKey(rand.Reader)
	id := Identity{Node: nk}
	owner(&cfg, &id)
	cfg.Network.Bootstrap = urls[:1]
	r, err := Recover(context.Background(), cfg, id, Options{})
	if err != nil {
		t.Fatalf("%v (%d peers, %d roots of %d asked)", err, r.Peers, r.Valid, r.Asked)
	}
	if r.Root.Seq != last.RootSeq || r.Buckets != 1 || r.Objects != int64(len(want)) || r.Peers < 4 {
		t.Fatalf("recovered root %d, %d buckets, %d objects, %d peers; want root %d, %d objects", r.Root.Seq, r.Buckets, r.Objects, r.Peers, last.RootSeq, len(want))
	}
	// A second recovery into the same directory is refused.
	if _, err := Recover(context.Background(), cfg, id, Options{}); err == nil || !strings.Contains(err.Error(), "already has a catalog") {
		t.Fatalf("recovering over a catalog: %v", err)
	}

	d := runDaemon(t, cfg, id, Options{ShutdownGrace: -1})
	if got := listing(t, d); !slices.Equal(got, before) {
		t.Fatalf("listing after recovery\n%v\nwant\n%v", got, before)
	}
	for key, data := range want {
		if got := readAll(t, d, key); !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes back, want %d", key, len(got), len(data))
		}
	}
	put(t, d, "after", []byte("uploads go on"))
	st := waitBackedUp(t, d)
	if st.Snapshots == 0 {
		t.Fatalf("the recovered daemon's first step is no snapshot: %+v", st)
	}
}

// Recovering with the phrase of an owner who never backed anything up
// says no root was found.
func TestRecoverNoRoot(t *testing.T) {
	_, urls := startStorage(t, 3, nil)
	seed, _ := shard.NewSeed(rand.Reader)
	var cfg Config
	cfg.Defaults()
	cfg.Data = t.TempDir()
	cfg.Listen, cfg.S3Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Gateway.AddressDiversity = false
	cfg.Network.Bootstrap = urls[:1]
	nk, _ := shard.GeneratePrivateKey(rand.Reader)
	_, err := Recover(context.Background(), cfg, Identity{Node: nk, Owner: seed.Keys()}, Options{})
	if !errors.Is(err, backup.ErrNoRoot) {
		t.Fatalf("recover: %v", err)
	}
}
