package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"ishtar/meta"
	"ishtar/s3api"
)

// Multipart uploads store each part as it arrives, as its own segments
// (SegmentContext.Object is the upload ID, segment numbers part<<32 |
// index). Completing an upload writes the object's manifest from the
// chosen parts' segments, moving their references from the parts to the
// object: nothing is copied. Unlisted, replaced and aborted parts lose
// their references and their shards are released.

// parseUploadID reads the hex form of an upload ID; anything else names
// no upload.
func parseUploadID(s string) (meta.UploadID, error) {
	var id meta.UploadID
	if len(s) != 2*len(id) || strings.ToLower(s) != s {
		return id, errNoSuchUpload
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, errNoSuchUpload
	}
	return id, nil
}

// CreateMultipartUpload starts an upload.
func (g *Gateway) CreateMultipartUpload(ctx context.Context, in s3api.CreateMultipartUploadInput) (string, error) {
	var id meta.UploadID
	if err := g.randomBytes(id[:]); err != nil {
		return "", s3Error(err, in.Bucket, in.Key)
	}
	err := g.db.Update(func(b *meta.Batch) error {
		if _, err := b.Bucket(in.Bucket); err != nil {
			return bucketErr(err)
		}
		return b.PutUpload(meta.Upload{Bucket: in.Bucket, ID: id, Key: in.Key, Initiated: g.now().UnixNano(),
			Meta: toMeta(in.Meta), ChecksumAlgorithm: in.ChecksumAlgorithm})
	})
	if err != nil {
		return "", s3Error(err, in.Bucket, in.Key)
	}
	return hex.EncodeToString(id[:]), nil
}

// upload returns the upload id of bucket/key as the batch sees it.
func getUpload(b interface {
	Upload(string, meta.UploadID) (meta.Upload, error)
	Bucket(string) (meta.Bucket, error)
}, bucket, key string, id meta.UploadID) (meta.Upload, error) {
	u, err := b.Upload(bucket, id)
	if errors.Is(err, meta.ErrNotFound) {
		if _, berr := b.Bucket(bucket); berr != nil {
			return u, bucketErr(berr)
		}
		return u, errNoSuchUpload
	}
	if err == nil && u.Key != key {
		return u, errNoSuchUpload
	}
	return u, err
}

// UploadPart stores one part, replacing an earlier part of that number.
func (g *Gateway) UploadPart(ctx context.Context, in s3api.UploadPartInput) (s3api.PartInfo, error) {
	p, err := g.uploadPart(ctx, in)
	return p, s3Error(err, in.Bucket, in.Key)
}

