package gateway

import (
	"bytes"
	"crypto/md5"
	"io"
	"testing"

	"ishtar/s3api"
)

// streamWatch yields data and, when it is first asked for the bytes of
// segment k, records how many shards the peers already hold.
type streamWatch struct {
	tn     *testNet
	data   []byte
	off    int
	seg    int
	heldAt map[int]int // segment -> shards held when its first byte was read
}

func (s *streamWatch) Read(p []byte) (int, error) {
	if s.off == len(s.data) {
		return 0, io.EOF
	}
	k := s.off / s.seg
	if _, seen := s.heldAt[k]; !seen {
		s.heldAt[k] = len(s.tn.held())
	}
	// At most to the end of the segment, so every segment is seen.
	end := min(len(s.data), (k+1)*s.seg, s.off+len(p))
	n := copy(p, s.data[s.off:end])
	s.off += n
	return n, nil
}

// TestPutUnknownSize: a body of unknown size (Size -1, as the handler
// passes a Transfer-Encoding: chunked PUT) is stored a segment at a time:
// segments already sit on peers while later ones are still unread, and
// the object is byte-exact with the right size, ETag and segment count.
func TestPutUnknownSize(t *testing.T) {
	tn := newNet(t, 5, nil)
	tn.bucket("b")
	seg := int(tn.g.cfg.SegmentSize)
	k := tn.g.cfg.Params.K
	for _, size := range []int{0, 1, seg, 3 * seg, 7*seg + seg/2} {
		data := randBytes(size, uint64(size))
		w := &streamWatch{tn: tn, data: data, seg: seg, heldAt: map[int]int{}}
		before := len(tn.held())
		out, err := tn.g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "k", Body: w, Size: -1, Checksum: noChecksum})
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if out.ETag != md5hex(data) {
			t.Fatalf("%d bytes: ETag %s", size, out.ETag)
		}
		if got := tn.get("b", "k"); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back %d bytes, not the same", size, len(got))
		}
		o, err := tn.g.GetObject(t.Context(), "b", "k")
		if err != nil || o.Size != int64(size) {
			t.Fatalf("%d bytes: size %d %v", size, o.Size, err)
		}
		if want := max(1, (size+seg-1)/seg); len(tn.segments("b", "k")) != want {
			t.Fatalf("%d bytes: %d segments, want %d", size, len(tn.segments("b", "k")), want)
		}
		// Reading segment i waits for a free slot of the upload's two:
		// all segments but the last one or two before it are stored.
		for i := 3; i < len(w.heldAt); i++ {
			if got := w.heldAt[i] - before; got < (i-2)*k {
				t.Fatalf("%d bytes: when segment %d was read, %d shards were on peers, want >= %d (body buffered?)",
					size, i, got, (i-2)*k)
			}
		}
		if r := reservedNow(tn.g); r != 0 {
			t.Fatalf("%d bytes: %d bytes of quota still reserved", size, r)
		}
		t.Logf("%d bytes: shards on peers when each segment was first read: %v", size, w.heldAt)
	}
}

