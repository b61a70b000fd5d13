package node

import (
	"context"
	"io"

	"ishtar/shard"
)

// Store keeps the bytes of shards held for others. Nothing written is
// visible before Writer.Commit, which verifies the bytes against the ID.
// Implementations return errors matching ErrNotFound for absent shards and
// ErrCorrupt for bytes that do not match their ID or declared size. A Store
// is safe for concurrent use; the Server serializes commits and deletes of
// one ID.
type Store interface {
	// Create starts writing shard id of size bytes. Committing an ID that
	// already exists replaces it with identical bytes.
	Create(ctx context.Context, id shard.ID, size int64) (Writer, error)
	// Open returns the committed shard id.
	Open(ctx context.Context, id shard.ID) (Reader, error)
	// Delete removes shard id.
	Delete(ctx context.Context, id shard.ID) error
	// Stat describes shard id.
	Stat(ctx context.Context, id shard.ID) (Info, error)
	// Walk calls fn for each committed shard, in no particular order,
	// stopping at fn's first error, which it returns.
	Walk(ctx context.Context, fn func(Info) error) error
}

// Writer receives the bytes of one shard. Call Commit or Cancel; Cancel
// after Commit does nothing, so it can be deferred.
type Writer interface {
	io.Writer
	// Commit checks that exactly the declared size was written and that
	// the bytes hash to the ID, then makes the shard visible, durably.
	Commit(ctx context.Context) error
	// Cancel discards what was written.
	Cancel(ctx context.Context) error
}

// Reader reads one committed shard.
type Reader interface {
	io.ReadSeeker
	io.ReaderAt
	io.Closer
	Size() int64
}

// Info describes a committed shard.
type Info struct {
	ID   shard.ID
	Size int64
}
