package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// ListBuckets returns every bucket, sorted by name.
func (g *Gateway) ListBuckets(ctx context.Context) ([]s3api.BucketInfo, error) {
	bs, err := g.db.Buckets()
	if err != nil {
		return nil, s3Error(err, "", "")
	}
	out := make([]s3api.BucketInfo, len(bs))
	for i, b := range bs {
		out[i] = s3api.BucketInfo{Name: b.Name, Created: time.Unix(0, b.Created)}
	}
	return out, nil
}

// CreateBucket makes an empty bucket.
func (g *Gateway) CreateBucket(ctx context.Context, bucket string) error {
	err := g.db.Update(func(b *meta.Batch) error {
		if _, err := b.Bucket(bucket); err == nil {
			return errBucketExists
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		return b.PutBucket(meta.Bucket{Name: bucket, Created: g.now().UnixNano()})
	})
	return s3Error(err, bucket, "")
}

// HeadBucket reports whether the bucket exists.
func (g *Gateway) HeadBucket(ctx context.Context, bucket string) error {
	_, err := g.db.Bucket(bucket)
	return s3Error(bucketErr(err), bucket, "")
}

// bucketErr turns a missing bucket record into errNoSuchBucket.
func bucketErr(err error) error {
	if errors.Is(err, meta.ErrNotFound) {
		return errNoSuchBucket
	}
	return err
}

// DeleteBucket removes an empty bucket.
func (g *Gateway) DeleteBucket(ctx context.Context, bucket string) error {
	err := g.db.Update(func(b *meta.Batch) error {
		if _, err := b.Bucket(bucket); err != nil {
			return bucketErr(err)
		}
		empty, err := b.BucketEmpty(bucket)
		if err != nil {
			return err
		}
		if !empty {
			return errBucketNotEmpty
		}
		return b.DeleteBucket(bucket)
	})
	return s3Error(err, bucket, "")
}

// ListObjects returns one page of a bucket's objects, read in key order
// from the catalog (listing fields only) through s3api.ListPage.
func (g *Gateway) ListObjects(ctx context.Context, in s3api.ListObjectsInput) (s3api.ListObjectsOutput, error) {
	if _, err := g.db.Bucket(in.Bucket); err != nil {
		return s3api.ListObjectsOutput{}, s3Error(bucketErr(err), in.Bucket, "")
	}
	it, err := g.db.Objects(in.Bucket)
	if err != nil {
		return s3api.ListObjectsOutput{}, s3Error(err, in.Bucket, "")
	}
	defer it.Close()
	out, err := s3api.ListPage(listIter{it}, in)
	return out, s3Error(err, in.Bucket, "")
}

// listIter adapts the catalog's iterator to s3api.ObjectIterator.
type listIter struct{ it *meta.ObjectIter }

func (l listIter) SeekGE(key string) bool { return l.it.SeekGE(key) }
func (l listIter) Next() bool             { return l.it.Next() }
func (l listIter) Error() error           { return l.it.Err() }
func (l listIter) Object() s3api.ObjectInfo {
	o := l.it.Listing()
	return s3api.ObjectInfo{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: time.Unix(0, o.Modified)}
}

// objectInfo converts a manifest to what S3 shows of it.
func objectInfo(o meta.Object) s3api.ObjectInfo {
	return s3api.ObjectInfo{
		Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: time.Unix(0, o.Modified),
		Meta:      fromMeta(o.Meta),
		Checksum:  s3api.Checksum{Algorithm: o.ChecksumAlgorithm, Value: o.ChecksumValue},
		PartSizes: o.PartSizes,
	}
}

func toMeta(m s3api.ObjectMeta) meta.ObjectMeta {
	return meta.ObjectMeta{ContentType: m.ContentType, ContentEncoding: m.ContentEncoding,
		ContentDisposition: m.ContentDisposition, ContentLanguage: m.ContentLanguage,
		CacheControl: m.CacheControl, Expires: m.Expires, User: m.User}
}

func fromMeta(m meta.ObjectMeta) s3api.ObjectMeta {
	return s3api.ObjectMeta{ContentType: m.ContentType, ContentEncoding: m.ContentEncoding,
		ContentDisposition: m.ContentDisposition, ContentLanguage: m.ContentLanguage,
		CacheControl: m.CacheControl, Expires: m.Expires, User: m.User}
}

// GetObject returns the object's information and a snapshot of its
// segments (or its inline content); Open reads byte ranges of that
// snapshot.
func (g *Gateway) GetObject(ctx context.Context, bucket, key string) (*s3api.Object, error) {
	o, segs, err := g.snapshot(bucket, key)
	if err != nil {
		return nil, s3Error(err, bucket, key)
	}
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if o.Inline != nil {
			r, err := g.openInlineRange(o, off, n)
			return r, s3Error(err, bucket, key)
		}
		r, err := g.open(ctx, segs, off, n)
		return r, s3Error(err, bucket, key)
	}
	return &s3api.Object{ObjectInfo: objectInfo(o), Open: open}, nil
}

