package meta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func TestBucketsAndEmptiness(t *testing.T) {
	db := openMem(t)
	if _, err := db.Bucket("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent bucket: %v", err)
	}
	for _, n := range []string{"b", "a", "a-b"} {
		put(t, db, func(b *Batch) error { return b.PutBucket(Bucket{Name: n, Created: int64(len(n))}) })
	}
	bs, err := db.Buckets()
	if err != nil {
		t.Fatal(err)
	}
	want := []Bucket{{"a", 1}, {"a-b", 3}, {"b", 1}}
	if !reflect.DeepEqual(bs, want) {
		t.Fatalf("Buckets = %+v, want %+v", bs, want)
	}
	// An object in "a-b" must not make "a" non-empty, nor one in "a" "a-b".
	put(t, db, func(b *Batch) error { return b.PutObject(Object{Bucket: "a-b", Key: "k"}) })
	put(t, db, func(b *Batch) error {
		for name, wantEmpty := range map[string]bool{"a": true, "a-b": false, "b": true} {
			empty, err := b.BucketEmpty(name)
			if err != nil || empty != wantEmpty {
				t.Errorf("BucketEmpty(%s) = %v, %v", name, empty, err)
			}
		}
		if err := b.PutUpload(Upload{Bucket: "b", ID: UploadID{1}, Key: "x"}); err != nil {
			return err
		}
		empty, err := b.BucketEmpty("b")
		if err != nil || empty {
			t.Errorf("bucket with an upload: empty=%v, %v", empty, err)
		}
		return nil
	})
}

func TestObjectRoundTripAndListing(t *testing.T) {
	db := openMem(t)
	o := Object{Bucket: "bk", Key: "dir/\x00odd\xff", Size: 1 << 40, ETag: "abc-2", Modified: -5,
		Meta: ObjectMeta{ContentType: "text/plain", Expires: "x",
			User: map[string]string{"b": "2", "a": ""}},
		ChecksumAlgorithm: "CRC32", ChecksumValue: "AAAA", PartSizes: []int64{5 << 20, 1},
		Segments: []SegmentRef{{ID: SegmentID{1, 2}, Size: 7}, {ID: SegmentID{3}, Size: 0}}}
	put(t, db, func(b *Batch) error { return b.PutObject(o) })
	got, err := db.Object("bk", o.Key)
	if err != nil || !reflect.DeepEqual(got, o) {
		t.Fatalf("Object = %+v, %v\nwant %+v", got, err, o)
	}
	keys := []string{"a", "a/b", "b", "\xff"}
	put(t, db, func(b *Batch) error {
		for i, k := range keys {
			if err := b.PutObject(Object{Bucket: "l", Key: k, Size: int64(i), ETag: k}); err != nil {
				return err
			}
		}
		// Neighbouring buckets must not leak into the listing.
		if err := b.PutObject(Object{Bucket: "k", Key: "z"}); err != nil {
			return err
		}
		return b.PutObject(Object{Bucket: "l0", Key: "a"})
	})
	it, err := db.Objects("l")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var seen []string
	for ok := it.SeekGE(""); ok; ok = it.Next() {
		l := it.Listing()
		if l.ETag != l.Key || keys[l.Size] != l.Key {
			t.Fatalf("listing %+v", l)
		}
		seen = append(seen, l.Key)
	}
	if err := it.Err(); err != nil || !reflect.DeepEqual(seen, keys) {
		t.Fatalf("listed %q, %v", seen, err)
	}
	if !it.SeekGE("a0") || it.Listing().Key != "b" {
		t.Fatalf("SeekGE(a0) at %q", it.Listing().Key)
	}
	if it.SeekGE("\xff\x00") {
		t.Fatal("SeekGE past the end found something")
	}
}

