package node

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"ishtar/shard"
)

// MemStore keeps shards in memory; for tests and ephemeral nodes.
type MemStore struct {
	leafSize int
	mu       sync.RWMutex
	shards   map[shard.ID][]byte
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty store whose shard IDs use leaves of leafSize
// bytes.
func NewMemStore(leafSize int) *MemStore {
	if leafSize <= 0 {
		panic(fmt.Sprintf("node: invalid leaf size %d", leafSize))
	}
	return &MemStore{leafSize: leafSize, shards: make(map[shard.ID][]byte)}
}

func (s *MemStore) Create(ctx context.Context, id shard.ID, size int64) (Writer, error) {
	if size < 0 {
		panic(fmt.Sprintf("node: negative shard size %d", size))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("node: create shard %s: %w", id, err)
	}
	return &memWriter{bufWriter: newBufWriter(id, size, s.leafSize), s: s}, nil
}

func (s *MemStore) Open(ctx context.Context, id shard.ID) (Reader, error) {
	s.mu.RLock()
	b, ok := s.shards[id]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("node: open shard %s: %w", id, ErrNotFound)
	}
	return memReader{bytes.NewReader(b)}, nil
}

func (s *MemStore) Delete(ctx context.Context, id shard.ID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.shards[id]; !ok {
		return fmt.Errorf("node: delete shard %s: %w", id, ErrNotFound)
	}
	delete(s.shards, id)
	return nil
}

func (s *MemStore) Stat(ctx context.Context, id shard.ID) (Info, error) {
	s.mu.RLock()
	b, ok := s.shards[id]
	s.mu.RUnlock()
	if !ok {
		return Info{}, fmt.Errorf("node: stat shard %s: %w", id, ErrNotFound)
	}
	return Info{ID: id, Size: int64(len(b))}, nil
}

func (s *MemStore) Walk(ctx context.Context, fn func(Info) error) error {
	s.mu.RLock()
	infos := make([]Info, 0, len(s.shards))
	for id, b := range s.shards {
		infos = append(infos, Info{ID: id, Size: int64(len(b))})
	}
	s.mu.RUnlock()
	for _, in := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("node: walk store: %w", err)
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

type memReader struct{ *bytes.Reader }

func (memReader) Close() error { return nil }

// bufWriter gathers a shard's bytes in memory, hashing them as they come.
type bufWriter struct {
	id   shard.ID
	size int64
	buf  []byte
	h    *shard.Hasher
	done bool
}

func newBufWriter(id shard.ID, size int64, leafSize int) bufWriter {
	return bufWriter{id: id, size: size, h: shard.NewHasher(leafSize)}
}

func (w *bufWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterDone
	}
	if int64(len(p)) > w.size-int64(len(w.buf)) {
		return 0, errorf(ErrCorrupt, "shard %s: more than the declared %d bytes", w.id, w.size)
	}
	if w.buf == nil {
		w.buf = make([]byte, 0, w.size)
	}
	w.h.Write(p)
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// finish ends the writer and checks the size and the ID of its bytes,
// which it returns.
func (w *bufWriter) finish(ctx context.Context) ([]byte, error) {
	if w.done {
		return nil, errWriterDone
	}
	w.done = true
	if int64(len(w.buf)) != w.size {
		return nil, errorf(ErrCorrupt, "shard %s: %d bytes written of the declared %d", w.id, len(w.buf), w.size)
	}
	if got := w.h.Sum(); got != w.id {
		return nil, errorf(ErrCorrupt, "bytes hash to %s, not to shard %s", got, w.id)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	if w.buf == nil {
		w.buf = []byte{}
	}
	return w.buf, nil
}

func (w *bufWriter) Cancel(ctx context.Context) error {
	w.done = true
	w.buf = nil
	return nil
}

type memWriter struct {
	bufWriter
	s *MemStore
}

func (w *memWriter) Commit(ctx context.Context) error {
	b, err := w.finish(ctx)
	if err != nil {
		return err
	}
	w.s.mu.Lock()
	w.s.shards[w.id] = b
	w.s.mu.Unlock()
	return nil
}
