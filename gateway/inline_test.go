package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"testing"

	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// inlineNet is a gateway that keeps objects of up to limit bytes inline.
func inlineNet(t testing.TB, limit int64) *testNet {
	tn := newNet(t, 5, func(c *Config) { c.InlineMax = limit })
	tn.bucket("b")
	return tn
}

// peerCalls is the number of calls the gateway made to any peer.
func (tn *testNet) peerCalls() int64 {
	var n int64
	for _, f := range tn.faults {
		n += f.calls.Load()
	}
	return n
}

// object returns the catalog record of bucket/key.
func (tn *testNet) object(bucket, key string) meta.Object {
	tn.t.Helper()
	o, err := tn.db.Object(bucket, key)
	if err != nil {
		tn.t.Fatal(err)
	}
	return o
}

// wantInline checks whether bucket/key is kept inline, and that an
// inline object has no segments.
func (tn *testNet) wantInline(bucket, key string, inline bool) {
	tn.t.Helper()
	o := tn.object(bucket, key)
	if got := o.Inline != nil; got != inline || (inline && len(o.Segments) != 0) || (!inline && len(o.Segments) == 0) {
		tn.t.Fatalf("%s/%s (%d bytes): inline %v with %d segments, want inline %v", bucket, key, o.Size, got,
			len(o.Segments), inline)
	}
}

// sealed is what an inline object of n bytes counts as stored.
func (tn *testNet) sealed(n int) int64 {
	return shard.SealedSize(int64(n), tn.g.cfg.Params.BlockSize)
}

// wantCounters checks the object, logical, stored and inline bytes
// counters.
func (tn *testNet) wantCounters(objects, logical, stored, inline int64) {
	tn.t.Helper()
	got := [4]int64{tn.counter(meta.CounterObjects), tn.counter(meta.CounterLogicalBytes),
		tn.counter(meta.CounterStoredBytes), tn.counter(meta.CounterInlineBytes)}
	if want := [4]int64{objects, logical, stored, inline}; got != want {
		tn.t.Fatalf("counters (objects, logical, stored, inline) %v, want %v", got, want)
	}
}

// TestInlineTouchesNoPeer: PUT, HEAD, GET, ranges, listing, copy and
// delete of inline objects make no peer call at all, and work with every
// peer away; their counters follow.
func TestInlineTouchesNoPeer(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	ctx := context.Background()
	objs := map[string][]byte{"empty": {}, "one": {7}, "small": randBytes(100, 1), "max": randBytes(DefaultInlineMax, 2)}
	var logical, inline int64
	for k, data := range objs {
		tn.put("b", k, data)
		tn.wantInline("b", k, true)
		logical += int64(len(data))
		inline += tn.sealed(len(data))
	}
	for k, data := range objs {
		obj, err := tn.g.GetObject(ctx, "b", k)
		if err != nil || obj.Size != int64(len(data)) || obj.ETag != md5hex(data) {
			t.Fatalf("head %s: %+v, %v", k, obj, err)
		}
		if got := tn.get("b", k); !bytes.Equal(got, data) {
			t.Fatalf("get %s: wrong bytes", k)
		}
	}
	lo, err := tn.g.ListObjects(ctx, s3api.ListObjectsInput{Bucket: "b", MaxKeys: 1000})
	if err != nil || len(lo.Objects) != len(objs) {
		t.Fatalf("list: %+v, %v", lo, err)
	}
	for _, o := range lo.Objects {
		if data := objs[o.Key]; o.Size != int64(len(data)) || o.ETag != md5hex(data) {
			t.Fatalf("listed %+v, want %d bytes ETag %s", o, len(data), md5hex(data))
		}
	}
	tn.wantCounters(int64(len(objs)), logical, 0, inline)
	if n := tn.peerCalls(); n != 0 || len(tn.held()) != 0 {
		t.Fatalf("inline objects made %d peer calls, peers hold %d shards", n, len(tn.held()))
	}

	for _, f := range tn.faults {
		f.set(offline)
	}
	tn.put("b", "while-away", []byte("no peer needed"))
	if got := tn.get("b", "while-away"); string(got) != "no peer needed" {
		t.Fatalf("read with every peer away: %q", got)
	}
	if _, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "max", Bucket: "b", Key: "copy",
		Check: func(s3api.ObjectInfo) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	if got := tn.get("b", "copy"); !bytes.Equal(got, objs["max"]) {
		t.Fatal("copy: wrong bytes")
	}
	if _, err := tn.g.DeleteObjects(ctx, "b", []string{"empty", "one", "small", "max", "while-away", "copy"}); err != nil {
		t.Fatal(err)
	}
	tn.wantCounters(0, 0, 0, 0)
	if n := tn.peerCalls(); n != 0 {
		t.Fatalf("%d peer calls with every peer away", n)
	}
	if n := tn.pendingReleases(); n != 0 {
		t.Fatalf("deleting inline objects queued %d releases", n)
	}
}