// snapshot reads an object and its segment records consistently: a
// segment record missing means the object was replaced meanwhile, so it
// reads again (a few times).
func (g *Gateway) snapshot(bucket, key string) (meta.Object, []meta.Segment, error) {
	var lastErr error
	for range 3 {
		o, err := g.db.Object(bucket, key)
		if errors.Is(err, meta.ErrNotFound) {
			if _, berr := g.db.Bucket(bucket); berr != nil {
				return o, nil, bucketErr(berr)
			}
			return o, nil, errNoSuchKey
		}
		if err != nil {
			return o, nil, err
		}
		segs := make([]meta.Segment, len(o.Segments))
		for i, r := range o.Segments {
			if segs[i], err = g.db.Segment(r.ID); err != nil {
				break
			}
		}
		if err == nil {
			return o, segs, nil
		}
		lastErr = err
	}
	return meta.Object{}, nil, fmt.Errorf("gateway: read manifest of %s/%s: %w", bucket, key, lastErr)
}

// PutObject stores an object: quota first, then the body streamed into
// segments (or, up to InlineMax bytes, sealed inline), then one atomic
// commit.
func (g *Gateway) PutObject(ctx context.Context, in s3api.PutObjectInput) (s3api.PutObjectOutput, error) {
	out, err := g.putObject(ctx, in)
	return out, s3Error(err, in.Bucket, in.Key)
}

func (g *Gateway) putObject(ctx context.Context, in s3api.PutObjectInput) (s3api.PutObjectOutput, error) {
	if _, err := g.db.Bucket(in.Bucket); err != nil {
		return s3api.PutObjectOutput{}, bucketErr(err)
	}
	body, size, err := g.sizeBody(in.Body, in.Size)
	if err != nil {
		return s3api.PutObjectOutput{}, err
	}
	inline := g.inlines(size)
	var code segstore.Code
	if !inline {
		code = g.code(size)
	}
	var need int64 // a body of unknown size reserves segment by segment
	switch {
	case inline:
		need = shard.SealedSize(size, g.cfg.Params.BlockSize)
	case size >= 0:
		need = g.expansion(code.Params, size)
	}
	unreserve, err := g.reserve(need)
	if err != nil {
		return s3api.PutObjectOutput{}, err
	}
	defer unreserve()
	var st *stored
	var content *meta.InlineContent
	if inline {
		st, content, err = g.storeInline(body, size)
	} else {
		var object [16]byte
		if err = g.randomBytes(object[:]); err == nil {
			st, err = g.storeBody(ctx, code, body, size, object, 0)
		}
	}
	if err != nil {
		return s3api.PutObjectOutput{}, err
	}
	defer st.release()
	if err := s3api.CheckContentMD5(in.ContentMD5, st.etag); err != nil {
		g.abandon(st.journal)
		return s3api.PutObjectOutput{}, err
	}
	sum := in.Checksum()
	o := meta.Object{Bucket: in.Bucket, Key: in.Key, Size: st.size, ETag: st.etag, Modified: g.now().UnixNano(),
		Meta: toMeta(in.Meta), ChecksumAlgorithm: sum.Algorithm, ChecksumValue: sum.Value, Segments: refs(st.segs),
		Inline: content}
	if err := g.commitObject(st, o); err != nil {
		return s3api.PutObjectOutput{}, err
	}
	return s3api.PutObjectOutput{ETag: st.etag, LastModified: time.Unix(0, o.Modified)}, nil
}