// Object records written before inline objects existed (version 1, the
// bytes below come from that encoder) still decode, and objects without
// inline content are still written exactly so.
func TestObjectV1Records(t *testing.T) {
	for _, c := range []struct {
		hex  string
		want Object
	}{{
		"01f2c001203031323334353637383961626364656630313233343536373839616263646566aab4aed8c7bfce972f0a746578742f" +
			"706c61696e000000086e6f2d6361636865000201610005636f6c6f7204626c7565054352433332084e68436d68673d3d00010102" +
			"03000000000000000000000000000000000000000009f2c001",
		Object{Bucket: "bk", Key: "dir/k", Size: 12345, ETag: "0123456789abcdef0123456789abcdef", Modified: 1700000000123456789,
			Meta:              ObjectMeta{ContentType: "text/plain", CacheControl: "no-cache", User: map[string]string{"color": "blue", "a": ""}},
			ChecksumAlgorithm: "CRC32", ChecksumValue: "NhCmhg==",
			Segments: []SegmentRef{{ID: SegmentID{1, 2, 3, 23: 9}, Size: 12345}}},
	}, {
		"01948080052266656463626139383736353433323130666564636261393837363534333231302d320a00000000000000000002808080" +
			"0514020700000000000000000000000000000000000000000000008080800508000000000000000000000000000000000000000000000014",
		Object{Bucket: "bk", Key: "mp", Size: 5<<20 + 10, ETag: "fedcba9876543210fedcba9876543210-2", Modified: 5,
			PartSizes: []int64{5 << 20, 10}, Segments: []SegmentRef{{ID: SegmentID{7}, Size: 5 << 20}, {ID: SegmentID{8}, Size: 10}}},
	}} {
		v, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeObject(objectKey(c.want.Bucket, c.want.Key), v)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Fatalf("v1 record decoded as %+v, %v\nwant %+v", got, err, c.want)
		}
		l, err := decodeListing([]byte(c.want.Key), v)
		if err != nil || l.Size != c.want.Size || l.ETag != c.want.ETag || l.Modified != c.want.Modified {
			t.Fatalf("v1 listing %+v, %v", l, err)
		}
		if again := encodeObject(got); !bytes.Equal(again, v) {
			t.Fatalf("an object without inline content re-encodes as %x, not as the v1 record", again)
		}
	}
}