// TestInlineBoundary: InlineMax bytes are inline, one more are not, and
// InlineMax 0 keeps every object on peers, the empty one too.
func TestInlineBoundary(t *testing.T) {
	for _, c := range []struct {
		limit  int64
		size   int
		inline bool
	}{
		{DefaultInlineMax, DefaultInlineMax, true},
		{DefaultInlineMax, DefaultInlineMax + 1, false},
		{1000, 0, true},
		{1000, 1000, true},
		{1000, 1001, false},
		{MaxInlineMax, MaxInlineMax, true},
		{MaxInlineMax, MaxInlineMax + 1, false},
		{0, 0, false},
		{0, 1, false},
	} {
		t.Run(fmt.Sprintf("max=%d/size=%d", c.limit, c.size), func(t *testing.T) {
			tn := inlineNet(t, c.limit)
			data := randBytes(c.size, uint64(c.size))
			tn.put("b", "k", data)
			tn.wantInline("b", "k", c.inline)
			if got := tn.get("b", "k"); !bytes.Equal(got, data) {
				t.Fatal("wrong bytes")
			}
			stored, inline := tn.g.expansion(tn.g.cfg.Params, int64(c.size)), int64(0)
			if c.inline {
				stored, inline = 0, tn.sealed(c.size)
				if n := tn.peerCalls(); n != 0 {
					t.Fatalf("%d peer calls", n)
				}
			} else if len(tn.held()) != tn.g.cfg.Params.N {
				t.Fatalf("peers hold %d shards, want %d", len(tn.held()), tn.g.cfg.Params.N)
			}
			tn.wantCounters(1, int64(c.size), stored, inline)
		})
	}
}

func TestInlineConfig(t *testing.T) {
	for _, c := range []struct {
		limit int64
		ok    bool
	}{{-1, false}, {0, true}, {1, true}, {MaxInlineMax, true}, {MaxInlineMax + 1, false}} {
		cfg := Config{InlineMax: c.limit}
		cfg.Defaults()
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("InlineMax %d: %v", c.limit, err)
		}
		if c.ok && cfg.InlineMax != c.limit {
			t.Errorf("Defaults changed InlineMax %d to %d", c.limit, cfg.InlineMax)
		}
	}
}

// TestInlineRanges reads every kind of range of an inline object sealed
// in several AEAD blocks.
func TestInlineRanges(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) {
		c.InlineMax = 4000
		c.Params.BlockSize = 1024
	})
	tn.bucket("b")
	data := randBytes(4000, 9)
	tn.put("b", "k", data)
	tn.wantInline("b", "k", true)
	if n := len(tn.object("b", "k").Inline.Sealed); n != 4000+4*shard.Overhead {
		t.Fatalf("sealed in %d bytes, want 4 blocks", n)
	}
	for _, r := range [][2]int64{{0, 1}, {3999, 1}, {0, 4000}, {1023, 2}, {1024, 1024}, {100, 3000}, {3990, 10}, {7, 0}} {
		got, err := tn.read(context.Background(), "b", "k", r[0], r[1])
		if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
			t.Fatalf("range %d+%d: %d bytes, %v", r[0], r[1], len(got), err)
		}
	}
	for _, r := range [][2]int64{{0, 4001}, {4000, 1}, {-1, 1}} {
		if _, err := tn.read(context.Background(), "b", "k", r[0], r[1]); err == nil {
			t.Fatalf("range %d+%d outside the object read", r[0], r[1])
		}
	}
	if n := tn.peerCalls(); n != 0 {
		t.Fatalf("%d peer calls", n)
	}
}

