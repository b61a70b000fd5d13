package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"ishtar/meta"
)

// Blobs: the catalog backup (package gateway/backup) stores its snapshots
// and log chunks on the network as segments like any object's: sealed
// under a fresh data key, erasure coded, placed, their leases renewed,
// audited and repaired by upkeep. They belong to no object: their records
// are listed in the catalog's backup-blob index instead, and written in
// Quiet batches (bookkeeping, which by itself calls for no backup step).

// StoreBlob stores data as new segments and records them, and returns
// their records. The owner's quota does not apply: a full quota must not
// stop the catalog's backups, which are small beside what they describe.
func (g *Gateway) StoreBlob(ctx context.Context, data []byte) ([]meta.Segment, error) {
	var object [16]byte
	if err := g.randomBytes(object[:]); err != nil {
		return nil, err
	}
	st, err := g.storeBody(ctx, g.code(int64(len(data))), bytes.NewReader(data), int64(len(data)), object, 0)
	if err != nil {
		return nil, err
	}
	err = g.db.Update(func(b *meta.Batch) error {
		if err := g.commitSegments(b, st); err != nil {
			return err
		}
		for _, s := range st.segs {
			if err := b.PutBackupBlob(s.ID); err != nil {
				return err
			}
		}
		return nil
	}, meta.Quiet())
	if err != nil {
		g.abandon(st.journal)
		return nil, fmt.Errorf("gateway: record a backup blob: %w", err)
	}
	return st.segs, nil
}

// ReadBlob reads back the data of segments stored by StoreBlob, from
// their records (which need not be in the catalog: a restore reads them
// from a root pointer).
func (g *Gateway) ReadBlob(ctx context.Context, segs []meta.Segment) ([]byte, error) {
	var size int64
	for _, s := range segs {
		size += s.PlainSize
	}
	r, err := g.open(ctx, segs, 0, size)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, fmt.Errorf("gateway: read a blob of %d bytes: %w", size, err)
	}
	return out, nil
}

// DropBlobs forgets backup blob segments and queues their shards for
// release at once; segments not recorded are skipped.
func (g *Gateway) DropBlobs(ids []meta.SegmentID) error {
	err := g.db.Update(func(b *meta.Batch) error {
		var refs []meta.SegmentRef
		for _, id := range ids {
			if err := b.DeleteBackupBlob(id); err != nil {
				return err
			}
			if _, err := b.Segment(id); err == nil {
				refs = append(refs, meta.SegmentRef{ID: id})
			}
		}
		_, err := g.unref(b, refs, true)
		return err
	}, meta.Quiet())
	if err != nil {
		return fmt.Errorf("gateway: drop backup blobs: %w", err)
	}
	g.poke()
	return nil
}