func TestObjectInline(t *testing.T) {
	db := openMem(t)
	o := Object{Bucket: "bk", Key: "small", Size: 3, ETag: "e", Modified: 9, Meta: ObjectMeta{ContentType: "a/b"},
		ChecksumAlgorithm: "SHA256", ChecksumValue: "x", Segments: []SegmentRef{},
		Inline: &InlineContent{Object: [16]byte{1, 15: 2}, Salt: [16]byte{3, 15: 4}, BlockSize: 65536,
			WrappedKey: bytes.Repeat([]byte{5}, 73), Sealed: bytes.Repeat([]byte{6}, 19)}}
	put(t, db, func(b *Batch) error { return b.PutObject(o) })
	got, err := db.Object("bk", "small")
	if err != nil || !reflect.DeepEqual(got, o) {
		t.Fatalf("Object = %+v, %v\nwant %+v", got, err, o)
	}
	it, err := db.Objects("bk")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.SeekGE("") || it.Listing() != (ObjectListing{Key: "small", Size: 3, ETag: "e", Modified: 9}) {
		t.Fatalf("listing %+v, %v", it.Listing(), it.Err())
	}
	v := encodeObject(o)
	if v[0] != objectV2 {
		t.Fatalf("inline object written as version %d", v[0])
	}
	// Every truncation of the inline section is caught.
	plain := len(encodeObject(Object{Bucket: o.Bucket, Key: o.Key, Size: o.Size, ETag: o.ETag, Modified: o.Modified,
		Meta: o.Meta, ChecksumAlgorithm: o.ChecksumAlgorithm, ChecksumValue: o.ChecksumValue}))
	for n := plain; n < len(v); n++ {
		if _, err := decodeObject(objectKey("bk", "small"), v[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("record cut to %d of %d bytes: %v, want ErrCorrupt", n, len(v), err)
		}
	}
}

func TestSegmentsUploadsParts(t *testing.T) {
	db := openMem(t)
	s := Segment{ID: SegmentID{9, 1}, Object: [16]byte{1}, Number: 1<<32 | 3, Salt: [16]byte{2},
		WrappedKey: []byte("wrapped"), PlainSize: 10, SealedSize: 26, K: 3, N: 5, BlockSize: 64 << 10, Refs: 2,
		Shards: []SegmentShard{{ID: [32]byte{1}, Node: [32]byte{2}, Holder: [32]byte{3}, LeaseExpiry: 4, Time: 5,
			Sig: []byte("sig"), Health: ShardHealth{LastAudit: 6, AuditFailures: 1, RecheckAt: 7, Lost: 2}}, {ID: [32]byte{6}}}}
	u := Upload{Bucket: "bk", ID: UploadID{7}, Key: "k", Initiated: 8, Meta: ObjectMeta{CacheControl: "no"},
		ChecksumAlgorithm: "SHA256"}
	parts := []Part{
		{Upload: u.ID, Number: 1, Size: 5, ETag: "e1", Modified: 1, Segments: []SegmentRef{{ID: s.ID, Size: 10}}},
		{Upload: u.ID, Number: 10000, Size: 6, ETag: "e2", ChecksumAlgorithm: "CRC32C", ChecksumValue: "v",
			Segments: []SegmentRef{}},
	}
	put(t, db, func(b *Batch) error {
		for _, p := range []Part{parts[1], parts[0], {Upload: UploadID{8}, Number: 1}} {
			if err := b.PutPart(p); err != nil {
				return err
			}
		}
		if err := b.PutUpload(u); err != nil {
			return err
		}
		return b.PutSegment(s)
	})
	if got, err := db.Segment(s.ID); err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("Segment = %+v, %v", got, err)
	}
	if got, err := db.Upload("bk", u.ID); err != nil || !reflect.DeepEqual(got, u) {
		t.Fatalf("Upload = %+v, %v", got, err)
	}
	if ups, err := db.Uploads("bk"); err != nil || len(ups) != 1 {
		t.Fatalf("Uploads = %+v, %v", ups, err)
	}
	if got, err := db.Parts(u.ID); err != nil || !reflect.DeepEqual(got, parts) {
		t.Fatalf("Parts = %+v, %v\nwant %+v", got, err, parts)
	}
	put(t, db, func(b *Batch) error {
		if err := b.DeletePart(u.ID, 1); err != nil {
			return err
		}
		if _, err := b.Part(u.ID, 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted part: %v", err)
		}
		return b.DeleteSegment(s.ID)
	})
	if _, err := db.Segment(s.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted segment: %v", err)
	}
}

func TestJournalAndReleases(t *testing.T) {
	db := openMem(t)
	j := Journal{Segment: SegmentID{4}, Created: 3,
		Shards: []PendingShard{{Shard: [32]byte{1}, Node: [32]byte{2}, Size: 3}}}
	rs := []Release{
		{Shard: [32]byte{1}, Node: [32]byte{1}, Size: 1, Enqueued: 2, NotBefore: 3, Attempts: 4},
		{Shard: [32]byte{1}, Node: [32]byte{2}, Size: 5},
		{Shard: [32]byte{2}, Node: [32]byte{0}, Size: 6},
	}
	put(t, db, func(b *Batch) error {
		for _, r := range rs {
			if err := b.PutRelease(r); err != nil {
				return err
			}
		}
		return b.PutJournal(j)
	})
	if js, err := db.Journals(0); err != nil || !reflect.DeepEqual(js, []Journal{j}) {
		t.Fatalf("Journals = %+v, %v", js, err)
	}
	got, err := db.Releases([32]byte{}, [32]byte{}, 0)
	if err != nil || !reflect.DeepEqual(got, rs) {
		t.Fatalf("Releases = %+v, %v", got, err)
	}
	got, err = db.Releases(rs[0].Shard, rs[0].Node, 1)
	if err != nil || !reflect.DeepEqual(got, rs[1:2]) {
		t.Fatalf("Releases after the first = %+v, %v", got, err)
	}
	put(t, db, func(b *Batch) error {
		if err := b.DeleteJournal(j.Segment); err != nil {
			return err
		}
		return b.DeleteRelease(rs[1].Shard, rs[1].Node)
	})
	if js, err := db.Journals(0); err != nil || len(js) != 0 {
		t.Fatalf("Journals after delete = %+v, %v", js, err)
	}
	if got, _ := db.Releases([32]byte{}, [32]byte{}, 0); len(got) != 2 {
		t.Fatalf("Releases after delete = %+v", got)
	}
}

