package node

import (
	"context"
	"time"
)

// maintainEvery is how often Maintain prunes and expires leases and
// foreign roots, or a quarter of Config.LeaseGrace or of the foreign
// roots' TTL if that is shorter (tests run in seconds).
const maintainEvery = 5 * time.Minute

// Maintain prunes, until ctx ends, what expires in the catalog: the
// last-grant times older than twice the clock window (a grant that old is
// refused by its timestamp anyway), and the holdings whose lease lapsed
// more than Config.LeaseGrace ago, with the shards' bytes and their last
// holding (ExpireLeases), and the foreign roots not posted again within
// their TTL (ExpireForeignRoots). Run it beside the server, once per node.
func (s *Server) Maintain(ctx context.Context) {
	t := time.NewTicker(min(maintainEvery, max(min(s.cfg.LeaseGrace, s.cfg.ForeignRoots.TTL)/4, 250*time.Millisecond)))
	defer t.Stop()
	for {
		s.prune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune runs one pass of Maintain.
func (s *Server) prune(ctx context.Context) {
	before := s.cfg.Now().Add(-2 * s.cfg.ClockWindow).UnixNano()
	if n, err := s.db.PruneLastGrants(before); err != nil {
		s.log.WarnContext(ctx, "pruning last-grant times", "err", err)
	} else if n > 0 {
		s.log.DebugContext(ctx, "pruned last-grant times", "entries", n)
	}
	ex, err := s.ExpireLeases(ctx)
	if ex.Holdings > 0 {
		s.log.InfoContext(ctx, "expired lapsed leases", "holdings", ex.Holdings, "shards", ex.Shards, "freed", ex.Freed)
	}
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "expiring lapsed leases", "err", err)
	}
	if ex.Holdings > 0 {
		if err := s.RefreshCredit(); err != nil {
			s.log.WarnContext(ctx, "settling credit after expired leases", "err", err)
		}
	}
	roots, freed, err := s.ExpireForeignRoots(ctx)
	if roots > 0 {
		s.log.InfoContext(ctx, "expired foreign roots", "roots", roots, "freed", freed)
	}
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "expiring foreign roots", "err", err)
	}
}