// TestInlineOverwrite replaces a sharded object by an inline one and back:
// the old segments' shards are released as for any overwrite, and the
// counters follow.
func TestInlineOverwrite(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	big, small := randBytes(20<<10, 1), randBytes(300, 2)

	tn.put("b", "k", big)
	tn.wantInline("b", "k", false)
	oldShards := tn.shardsOf("b", "k")
	tn.put("b", "k", small)
	tn.wantInline("b", "k", true)
	if got := tn.get("b", "k"); !bytes.Equal(got, small) {
		t.Fatal("inline over sharded: wrong bytes")
	}
	if n := tn.pendingReleases(); n != len(oldShards) {
		t.Fatalf("%d releases queued, want %d", n, len(oldShards))
	}
	tn.releaseAll()
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards held after the release", n)
	}
	checkDeleteGrants(t, tn, oldShards)
	tn.wantCounters(1, int64(len(small)), 0, tn.sealed(len(small)))

	tn.put("b", "k", big)
	tn.wantInline("b", "k", false)
	if got := tn.get("b", "k"); !bytes.Equal(got, big) {
		t.Fatal("sharded over inline: wrong bytes")
	}
	if n := tn.pendingReleases(); n != 0 {
		t.Fatalf("replacing an inline object queued %d releases", n)
	}
	tn.wantCounters(1, int64(len(big)), tn.g.expansion(tn.g.cfg.Params, int64(len(big))), 0)

	tn.put("b", "k", small) // and inline over inline
	tn.put("b", "k", big[:DefaultInlineMax])
	tn.wantInline("b", "k", true)
	tn.releaseAll()
	tn.wantCounters(1, DefaultInlineMax, 0, tn.sealed(DefaultInlineMax))
	if err := tn.g.DeleteObject(context.Background(), "b", "k"); err != nil {
		t.Fatal(err)
	}
	tn.releaseAll()
	tn.wantCounters(0, 0, 0, 0)
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards held at the end", n)
	}
}

// TestInlineCopy copies an inline object to an inline copy (no peer
// call), to a sharded copy once InlineMax is lower (peers get the content,
// none is read), and a small sharded object to a copy that references
// its segments.
func TestInlineCopy(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	ctx := context.Background()
	data := randBytes(3000, 4)
	in := putInput("b", "src", data)
	in.Meta = s3api.ObjectMeta{ContentType: "text/a", User: map[string]string{"x": "1"}}
	in.Checksum = func() s3api.Checksum { return s3api.Checksum{Algorithm: "CRC32", Value: "AAAAAA=="} }
	if _, err := tn.g.PutObject(ctx, in); err != nil {
		t.Fatal(err)
	}
	copyTo := func(key string, m *s3api.ObjectMeta) s3api.ObjectInfo {
		t.Helper()
		info, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "src", Bucket: "b", Key: key, Meta: m,
			Check: func(src s3api.ObjectInfo) error {
				if src.Size != int64(len(data)) || src.ETag != md5hex(data) {
					t.Errorf("Check saw %+v", src)
				}
				return nil
			}})
		if err != nil || info.ETag != md5hex(data) || info.Size != int64(len(data)) {
			t.Fatalf("copy to %s: %+v, %v", key, info, err)
		}
		return info
	}
	copyTo("same", nil)
	nm := &s3api.ObjectMeta{ContentType: "text/b"}
	copyTo("replaced", nm)
	for key, m := range map[string]s3api.ObjectMeta{"same": in.Meta, "replaced": *nm} {
		tn.wantInline("b", key, true)
		obj, err := tn.g.GetObject(ctx, "b", key)
		if err != nil || !reflect.DeepEqual(obj.Meta, m) || obj.Checksum.Value != "AAAAAA==" {
			t.Fatalf("copy %s: %+v, %v", key, obj, err)
		}
		if got := tn.get("b", key); !bytes.Equal(got, data) {
			t.Fatalf("copy %s: wrong bytes", key)
		}
	}
	tn.wantCounters(3, 3*3000, 0, 3*tn.sealed(3000))
	if n := tn.peerCalls(); n != 0 {
		t.Fatalf("inline copies made %d peer calls", n)
	}

	// Inline max lowered: a copy of the inline source goes to peers,
	// which are written to and never read from.
	tn.cfg.InlineMax = 1000
	tn.open()
	copyTo("to-peers", nil)
	tn.wantInline("b", "to-peers", false)
	for _, f := range tn.faults {
		if _, gets, _ := f.inner.counters(); gets != 0 {
			t.Fatalf("copying an inline source read %d shards", gets)
		}
	}
	if got := tn.get("b", "to-peers"); !bytes.Equal(got, data) {
		t.Fatal("copy on peers: wrong bytes")
	}
	if obj := tn.object("b", "to-peers"); obj.ETag != md5hex(data) || obj.ChecksumValue != "AAAAAA==" {
		t.Fatalf("copy on peers: %+v", obj)
	}
	tn.wantCounters(4, 4*3000, tn.g.expansion(tn.g.cfg.Params, 3000), 3*tn.sealed(3000))

	// A small object on peers is copied by reference, whatever InlineMax.
	tn.cfg.InlineMax = 0
	tn.open()
	tn.put("b", "sharded", data[:10])
	tn.cfg.InlineMax = DefaultInlineMax
	tn.open()
	calls := tn.peerCalls()
	if _, err := tn.g.CopyObject(ctx, s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "sharded", Bucket: "b", Key: "ref",
		Check: func(s3api.ObjectInfo) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	tn.wantInline("b", "ref", false)
	if segs := tn.segments("b", "ref"); len(segs) != 1 || segs[0].Refs != 2 {
		t.Fatalf("copy of a sharded object: %+v", segs)
	}
	if n := tn.peerCalls() - calls; n != 0 {
		t.Fatalf("copying a sharded object made %d peer calls", n)
	}

	// Copy onto itself, and deletes: counters back to zero.
	copyTo("src", nil)
	if _, err := tn.g.DeleteObjects(ctx, "b", []string{"src", "same", "replaced", "to-peers", "sharded", "ref"}); err != nil {
		t.Fatal(err)
	}
	tn.releaseAll()
	tn.wantCounters(0, 0, 0, 0)
	if n := len(tn.held()); n != 0 {
		t.Fatalf("%d shards held after every object went", n)
	}
}

