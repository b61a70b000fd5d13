package gateway

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"

	"ishtar/meta"
	"ishtar/shard"
)

// Inline objects: a single PUT of at most Config.InlineMax bytes is sealed
// as a segment would be (shard.SegmentCipher, segment number 0, under a
// new data key wrapped with the owner's key) and kept in the object's
// catalog record (meta.InlineContent) instead of as shards on peers.
// Nothing else changes: ETag, checksum, metadata and listings are those of
// any object. The sealed bytes are counted once, in meta.CounterInlineBytes
// (not in the stored bytes, which are the shards on peers), and count
// against the quota.

// inlines reports whether a single PUT of size bytes is kept inline. The
// size is the one the client declared: the body is read only after this
// choice, and a body longer or shorter than declared fails either way.
func (g *Gateway) inlines(size int64) bool {
	return g.cfg.InlineMax > 0 && size >= 0 && size <= g.cfg.InlineMax
}

// inlineBytes is what an object's record holds of its content: the
// sealed bytes of an inline object, else nothing. CounterInlineBytes
// counts them while the record lives.
func inlineBytes(o meta.Object) int64 {
	if o.Inline == nil {
		return 0
	}
	return int64(len(o.Inline.Sealed))
}

// storeInline reads the body of an inline PUT (size bytes, then its end)
// and seals it; the result commits like an upload's, with no segments.
func (g *Gateway) storeInline(body io.Reader, size int64) (*stored, *meta.InlineContent, error) {
	plain := make([]byte, size)
	if _, err := io.ReadFull(body, plain); err != nil {
		return nil, nil, bodyError(err)
	}
	if err := expectEOF(body); err != nil {
		return nil, nil, err
	}
	g.st.bytesIn.Add(size)
	sum := md5.Sum(plain)
	in, err := g.sealInline(plain)
	if err != nil {
		return nil, nil, err
	}
	return &stored{etag: hex.EncodeToString(sum[:]), size: size}, in, nil
}

// sealInline seals plain under a new data key.
func (g *Gateway) sealInline(plain []byte) (*meta.InlineContent, error) {
	in := &meta.InlineContent{BlockSize: g.cfg.Params.BlockSize}
	if err := g.randomBytes(in.Object[:]); err != nil {
		return nil, err
	}
	if err := g.randomBytes(in.Salt[:]); err != nil {
		return nil, err
	}
	dk, err := shard.NewDataKey(g.rand)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if in.WrappedKey, err = g.owner.Wrap.Wrap(dk, g.rand); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	c := shard.NewSegmentCipher(dk, shard.SegmentContext{Object: in.Object, Salt: in.Salt}, in.BlockSize)
	in.Sealed = c.Seal(make([]byte, 0, shard.SealedSize(int64(len(plain)), in.BlockSize)), plain)
	return in, nil
}

// openInline returns the content of an inline object. Bytes that fail
// authentication, or that open to another size than the object's, give
// errInlineCorrupt: never wrong bytes.
func (g *Gateway) openInline(o meta.Object) ([]byte, error) {
	in := o.Inline
	fail := func(what string, err error) ([]byte, error) {
		g.log.Error("gateway: inline object in the catalog is damaged", "bucket", o.Bucket, "key", o.Key, "what", what, "err", err)
		return nil, fmt.Errorf("%w: %s/%s: %s: %w", errInlineCorrupt, o.Bucket, o.Key, what, err)
	}
	if in.BlockSize <= 0 || in.BlockSize > shard.MaxBlockSize {
		return fail("block size", fmt.Errorf("%d", in.BlockSize))
	}
	dk, err := g.owner.Wrap.Unwrap(in.WrappedKey)
	if err != nil {
		return fail("data key", err)
	}
	c := shard.NewSegmentCipher(dk, shard.SegmentContext{Object: in.Object, Salt: in.Salt}, in.BlockSize)
	plain, err := c.Open(make([]byte, 0, max(0, o.Size)), in.Sealed)
	if err != nil {
		return fail("content", err)
	}
	if int64(len(plain)) != o.Size {
		return fail("size", fmt.Errorf("%d bytes, the object has %d", len(plain), o.Size))
	}
	return plain, nil
}

// openInlineRange returns n bytes of an inline object from off. The whole
// content is opened (it is small), so any damage is caught whatever the
// range.
func (g *Gateway) openInlineRange(o meta.Object, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 || off+n > o.Size {
		return nil, fmt.Errorf("gateway: range %d+%d outside %d bytes", off, n, o.Size)
	}
	plain, err := g.openInline(o)
	if err != nil {
		return nil, err
	}
	g.st.bytesOut.Add(n)
	return io.NopCloser(bytes.NewReader(plain[off : off+n])), nil
}
