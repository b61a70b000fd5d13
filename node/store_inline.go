package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"ishtar/meta"
	"ishtar/shard"
)

// InlineStore keeps shards of at most max bytes in the catalog (meta's
// inline shard keyspace) and passes larger ones to another Store, the
// files. A small shard then costs no file, rename or directory sync, and
// concurrent small stores share the catalog's WAL fsync.
//
// A new shard goes by its size, but a shard already kept in one place is
// written there again, so changing max between runs never holds a shard
// twice. Open, Stat and Delete look in both places.
//
// Its writers can also commit inside a batch of the same catalog (the
// Server uses this to write a small shard and its index entry together,
// with one fsync); on their own they commit durably like any Writer.
type InlineStore struct {
	db       *meta.DB
	files    Store
	max      int64
	leafSize int
}

var _ Store = (*InlineStore)(nil)

// inlinePage is how many inline shards Walk lists per catalog scan.
const inlinePage = 1000

// NewInlineStore returns a store keeping shards of up to max bytes in db
// and the others in files; shard IDs use leaves of leafSize bytes. With max
// 0 no new shard goes to db, but those there are still served.
func NewInlineStore(db *meta.DB, files Store, max int64, leafSize int) *InlineStore {
	if max < 0 || leafSize <= 0 {
		panic(fmt.Sprintf("node: inline store of max %d, leaf size %d", max, leafSize))
	}
	return &InlineStore{db: db, files: files, max: max, leafSize: leafSize}
}

// Create starts a shard in the catalog or in the files (see InlineStore).
func (s *InlineStore) Create(ctx context.Context, id shard.ID, size int64) (Writer, error) {
	if size < 0 {
		panic(fmt.Sprintf("node: negative shard size %d", size))
	}
	inline, err := s.routeInline(ctx, id, size)
	if err != nil {
		return nil, fmt.Errorf("node: create shard %s: %w", id, err)
	}
	if !inline {
		return s.files.Create(ctx, id, size)
	}
	return &inlineWriter{bufWriter: newBufWriter(id, size, s.leafSize), s: s}, nil
}

// routeInline reports whether shard id of size bytes is to be written to
// the catalog: by size, unless it is already kept in the other place.
func (s *InlineStore) routeInline(ctx context.Context, id shard.ID, size int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if s.max == 0 || size > s.max {
		_, err := s.db.InlineShard(id)
		if errors.Is(err, meta.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	_, err := s.files.Stat(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	return false, err
}

// Open returns the shard from the catalog, or else from the files.
func (s *InlineStore) Open(ctx context.Context, id shard.ID) (Reader, error) {
	b, err := s.db.InlineShard(id)
	if errors.Is(err, meta.ErrNotFound) {
		return s.files.Open(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("node: open shard %s: %w", id, err)
	}
	return memReader{bytes.NewReader(b)}, nil
}

// Stat describes the shard from the catalog, or else from the files.
func (s *InlineStore) Stat(ctx context.Context, id shard.ID) (Info, error) {
	b, err := s.db.InlineShard(id)
	if errors.Is(err, meta.ErrNotFound) {
		return s.files.Stat(ctx, id)
	}
	if err != nil {
		return Info{}, fmt.Errorf("node: stat shard %s: %w", id, err)
	}
	return Info{ID: id, Size: int64(len(b))}, nil
}

// Delete removes the shard from wherever it is kept.
func (s *InlineStore) Delete(ctx context.Context, id shard.ID) error {
	found := false
	err := s.db.Update(func(b *meta.Batch) error {
		var err error
		found, err = s.deleteIn(b, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("node: delete shard %s: %w", id, err)
	}
	if found {
		return nil
	}
	return s.files.Delete(ctx, id)
}

// deleteIn adds the deletion of shard id's inline bytes to b, if b writes
// to this store's catalog and the bytes are there; it reports whether it
// did.
func (s *InlineStore) deleteIn(b *meta.Batch, id shard.ID) (bool, error) {
	if b.DB() != s.db {
		return false, nil
	}
	if _, err := b.InlineShard(id); errors.Is(err, meta.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, b.DeleteInlineShard(id)
}

// Walk lists the inline shards, a page at a time, then the files.
func (s *InlineStore) Walk(ctx context.Context, fn func(Info) error) error {
	var after [32]byte
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("node: walk store: %w", err)
		}
		page, err := s.db.InlineShards(after, inlinePage)
		if err != nil {
			return fmt.Errorf("node: walk store: %w", err)
		}
		for _, in := range page {
			if err := fn(Info{ID: in.ID, Size: in.Size}); err != nil {
				return err
			}
		}
		if len(page) < inlinePage {
			break
		}
		after = page[len(page)-1].ID
	}
	return s.files.Walk(ctx, fn)
}

// batchWriter is a Writer whose bytes can be committed as part of a batch
// of its store's catalog, atomically with other writes.
type batchWriter interface {
	Writer
	// catalog is the database whose batches commitIn accepts.
	catalog() *meta.DB
	// commitIn checks the bytes as Commit does and adds them to b; they
	// are visible and durable when b is. The writer is done either way.
	commitIn(b *meta.Batch) error
}

// batchDeleter is a Store that can add the deletion of a shard's bytes to
// a batch of its catalog; it reports false, having done nothing, when the
// batch is of another database or the bytes are not in the catalog.
type batchDeleter interface {
	deleteIn(b *meta.Batch, id shard.ID) (bool, error)
}

var (
	_ batchWriter  = (*inlineWriter)(nil)
	_ batchDeleter = (*InlineStore)(nil)
)

type inlineWriter struct {
	bufWriter
	s *InlineStore
}

// Commit writes the bytes to the catalog, durably.
func (w *inlineWriter) Commit(ctx context.Context) error {
	b, err := w.finish(ctx)
	if err != nil {
		return err
	}
	err = w.s.db.Update(func(batch *meta.Batch) error { return batch.PutInlineShard(w.id, b) })
	if err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	return nil
}

func (w *inlineWriter) catalog() *meta.DB { return w.s.db }

func (w *inlineWriter) commitIn(b *meta.Batch) error {
	if b.DB() != w.s.db {
		panic("node: inline shard committed in a batch of another catalog")
	}
	data, err := w.finish(context.Background())
	if err != nil {
		return err
	}
	return b.PutInlineShard(w.id, data)
}