// TestPutUnknownSizeQuota: a body of unknown size is held to the quota
// segment by segment; the upload fails, nothing is stored, and its
// reservations are given back.
func TestPutUnknownSizeQuota(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.Capacity = 1 << 20 })
	tn.bucket("b")
	data := randBytes(4<<20, 9)
	_, err := tn.g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "big", Body: bytes.NewReader(data), Size: -1, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrQuotaExceeded)
	if _, err := tn.g.GetObject(t.Context(), "b", "big"); !isCode(err, s3api.ErrNoSuchKey) {
		t.Fatalf("object after refused upload: %v", err)
	}
	if r := reservedNow(tn.g); r != 0 {
		t.Fatalf("%d bytes of quota still reserved", r)
	}
	// The part of a multipart upload, too.
	id, err := tn.g.CreateMultipartUpload(t.Context(), s3api.CreateMultipartUploadInput{Bucket: "b", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tn.g.UploadPart(t.Context(), s3api.UploadPartInput{Bucket: "b", Key: "mp", UploadID: id, PartNumber: 1,
		Body: bytes.NewReader(data), Size: -1, Checksum: noChecksum})
	wantCode(t, err, s3api.ErrQuotaExceeded)
	if r := reservedNow(tn.g); r != 0 {
		t.Fatalf("%d bytes of quota still reserved after the part", r)
	}
}

// TestPutUnknownSizeInline: a small body of unknown size is still kept
// inline; one byte more than InlineMax goes to peers.
func TestPutUnknownSizeInline(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.InlineMax = DefaultInlineMax })
	tn.bucket("b")
	for _, size := range []int{0, 100, DefaultInlineMax, DefaultInlineMax + 1} {
		data := randBytes(size, 3)
		if _, err := tn.g.PutObject(t.Context(), s3api.PutObjectInput{Bucket: "b", Key: "k", Body: bytes.NewReader(data), Size: -1, Checksum: noChecksum}); err != nil {
			t.Fatal(err)
		}
		o, err := tn.db.Object("b", "k")
		if err != nil {
			t.Fatal(err)
		}
		if inline := o.Inline != nil; inline != (size <= DefaultInlineMax) || o.Size != int64(size) {
			t.Fatalf("%d bytes: inline %v, size %d", size, inline, o.Size)
		}
		if got := tn.get("b", "k"); !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: read back differs", size)
		}
	}
}

// TestContentMD5 checks the Content-MD5 digest the handler passes on
// (it no longer hashes the body itself) before the commit: a mismatch is
// BadDigest and nothing becomes visible, for objects and parts, on peers
// and inline.
func TestContentMD5(t *testing.T) {
	tn := newNet(t, 5, func(c *Config) { c.InlineMax = DefaultInlineMax })
	tn.bucket("b")
	seg := int(tn.g.cfg.SegmentSize)
	id, err := tn.g.CreateMultipartUpload(t.Context(), s3api.CreateMultipartUploadInput{Bucket: "b", Key: "mp"})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{10, 2*seg + 5} {
		data := randBytes(size, 4)
		good := md5.Sum(data)
		bad := md5.Sum(data[1:])
		for _, sz := range []int64{int64(size), -1} {
			in := putInput("b", "k", data)
			in.Size, in.ContentMD5 = sz, bad[:]
			_, err := tn.g.PutObject(t.Context(), in)
			wantCode(t, err, s3api.ErrBadDigest)
			if _, err := tn.g.GetObject(t.Context(), "b", "k"); !isCode(err, s3api.ErrNoSuchKey) {
				t.Fatalf("%d bytes: object after BadDigest: %v", size, err)
			}
			_, err = tn.g.UploadPart(t.Context(), s3api.UploadPartInput{Bucket: "b", Key: "mp", UploadID: id, PartNumber: 1,
				Body: bytes.NewReader(data), Size: sz, ContentMD5: bad[:], Checksum: noChecksum})
			wantCode(t, err, s3api.ErrBadDigest)
			if _, parts, err := tn.g.ListParts(t.Context(), "b", "mp", id); err != nil || len(parts) != 0 {
				t.Fatalf("%d bytes: parts after BadDigest: %d %v", size, len(parts), err)
			}
		}
		in := putInput("b", "k", data)
		in.ContentMD5 = good[:]
		if _, err := tn.g.PutObject(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		if got := tn.get("b", "k"); !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
		if err := tn.g.DeleteObject(t.Context(), "b", "k"); err != nil {
			t.Fatal(err)
		}
	}
	// What the refused uploads sent to peers is queued for release.
	if tn.pendingReleases() == 0 {
		t.Fatal("shards of refused uploads are not queued for release")
	}
}

func reservedNow(g *Gateway) int64 {
	g.quotaMu.Lock()
	defer g.quotaMu.Unlock()
	return g.reserved
}
