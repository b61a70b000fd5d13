package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"testing"

	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

func TestBuckets(t *testing.T) {
	tn := newNet(t, 5, nil)
	ctx := context.Background()
	g := tn.g
	wantCode(t, g.HeadBucket(ctx, "a"), s3api.ErrNoSuchBucket)
	wantCode(t, g.DeleteBucket(ctx, "a"), s3api.ErrNoSuchBucket)
	for _, b := range []string{"zz", "a", "m"} {
		tn.bucket(b)
	}
	wantCode(t, g.CreateBucket(ctx, "a"), s3api.ErrBucketAlreadyOwnedByYou)
	if err := g.HeadBucket(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	bs, err := g.ListBuckets(ctx)
	if err != nil || len(bs) != 3 || bs[0].Name != "a" || bs[1].Name != "m" || bs[2].Name != "zz" || bs[0].Created.IsZero() {
		t.Fatalf("ListBuckets = %+v, %v", bs, err)
	}
	tn.put("a", "k", []byte("x"))
	wantCode(t, g.DeleteBucket(ctx, "a"), s3api.ErrBucketNotEmpty)
	if err := g.DeleteObject(ctx, "a", "k"); err != nil {
		t.Fatal(err)
	}
	id, err := g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "a", Key: "u"})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, g.DeleteBucket(ctx, "a"), s3api.ErrBucketNotEmpty)
	if err := g.AbortMultipartUpload(ctx, "a", "u", id); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteBucket(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, g.HeadBucket(ctx, "a"), s3api.ErrNoSuchBucket)
}

// failReader fails the test if read: PutObject must refuse a missing
// bucket before touching the body.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("body read for a missing bucket")
	return 0, io.EOF
}

