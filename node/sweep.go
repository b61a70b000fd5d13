package node

import (
	"context"
	"errors"
	"fmt"

	"ishtar/meta"
	"ishtar/shard"
)

// Sweep removes the shards in the store that the index does not hold: the
// files of a node that crashed between writing a shard and indexing it,
// or between unindexing one and removing it. It is safe while the server
// serves: each shard is checked and removed under the lock its commits
// and deletes take, so a store in flight is either not yet visible to the
// walk or already indexed. It returns how many shards it removed.
func (s *Server) Sweep(ctx context.Context) (int, error) {
	var removed int
	err := s.st.Walk(ctx, func(in Info) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		gone, err := s.sweepOne(ctx, in.ID)
		if gone {
			removed++
		}
		return err
	})
	if err != nil {
		return removed, fmt.Errorf("node: sweep: %w", err)
	}
	return removed, nil
}

// sweepOne removes shard id from the store unless the index holds it.
func (s *Server) sweepOne(ctx context.Context, id shard.ID) (bool, error) {
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	if _, err := s.db.HeldShard(id); err == nil {
		return false, nil
	} else if !errors.Is(err, meta.ErrNotFound) {
		return false, err
	}
	if err := s.st.Delete(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	s.log.Info("node: removed a shard the index does not hold", "shard", id.String())
	return true, nil
}