// sizeBody settles the size of a body sent without one (size -1) when it
// may be small enough to keep inline: it reads up to InlineMax+1 bytes and,
// if the body ended there, returns them with their size. Otherwise the
// body (what was read, then the rest) goes on with size -1.
func (g *Gateway) sizeBody(body io.Reader, size int64) (io.Reader, int64, error) {
	if size >= 0 || g.cfg.InlineMax <= 0 {
		return body, size, nil
	}
	head := make([]byte, g.cfg.InlineMax+1)
	n, err := io.ReadFull(body, head)
	switch {
	case err == nil:
		return io.MultiReader(bytes.NewReader(head), body), -1, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return bytes.NewReader(head[:n]), int64(n), nil
	}
	return nil, 0, bodyError(err)
}

// commitObject writes o, whose segments st stored (an inline object has
// none), in one batch with st's commit. On failure st's shards are queued
// for release.
func (g *Gateway) commitObject(st *stored, o meta.Object) error {
	err := g.db.Update(func(b *meta.Batch) error {
		if _, err := b.Bucket(o.Bucket); err != nil {
			return bucketErr(err)
		}
		if len(st.segs) > 0 {
			if err := g.commitSegments(b, st); err != nil {
				return err
			}
		}
		return g.replaceObject(b, o)
	})
	if err != nil {
		g.abandon(st.journal)
	}
	return err
}

func refs(segs []meta.Segment) []meta.SegmentRef {
	out := make([]meta.SegmentRef, len(segs))
	for i, s := range segs {
		out[i] = meta.SegmentRef{ID: s.ID, Size: s.PlainSize}
	}
	return out
}

// commitSegments writes an upload's segments, clears its journal entries,
// queues its failed attempts for release and counts its stored bytes.
func (g *Gateway) commitSegments(b *meta.Batch, st *stored) error {
	for _, s := range st.segs {
		if err := b.PutSegment(s); err != nil {
			return err
		}
	}
	for _, id := range st.journal {
		if err := b.DeleteJournal(id); err != nil {
			return err
		}
	}
	now := g.now().UnixNano()
	for _, f := range st.failed {
		if err := queueRelease(b, f.Shard, f.Node, f.Size, now, now); err != nil {
			return err
		}
	}
	_, err := b.AddCounter(meta.CounterStoredBytes, st.bytes())
	return err
}

// replaceObject writes o over any object of its key, dropping the
// references of the one replaced, and keeps the counters (the inline
// bytes of a record count while it lives).
func (g *Gateway) replaceObject(b *meta.Batch, o meta.Object) error {
	objects, logical, inline := int64(1), o.Size, inlineBytes(o)
	old, err := b.Object(o.Bucket, o.Key)
	switch {
	case err == nil:
		if _, err := g.unref(b, old.Segments, false); err != nil {
			return err
		}
		objects, logical, inline = 0, o.Size-old.Size, inline-inlineBytes(old)
	case !errors.Is(err, meta.ErrNotFound):
		return err
	}
	if err := b.PutObject(o); err != nil {
		return err
	}
	return addCounters(b, objects, logical, inline)
}

// addCounters adds to the object count, the logical bytes and the inline
// bytes.
func addCounters(b *meta.Batch, objects, logical, inline int64) error {
	if _, err := b.AddCounter(meta.CounterObjects, objects); err != nil {
		return err
	}
	if inline != 0 {
		if _, err := b.AddCounter(meta.CounterInlineBytes, inline); err != nil {
			return err
		}
	}
	_, err := b.AddCounter(meta.CounterLogicalBytes, logical)
	return err
}