func TestObjects(t *testing.T) {
	tn := newNet(t, 5, nil)
	ctx := context.Background()
	g := tn.g
	_, err := g.PutObject(ctx, s3api.PutObjectInput{Bucket: "nope", Key: "k", Body: failReader{t}, Size: 1, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrNoSuchBucket)
	_, err = g.GetObject(ctx, "nope", "k")
	wantCode(t, err, s3api.ErrNoSuchBucket)
	tn.bucket("b")
	_, err = g.GetObject(ctx, "b", "k")
	wantCode(t, err, s3api.ErrNoSuchKey)

	m := s3api.ObjectMeta{ContentType: "text/plain", ContentEncoding: "gzip", ContentDisposition: "inline",
		ContentLanguage: "fr", CacheControl: "no-cache", Expires: "soon", User: map[string]string{"a": "1", "b-c": ""}}
	in := putInput("b", "dir/k", []byte("hello"))
	in.Meta = m
	in.Checksum = func() s3api.Checksum { return s3api.Checksum{Algorithm: "CRC32", Value: "NhCmhg=="} }
	out, err := g.PutObject(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := g.GetObject(ctx, "b", "dir/k")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(obj.Meta, m) || obj.Size != 5 || obj.ETag != out.ETag || obj.Checksum.Algorithm != "CRC32" ||
		obj.Checksum.Value != "NhCmhg==" || !obj.LastModified.Equal(out.LastModified) || obj.PartSizes != nil {
		t.Fatalf("GetObject = %+v", obj.ObjectInfo)
	}
	// Listing in byte order with prefix and delimiter, through ListPage.
	for _, k := range []string{"dir/a", "dir/sub/x", "dir/sub/y", "e\xff", "a b", "dir0"} {
		tn.put("b", k, []byte(k))
	}
	lo, err := g.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "b", Prefix: "dir/", Delimiter: "/", MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(lo.Objects) != 2 || lo.Objects[0].Key != "dir/a" || lo.Objects[1].Key != "dir/k" ||
		!reflect.DeepEqual(lo.CommonPrefixes, []string{"dir/sub/"}) || lo.IsTruncated {
		t.Fatalf("list dir/: %+v", lo)
	}
	if lo.Objects[1].Size != 5 || lo.Objects[1].ETag != out.ETag || lo.Objects[1].LastModified.IsZero() {
		t.Fatalf("listing fields: %+v", lo.Objects[1])
	}
	var keys []string
	after := ""
	for range 10 {
		lo, err = g.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "b", After: after, MaxKeys: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range lo.Objects {
			keys = append(keys, o.Key)
		}
		if !lo.IsTruncated {
			break
		}
		after = lo.NextAfter
	}
	want := []string{"a b", "dir/a", "dir/k", "dir/sub/x", "dir/sub/y", "dir0", "e\xff"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("paged listing %q, want %q", keys, want)
	}
	_, err = g.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "nope", MaxKeys: 1})
	wantCode(t, err, s3api.ErrNoSuchBucket)

	// Deletes: absent keys are fine, objects go, counters follow.
	errs, err := g.DeleteObjects(ctx, "b", []string{"dir/a", "missing", "dir0"})
	if err != nil || len(errs) != 3 || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("DeleteObjects = %v, %v", errs, err)
	}
	_, err = g.DeleteObjects(ctx, "nope", []string{"x"})
	wantCode(t, err, s3api.ErrNoSuchBucket)
	wantCode(t, g.DeleteObject(ctx, "nope", "x"), s3api.ErrNoSuchBucket)
	if err := g.DeleteObject(ctx, "b", "never"); err != nil {
		t.Fatal(err)
	}
	_, err = g.GetObject(ctx, "b", "dir/a")
	wantCode(t, err, s3api.ErrNoSuchKey)
	if n := tn.counter(meta.CounterObjects); n != 5 {
		t.Fatalf("objects counter %d, want 5", n)
	}
	st, err := g.Stats(ctx)
	if err != nil || st.Objects != 5 || st.LogicalBytes != 5+9+9+2+3 || len(st.Peers) != 5 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func TestOverwriteReleasesOldShards(t *testing.T) {
	tn := newNet(t, 6, nil)
	tn.bucket("b")
	old := randBytes(600<<10, 3)
	tn.put("b", "k", old)
	oldShards := tn.shardsOf("b", "k")
	nu := randBytes(100, 4)
	tn.put("b", "k", nu)
	newShards := tn.shardsOf("b", "k")
	if got := tn.get("b", "k"); !bytes.Equal(got, nu) {
		t.Fatal("overwrite not visible")
	}
	if n := tn.pendingReleases(); n != len(oldShards) {
		t.Fatalf("%d releases queued, want %d", n, len(oldShards))
	}
	// Not before the release delay: a read of the old version may be on its way.
	if _, err := tn.g.releaseDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(tn.held()); n != len(oldShards)+len(newShards) {
		t.Fatalf("released before the delay: %d shards held", n)
	}
	tn.releaseAll()
	held := tn.held()
	for id := range oldShards {
		if held[id] > 0 {
			t.Fatalf("old shard %s still held", id)
		}
	}
	for id := range newShards {
		if held[id] != 1 {
			t.Fatalf("new shard %s held %d times", id, held[id])
		}
	}
	checkDeleteGrants(t, tn, oldShards)
	if n := tn.pendingReleases(); n != 0 {
		t.Fatalf("%d releases left", n)
	}
	if got, want := tn.counter(meta.CounterStoredBytes), tn.g.expansion(tn.g.cfg.Params, 100); got != want {
		t.Fatalf("stored bytes %d, want %d", got, want)
	}
	if got := tn.counter(meta.CounterLogicalBytes); got != 100 {
		t.Fatalf("logical bytes %d", got)
	}
}

// checkDeleteGrants checks that exactly the shards of ids were deleted,
// each with a valid grant signed by the owner.
func checkDeleteGrants(t *testing.T, tn *testNet, ids map[shard.ID]bool) {
	t.Helper()
	got := map[shard.ID]bool{}
	for _, p := range tn.peers {
		for _, g := range p.deleteGrants() {
			if err := g.Verify(); err != nil || g.Owner != tn.owner.Signing.Public() || g.Op != shard.OpDelete {
				t.Fatalf("delete grant %+v: %v", g, err)
			}
			got[g.Shard] = true
		}
	}
	if !reflect.DeepEqual(got, ids) {
		t.Fatalf("deletes for %d shards, want %d", len(got), len(ids))
	}
}