// A segment stored before shards had a health (version 1) decodes with a
// zero one.
func TestSegmentV1(t *testing.T) {
	s := Segment{ID: SegmentID{5}, K: 2, N: 3, Refs: 1, Shards: []SegmentShard{
		{ID: [32]byte{1}, Node: [32]byte{2}, LeaseExpiry: 9, Sig: []byte("s")}, {ID: [32]byte{3}}}}
	e := newEncoder(segmentV1, 0)
	e.b = append(e.b, s.Object[:]...)
	e.uvarint(s.Number)
	e.b = append(e.b, s.Salt[:]...)
	e.bytes(s.WrappedKey)
	e.varint(s.PlainSize)
	e.varint(s.SealedSize)
	e.uvarint(uint64(s.K))
	e.uvarint(uint64(s.N))
	e.uvarint(uint64(s.BlockSize))
	e.varint(s.Refs)
	e.uvarint(uint64(len(s.Shards)))
	for _, sh := range s.Shards {
		e.fixed32(sh.ID)
		e.fixed32(sh.Node)
		e.fixed32(sh.Holder)
		e.varint(sh.LeaseExpiry)
		e.varint(sh.Time)
		e.bytes(sh.Sig)
	}
	got, err := decodeSegment(segmentKey(s.ID), e.b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != s.ID || got.K != 2 || got.N != 3 || got.Refs != 1 || len(got.Shards) != 2 {
		t.Fatalf("v1 segment decoded as %+v", got)
	}
	for i, sh := range got.Shards {
		want := s.Shards[i]
		if sh.ID != want.ID || sh.Node != want.Node || sh.LeaseExpiry != want.LeaseExpiry ||
			string(sh.Sig) != string(want.Sig) || sh.Health != (ShardHealth{}) {
			t.Fatalf("v1 shard %d decoded as %+v, want %+v", i, sh, want)
		}
	}
}

func TestCatalogCorrupt(t *testing.T) {
	for name, dec := range map[string]func([]byte) error{
		"object":  func(v []byte) error { _, err := decodeObject(objectKey("b", "k"), v); return err },
		"segment": func(v []byte) error { _, err := decodeSegment(segmentKey(SegmentID{}), v); return err },
		"part":    func(v []byte) error { _, err := decodePart(partKey(UploadID{}, 1), v); return err },
		"release": func(v []byte) error { _, err := decodeRelease(releaseKey([32]byte{}, [32]byte{}), v); return err },
	} {
		for _, v := range [][]byte{nil, {9}, {1, 0x80}, {1, 2, 0xff, 0xff, 0xff, 0xff, 0x0f}} {
			if err := dec(v); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s %x: %v, want ErrCorrupt", name, v, err)
			}
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	f.Add(encodeObject(Object{Bucket: "b", Key: "k", ETag: "e", Meta: ObjectMeta{User: map[string]string{"a": "b"}},
		Segments: []SegmentRef{{Size: 1}}}))
	f.Add(encodeObject(Object{Bucket: "b", Key: "k", ETag: "e", Size: 1,
		Inline: &InlineContent{BlockSize: 16, WrappedKey: []byte{1}, Sealed: []byte{2, 3}}}))
	f.Fuzz(func(t *testing.T, v []byte) {
		o, err := decodeObject(objectKey("b", "k"), v)
		if err != nil {
			return
		}
		again, err := decodeObject(objectKey("b", "k"), encodeObject(o))
		if err != nil || !reflect.DeepEqual(again, o) {
			t.Fatalf("re-encode: %+v, %v", again, err)
		}
	})
}