// TestInlineNeverMultipart: a one-part upload of a few bytes is on peers.
func TestInlineNeverMultipart(t *testing.T) {
	tn := inlineNet(t, DefaultInlineMax)
	ctx := context.Background()
	id, err := tn.g.CreateMultipartUpload(ctx, s3api.CreateMultipartUploadInput{Bucket: "b", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("ten bytes!")
	p, err := tn.g.UploadPart(ctx, s3api.UploadPartInput{Bucket: "b", Key: "mp", UploadID: id, PartNumber: 1,
		Body: bytes.NewReader(data), Size: int64(len(data)), Checksum: noChecksum})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.g.CompleteMultipartUpload(ctx, s3api.CompleteMultipartUploadInput{Bucket: "b", Key: "mp", UploadID: id,
		Parts: []s3api.CompletedPart{{PartNumber: 1, ETag: p.ETag}}}); err != nil {
		t.Fatal(err)
	}
	tn.wantInline("b", "mp", false)
	if got := tn.get("b", "mp"); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	if len(tn.held()) != tn.g.cfg.Params.N {
		t.Fatalf("peers hold %d shards", len(tn.held()))
	}
}

// TestInlineBody: a body that does not match its declared size fails and
// stores nothing; a body streamed over InlineMax goes to peers whole.
func TestInlineBody(t *testing.T) {
	tn := inlineNet(t, 100)
	ctx := context.Background()
	for _, c := range []struct {
		body []byte
		size int64
	}{{make([]byte, 50), 60}, {make([]byte, 60), 50}, {make([]byte, 101), 100}} {
		_, err := tn.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "bad", Body: bytes.NewReader(c.body),
			Size: c.size, Checksum: noChecksum})
		wantCode(t, err, s3api.ErrIncompleteBody)
	}
	// An integrity error of the body (a checksum trailer) is the client's.
	_, err := tn.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "bad", Size: 10, Checksum: noChecksum,
		Body: io.MultiReader(bytes.NewReader(make([]byte, 10)), errReader{s3api.ErrBadDigest})})
	wantCode(t, err, s3api.ErrBadDigest)
	if _, err := tn.g.GetObject(ctx, "b", "bad"); err == nil {
		t.Fatal("a failed PUT left an object")
	}
	tn.wantCounters(0, 0, 0, 0)

	data := randBytes(5000, 5)
	pr, pw := io.Pipe()
	go func() {
		for b := data; len(b) > 0; b = b[min(len(b), 33):] {
			pw.Write(b[:min(len(b), 33)])
		}
		pw.Close()
	}()
	if _, err := tn.g.PutObject(ctx, s3api.PutObjectInput{Bucket: "b", Key: "streamed", Body: pr, Size: int64(len(data)),
		Checksum: noChecksum}); err != nil {
		t.Fatal(err)
	}
	tn.wantInline("b", "streamed", false)
	if got := tn.get("b", "streamed"); !bytes.Equal(got, data) {
		t.Fatal("streamed body: wrong bytes")
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestInlineCorrupt damages an inline record in the catalog every way
// that still decodes: reads fail with InternalError, never wrong bytes,
// while HEAD (the record's fields) still answers.
func TestInlineCorrupt(t *testing.T) {
	for name, damage := range map[string]func(*meta.Object){
		"flipped content": func(o *meta.Object) { o.Inline.Sealed[len(o.Inline.Sealed)/2] ^= 1 },
		"flipped tag":     func(o *meta.Object) { o.Inline.Sealed[len(o.Inline.Sealed)-1] ^= 0x80 },
		"truncated":       func(o *meta.Object) { o.Inline.Sealed = o.Inline.Sealed[:len(o.Inline.Sealed)-1] },
		"no block":        func(o *meta.Object) { o.Inline.Sealed = nil },
		"other salt":      func(o *meta.Object) { o.Inline.Salt[0] ^= 1 },
		"other object":    func(o *meta.Object) { o.Inline.Object[15] ^= 1 },
		"wrapped key":     func(o *meta.Object) { o.Inline.WrappedKey[40] ^= 1 },
		"no key":          func(o *meta.Object) { o.Inline.WrappedKey = nil },
		"block size":      func(o *meta.Object) { o.Inline.BlockSize = 512 },
		"zero block size": func(o *meta.Object) { o.Inline.BlockSize = 0 },
		"huge block size": func(o *meta.Object) { o.Inline.BlockSize = 1 << 30 },
		"size":            func(o *meta.Object) { o.Size-- },
	} {
		t.Run(name, func(t *testing.T) {
			tn := inlineNet(t, DefaultInlineMax)
			tn.put("b", "k", randBytes(2000, 6))
			o := tn.object("b", "k")
			damage(&o)
			if err := tn.db.Update(func(b *meta.Batch) error { return b.PutObject(o) }); err != nil {
				t.Fatal(err)
			}
			obj, err := tn.g.GetObject(context.Background(), "b", "k")
			if err != nil {
				t.Fatalf("HEAD of a damaged inline object: %v", err)
			}
			rc, err := obj.Open(context.Background(), 0, min(obj.Size, 10))
			if err == nil {
				b, _ := io.ReadAll(rc)
				t.Fatalf("read %d bytes of a damaged inline object", len(b))
			}
			wantCode(t, err, s3api.ErrInternalError)
			// A copy that must open the content to store it on peers fails
			// the same way and stores nothing.
			tn.cfg.InlineMax = 0
			tn.open()
			_, err = tn.g.CopyObject(context.Background(), s3api.CopyObjectInput{SrcBucket: "b", SrcKey: "k", Bucket: "b",
				Key: "copy", Check: func(s3api.ObjectInfo) error { return nil }})
			wantCode(t, err, s3api.ErrInternalError)
			if n := tn.peerCalls(); n != 0 {
				t.Fatalf("%d peer calls", n)
			}
		})
	}
}

// TestInlineQuota: inline objects count against the capacity with their
// sealed bytes, and Stats shows them apart from the shards on peers.
func TestInlineQuota(t *testing.T) {
	const size = 1000
	var sealed int64
	tn := newNet(t, 5, func(c *Config) {
		c.InlineMax = DefaultInlineMax
		sealed = shard.SealedSize(size, shard.DefaultBlockSize)
		c.Capacity = 3 * sealed
	})
	tn.bucket("b")
	for i := range 3 {
		tn.put("b", fmt.Sprint(i), randBytes(size, uint64(i)))
	}
	_, err := tn.g.PutObject(context.Background(), putInput("b", "over", randBytes(size, 9)))
	wantCode(t, err, s3api.ErrQuotaExceeded)
	st, err := tn.g.Stats(context.Background())
	if err != nil || st.InlineBytes != 3*sealed || st.StoredBytes != 0 || st.Objects != 3 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	if err := tn.g.DeleteObject(context.Background(), "b", "0"); err != nil {
		t.Fatal(err)
	}
	tn.put("b", "over", randBytes(size, 9))
}