func (g *Gateway) uploadPart(ctx context.Context, in s3api.UploadPartInput) (s3api.PartInfo, error) {
	id, err := parseUploadID(in.UploadID)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	if in.PartNumber < 1 || in.PartNumber > s3api.MaxPartNumber {
		return s3api.PartInfo{}, s3api.ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive.")
	}
	if _, err := getUpload(g.db, in.Bucket, in.Key, id); err != nil {
		return s3api.PartInfo{}, err
	}
	code := g.code(in.Size)
	var need int64 // a body of unknown size reserves segment by segment
	if in.Size >= 0 {
		need = g.expansion(code.Params, in.Size)
	}
	unreserve, err := g.reserve(need)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	defer unreserve()
	st, err := g.storeBody(ctx, code, in.Body, in.Size, id, uint64(in.PartNumber)<<32)
	if err != nil {
		return s3api.PartInfo{}, err
	}
	defer st.release()
	if err := s3api.CheckContentMD5(in.ContentMD5, st.etag); err != nil {
		g.abandon(st.journal)
		return s3api.PartInfo{}, err
	}
	sum := in.Checksum()
	p := meta.Part{Upload: id, Number: in.PartNumber, Size: st.size, ETag: st.etag, Modified: g.now().UnixNano(),
		ChecksumAlgorithm: sum.Algorithm, ChecksumValue: sum.Value, Segments: refs(st.segs)}
	err = g.db.Update(func(b *meta.Batch) error {
		if _, err := getUpload(b, in.Bucket, in.Key, id); err != nil {
			return err
		}
		if err := g.commitSegments(b, st); err != nil {
			return err
		}
		old, err := b.Part(id, in.PartNumber)
		if err == nil {
			if _, err := g.unref(b, old.Segments, true); err != nil {
				return err
			}
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		return b.PutPart(p)
	})
	if err != nil {
		g.abandon(st.journal)
		return s3api.PartInfo{}, err
	}
	g.poke()
	return partInfo(p), nil
}

func partInfo(p meta.Part) s3api.PartInfo {
	return s3api.PartInfo{PartNumber: p.Number, Size: p.Size, ETag: p.ETag, LastModified: time.Unix(0, p.Modified),
		Checksum: s3api.Checksum{Algorithm: p.ChecksumAlgorithm, Value: p.ChecksumValue}}
}

// CompleteMultipartUpload assembles the listed parts into the object.
func (g *Gateway) CompleteMultipartUpload(ctx context.Context, in s3api.CompleteMultipartUploadInput) (s3api.ObjectInfo, error) {
	id, err := parseUploadID(in.UploadID)
	if err != nil {
		return s3api.ObjectInfo{}, s3Error(err, in.Bucket, in.Key)
	}
	var o meta.Object
	repeated := false
	err = g.db.Update(func(b *meta.Batch) error {
		u, err := getUpload(b, in.Bucket, in.Key, id)
		if errors.Is(err, errNoSuchUpload) {
			// Nothing to write: either a retry of a Complete that
			// succeeded, answered with its object, or NoSuchUpload.
			if o, repeated, err = completedBefore(b, in, id); err == nil && !repeated {
				err = errNoSuchUpload
			}
			return err
		}
		if err != nil {
			return err
		}
		parts, err := b.Parts(id)
		if err != nil {
			return err
		}
		stored := make([]s3api.PartInfo, len(parts))
		for i, p := range parts {
			stored[i] = partInfo(p)
		}
		chosen, etag, err := s3api.CompleteParts(in.Parts, stored)
		if err != nil {
			return err
		}
		o = meta.Object{Bucket: in.Bucket, Key: in.Key, ETag: etag, Modified: g.now().UnixNano(), Meta: u.Meta}
		keep := make(map[int]bool, len(chosen))
		for _, c := range chosen {
			keep[c.PartNumber] = true
		}
		for _, p := range parts {
			if keep[p.Number] {
				o.Size += p.Size
				o.PartSizes = append(o.PartSizes, p.Size)
				o.Segments = append(o.Segments, p.Segments...)
			} else if _, err := g.unref(b, p.Segments, true); err != nil {
				return err
			}
			if err := b.DeletePart(id, p.Number); err != nil {
				return err
			}
		}
		if err := b.DeleteUpload(in.Bucket, id); err != nil {
			return err
		}
		return g.replaceObject(b, o)
	})
	if err != nil {
		return s3api.ObjectInfo{}, s3Error(err, in.Bucket, in.Key)
	}
	if !repeated {
		g.poke()
	}
	return objectInfo(o), nil
}

// completedBefore reports whether the Complete in, for an upload that no
// longer exists, repeats one that succeeded and whose object still stands
// (a client retrying after a lost response), and returns that object. It
// did if the object at the key was assembled from this upload's parts (its
// segments were sealed in the upload's context, which no other upload
// shares) and its ETag is the one the listed parts give.
func completedBefore(b *meta.Batch, in s3api.CompleteMultipartUploadInput, id meta.UploadID) (meta.Object, bool, error) {
	o, err := b.Object(in.Bucket, in.Key)
	if errors.Is(err, meta.ErrNotFound) {
		return o, false, nil
	}
	if err != nil || len(o.PartSizes) == 0 || len(o.Segments) == 0 {
		return o, false, err
	}
	seg, err := b.Segment(o.Segments[0].ID)
	if errors.Is(err, meta.ErrNotFound) || err == nil && seg.Object != id {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	listed := make([]s3api.PartInfo, len(in.Parts))
	for i, p := range in.Parts {
		listed[i] = s3api.PartInfo{PartNumber: p.PartNumber, ETag: strings.ToLower(strings.Trim(p.ETag, `"`))}
	}
	etag, err := s3api.MultipartETag(listed)
	// A list that gives no ETag (a part ETag that is not hex) is not the
	// one completed.
	return o, err == nil && etag == o.ETag, nil
}

// AbortMultipartUpload discards an upload; its parts' shards are released.
func (g *Gateway) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	id, err := parseUploadID(uploadID)
	if err != nil {
		return s3Error(err, bucket, key)
	}
	err = g.db.Update(func(b *meta.Batch) error {
		if _, err := getUpload(b, bucket, key, id); err != nil {
			return err
		}
		parts, err := b.Parts(id)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := g.unref(b, p.Segments, true); err != nil {
				return err
			}
			if err := b.DeletePart(id, p.Number); err != nil {
				return err
			}
		}
		return b.DeleteUpload(bucket, id)
	})
	if err != nil {
		return s3Error(err, bucket, key)
	}
	g.poke()
	return nil
}

// ListParts returns the upload and its stored parts by number.
func (g *Gateway) ListParts(ctx context.Context, bucket, key, uploadID string) (s3api.UploadInfo, []s3api.PartInfo, error) {
	id, err := parseUploadID(uploadID)
	if err != nil {
		return s3api.UploadInfo{}, nil, s3Error(err, bucket, key)
	}
	u, err := getUpload(g.db, bucket, key, id)
	if err != nil {
		return s3api.UploadInfo{}, nil, s3Error(err, bucket, key)
	}
	parts, err := g.db.Parts(id)
	if err != nil {
		return s3api.UploadInfo{}, nil, s3Error(fmt.Errorf("gateway: list parts: %w", err), bucket, key)
	}
	out := make([]s3api.PartInfo, len(parts))
	for i, p := range parts {
		out[i] = partInfo(p)
	}
	return uploadInfo(u), out, nil
}

func uploadInfo(u meta.Upload) s3api.UploadInfo {
	return s3api.UploadInfo{Key: u.Key, UploadID: hex.EncodeToString(u.ID[:]), Initiated: time.Unix(0, u.Initiated),
		Meta: fromMeta(u.Meta), ChecksumAlgorithm: u.ChecksumAlgorithm}
}

// ListMultipartUploads returns the uploads in progress under prefix.
func (g *Gateway) ListMultipartUploads(ctx context.Context, bucket, prefix string) ([]s3api.UploadInfo, error) {
	if _, err := g.db.Bucket(bucket); err != nil {
		return nil, s3Error(bucketErr(err), bucket, "")
	}
	ups, err := g.db.Uploads(bucket)
	if err != nil {
		return nil, s3Error(err, bucket, "")
	}
	var out []s3api.UploadInfo
	for _, u := range ups {
		if strings.HasPrefix(u.Key, prefix) {
			out = append(out, uploadInfo(u))
		}
	}
	return out, nil
}