// CopyObject copies the manifest: the copy references the source's
// segments (their reference counts go up), or holds the same sealed
// inline content; no byte moves and no peer is asked. The one exception
// is an inline source larger than InlineMax is now: its content is
// stored on peers for the copy (copyToPeers).
func (g *Gateway) CopyObject(ctx context.Context, in s3api.CopyObjectInput) (s3api.ObjectInfo, error) {
	var o meta.Object
	srcMissing := false
	err := g.db.Update(func(b *meta.Batch) error {
		src, err := b.Object(in.SrcBucket, in.SrcKey)
		if errors.Is(err, meta.ErrNotFound) {
			srcMissing = true
			if _, berr := b.Bucket(in.SrcBucket); berr != nil {
				return bucketErr(berr)
			}
			return errNoSuchKey
		}
		if err != nil {
			return err
		}
		if _, err := b.Bucket(in.Bucket); err != nil {
			return bucketErr(err)
		}
		if err := in.Check(objectInfo(src)); err != nil {
			return err
		}
		o = src
		o.Bucket, o.Key, o.Modified = in.Bucket, in.Key, g.now().UnixNano()
		if in.Meta != nil {
			o.Meta = toMeta(*in.Meta)
		}
		if src.Inline != nil && !g.inlines(src.Size) {
			return errCopyToPeers
		}
		// References first, so that copying an object onto itself never
		// drops a segment to zero.
		for _, r := range src.Segments {
			seg, err := b.Segment(r.ID)
			if err != nil {
				return fmt.Errorf("gateway: copy segment %x: %w", r.ID, err)
			}
			seg.Refs++
			if err := b.PutSegment(seg); err != nil {
				return err
			}
		}
		return g.replaceObject(b, o)
	})
	if errors.Is(err, errCopyToPeers) {
		o, err = g.copyToPeers(ctx, o)
	}
	if srcMissing {
		return s3api.ObjectInfo{}, s3Error(err, in.SrcBucket, in.SrcKey)
	}
	if err != nil {
		return s3api.ObjectInfo{}, s3Error(err, in.Bucket, in.Key)
	}
	return objectInfo(o), nil
}

// errCopyToPeers ends a copy's batch whose content must be stored first.
var errCopyToPeers = errors.New("gateway: copy to be stored on peers")

// copyToPeers stores the content of o, a copy of an inline object whose
// record it still holds, as segments on peers, and commits o so.
func (g *Gateway) copyToPeers(ctx context.Context, o meta.Object) (meta.Object, error) {
	plain, err := g.openInline(o)
	if err != nil {
		return o, err
	}
	code := g.code(o.Size)
	unreserve, err := g.reserve(g.expansion(code.Params, o.Size))
	if err != nil {
		return o, err
	}
	defer unreserve()
	var object [16]byte
	if err := g.randomBytes(object[:]); err != nil {
		return o, err
	}
	st, err := g.storeBody(ctx, code, bytes.NewReader(plain), o.Size, object, 0)
	if err != nil {
		return o, err
	}
	o.Inline, o.Segments = nil, refs(st.segs)
	return o, g.commitObject(st, o)
}

// DeleteObject removes an object; its segments lose a reference.
func (g *Gateway) DeleteObject(ctx context.Context, bucket, key string) error {
	errs, err := g.DeleteObjects(ctx, bucket, []string{key})
	if err == nil {
		err = errs[0]
	}
	return err
}

// DeleteObjects removes up to 1000 keys in one catalog batch.
func (g *Gateway) DeleteObjects(ctx context.Context, bucket string, keys []string) ([]error, error) {
	err := g.db.Update(func(b *meta.Batch) error {
		if _, err := b.Bucket(bucket); err != nil {
			return bucketErr(err)
		}
		for _, k := range keys {
			o, err := b.Object(bucket, k)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if _, err := g.unref(b, o.Segments, false); err != nil {
				return err
			}
			if err := b.DeleteObject(bucket, k); err != nil {
				return err
			}
			if err := addCounters(b, -1, -o.Size, -inlineBytes(o)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s3Error(err, bucket, "")
	}
	g.poke()
	return make([]error, len(keys)), nil
}