func TestCopyByManifest(t *testing.T) {
	tn := newNet(t, 5, nil)
	ctx := context.Background()
	tn.bucket("b")
	tn.bucket("c")
	data := randBytes(700<<10, 5)
	out := tn.put("b", "src", data)
	shards := tn.shardsOf("b", "src")
	puts := func() (n int) {
		for _, p := range tn.peers {
			_, _, c := p.counters()
			n += c
		}
		return n
	}
	before := puts()
	check := func(src s3api.ObjectInfo) error {
		if src.ETag != out.ETag || src.Size != int64(len(data)) {
			t.Errorf("Check got %+v", src)
		}
		return nil
	}
	nm := &s3api.ObjectMeta{ContentType: "x/y"}
	info, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "dst", Meta: nm, Check: check})
	if err != nil || info.ETag != out.ETag || info.Size != int64(len(data)) || info.Meta.ContentType != "x/y" {
		t.Fatalf("CopyObject = %+v, %v", info, err)
	}
	if puts() != before {
		t.Fatal("copy stored shards")
	}
	for _, s := range tn.segments("c", "dst") {
		if s.Refs != 2 {
			t.Fatalf("segment refs %d after copy, want 2", s.Refs)
		}
	}
	// Errors: the source's, the destination bucket's, Check's.
	_, err = tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "nope", Bucket: "c", Key: "x", Check: check})
	wantCode(t, err, s3api.ErrNoSuchKey)
	_, err = tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", Bucket: "nope", Key: "x", Check: check})
	wantCode(t, err, s3api.ErrNoSuchBucket)
	_, err = tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", Bucket: "c", Key: "x",
		Check: func(s3api.ObjectInfo) error { return s3api.ErrPreconditionFailed }})
	wantCode(t, err, s3api.ErrPreconditionFailed)
	// Copying onto itself keeps the references.
	if _, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "c", SrcKey: "dst", Bucket: "c", Key: "dst", Meta: nm, Check: check}); err != nil {
		t.Fatal(err)
	}
	if segs := tn.segments("c", "dst"); segs[0].Refs != 2 {
		t.Fatalf("refs %d after self-copy", segs[0].Refs)
	}
	// Deleting the source releases nothing; deleting the copy releases all.
	if err := tn.g.DeleteObject(ctx, "b", "src"); err != nil {
		t.Fatal(err)
	}
	tn.releaseAll()
	if tn.pendingReleases() != 0 || len(tn.held()) != len(shards) {
		t.Fatal("source delete released shards still referenced by the copy")
	}
	if got := tn.get("c", "dst"); !bytes.Equal(got, data) {
		t.Fatal("copy reads wrong after the source went")
	}
	if err := tn.g.DeleteObject(ctx, "c", "dst"); err != nil {
		t.Fatal(err)
	}
	tn.releaseAll()
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards held after the last reference went", n)
	}
	checkDeleteGrants(t, tn, shards)
	if n := tn.counter(meta.CounterStoredBytes); n != 0 {
		t.Fatalf("stored bytes %d after everything was deleted", n)
	}
}

func TestQuota(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Capacity = 1 << 20 })
	ctx := context.Background()
	tn.bucket("b")
	small := randBytes(100<<10, 6)
	tn.put("b", "small", small)
	used := tn.counter(meta.CounterStoredBytes)
	held := len(tn.held())
	// 600 KiB expands to 1000 KiB, more than the ~850 KiB left.
	_, err := tn.g.PutObject(ctx, putInput("b", "big", randBytes(600<<10, 7)))
	wantCode(t, err, s3api.ErrQuotaExceeded)
	_, err = tn.g.GetObject(ctx, "b", "big")
	wantCode(t, err, s3api.ErrNoSuchKey)
	if len(tn.held()) != held || tn.counter(meta.CounterStoredBytes) != used || tn.pendingReleases() != 0 {
		t.Fatal("a refused upload stored something")
	}
	if js, _ := tn.db.Journals(0); len(js) != 0 {
		t.Fatal("a refused upload left journal entries")
	}
	id, err := tn.g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "b", Key: "m"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "m", UploadID: id, PartNumber: 1,
		Body: failReader{t}, Size: 900 << 10, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrQuotaExceeded)
	// Deleting frees the space again.
	if err := tn.g.DeleteObject(ctx, "b", "small"); err != nil {
		t.Fatal(err)
	}
	tn.put("b", "big", randBytes(600<<10, 7))
}

func TestStoreErrorsAreServiceErrors(t *testing.T) {
	tn := newNet(t, 4, nil) // fewer peers than N
	tn.bucket("b")
	_, err := tn.g.PutObject(context.Background(), putInput("b", "k", []byte("data")))
	if !errors.Is(err, s3api.ErrSlowDown) && !errors.Is(err, s3api.ErrServiceUnavailable) {
		t.Fatalf("PUT with too few peers: %v", err)
	}
	if len(tn.held()) != 0 || tn.pendingReleases() != 0 {
		t.Fatal("nothing should have been sent")
	}
}
