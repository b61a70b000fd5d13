package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"ishtar/shard"
)

// DiskStore keeps each shard in its own file, dir/ab/abcd...ef, named by
// the hex ID and fanned out by its first byte. A shard is written to a
// temporary file in its final directory while being hashed, fsynced,
// renamed into place and the directory fsynced, so a crash leaves either
// the whole shard or nothing (stray temporary files are removed on open).
// One DiskStore owns its directory.
type DiskStore struct {
	dir      string
	leafSize int
}

var _ Store = (*DiskStore)(nil)

const tmpPrefix = ".tmp-"

// NewDiskStore opens or creates a store in dir whose shard IDs use leaves
// of leafSize bytes.
func NewDiskStore(dir string, leafSize int) (*DiskStore, error) {
	if leafSize <= 0 {
		panic(fmt.Sprintf("node: invalid leaf size %d", leafSize))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("node: open store %s: %w", dir, err)
	}
	created := false
	for i := range 256 {
		sub := filepath.Join(dir, fmt.Sprintf("%02x", i))
		if err := os.Mkdir(sub, 0o700); err == nil {
			created = true
		} else if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("node: open store %s: %w", dir, err)
		}
		if err := removeTemps(sub); err != nil {
			return nil, fmt.Errorf("node: open store %s: %w", dir, err)
		}
	}
	if created {
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("node: open store %s: %w", dir, err)
		}
	}
	return &DiskStore{dir: filepath.Clean(dir), leafSize: leafSize}, nil
}

func removeTemps(sub string) error {
	ents, err := os.ReadDir(sub)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			if err := os.Remove(filepath.Join(sub, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *DiskStore) subdir(id shard.ID) string {
	return s.dir + string(filepath.Separator) + hex.EncodeToString(id[:1])
}

// path is dir/ab/abcd...ef, built without filepath.Join: this is on the
// path of every store and read.
func (s *DiskStore) path(id shard.ID) string {
	h := id.String()
	return s.dir + string(filepath.Separator) + h[:2] + string(filepath.Separator) + h
}

// Create starts a temporary file for shard id.
func (s *DiskStore) Create(ctx context.Context, id shard.ID, size int64) (Writer, error) {
	if size < 0 {
		panic(fmt.Sprintf("node: negative shard size %d", size))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("node: create shard %s: %w", id, err)
	}
	f, err := os.CreateTemp(s.subdir(id), tmpPrefix+id.String()+"-*")
	if err != nil {
		return nil, fmt.Errorf("node: create shard %s: %w", id, err)
	}
	return &diskWriter{s: s, id: id, size: size, f: f, h: shard.NewHasher(s.leafSize)}, nil
}

// Open opens the file of shard id.
func (s *DiskStore) Open(ctx context.Context, id shard.ID) (Reader, error) {
	f, err := os.Open(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &shardNotFound{op: "open", id: id}
	}
	if err != nil {
		return nil, fmt.Errorf("node: open shard %s: %w", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("node: open shard %s: %w", id, err)
	}
	return &fileReader{File: f, size: fi.Size()}, nil
}

// Delete removes the file of shard id and syncs its directory.
func (s *DiskStore) Delete(ctx context.Context, id shard.ID) error {
	err := os.Remove(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("node: delete shard %s: %w", id, ErrNotFound)
	}
	if err == nil {
		err = syncDir(s.subdir(id))
	}
	if err != nil {
		return fmt.Errorf("node: delete shard %s: %w", id, err)
	}
	return nil
}

// Stat returns the size of shard id.
func (s *DiskStore) Stat(ctx context.Context, id shard.ID) (Info, error) {
	fi, err := os.Stat(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, &shardNotFound{op: "stat", id: id}
	}
	if err != nil {
		return Info{}, fmt.Errorf("node: stat shard %s: %w", id, err)
	}
	return Info{ID: id, Size: fi.Size()}, nil
}

// Walk lists the committed shards directory by directory.
func (s *DiskStore) Walk(ctx context.Context, fn func(Info) error) error {
	for i := range 256 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("node: walk store: %w", err)
		}
		ents, err := os.ReadDir(filepath.Join(s.dir, fmt.Sprintf("%02x", i)))
		if err != nil {
			return fmt.Errorf("node: walk store: %w", err)
		}
		for _, e := range ents {
			id, err := shard.ParseID(e.Name())
			if err != nil || !e.Type().IsRegular() {
				continue // temporary or foreign file
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("node: walk store: %w", err)
			}
			if err := fn(Info{ID: id, Size: fi.Size()}); err != nil {
				return err
			}
		}
	}
	return nil
}

type fileReader struct {
	*os.File
	size int64
}

func (r *fileReader) Size() int64 { return r.size }

type diskWriter struct {
	s    *DiskStore
	id   shard.ID
	size int64
	f    *os.File
	h    *shard.Hasher
	n    int64
	done bool
}

var errWriterDone = errors.New("node: shard writer already committed or cancelled")

func (w *diskWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterDone
	}
	if int64(len(p)) > w.size-w.n {
		return 0, errorf(ErrCorrupt, "shard %s: more than the declared %d bytes", w.id, w.size)
	}
	w.h.Write(p)
	n, err := w.f.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("node: write shard %s: %w", w.id, err)
	}
	return n, nil
}

func (w *diskWriter) Commit(ctx context.Context) error {
	if w.done {
		return errWriterDone
	}
	if err := w.commit(ctx); err != nil {
		_ = w.Cancel(ctx)
		return err
	}
	return nil
}

func (w *diskWriter) commit(ctx context.Context) error {
	if w.n != w.size {
		return errorf(ErrCorrupt, "shard %s: %d bytes written of the declared %d", w.id, w.n, w.size)
	}
	if got := w.h.Sum(); got != w.id {
		return errorf(ErrCorrupt, "bytes hash to %s, not to shard %s", got, w.id)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	if err := os.Rename(w.f.Name(), w.s.path(w.id)); err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	w.done = true
	if err := syncDir(w.s.subdir(w.id)); err != nil {
		return fmt.Errorf("node: commit shard %s: %w", w.id, err)
	}
	return nil
}

func (w *diskWriter) Cancel(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close() // may already be closed by a failed commit
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("node: cancel shard %s: %w", w.id, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
