package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/shard"
)

// Shards leave the network through the release queue: the shards of a
// segment whose last reference went (overwrite, delete, replaced or
// aborted part), failed attempts of committed uploads, and everything an
// upload sent before failing or crashing (its journal entries). Run sends
// each an owner-signed delete grant, retrying with back-off while the peer
// is away; a peer that says the shard is not there counts as done, and an
// entry older than the lease is dropped (the node drops the shard then).

const (
	releasePage    = 256              // queue entries handled per batch
	releaseWorkers = 8                // deletes in flight
	releasePoll    = 30 * time.Second // longest sleep of Run
)

// releaseOrphans moves every journal entry to the release queue: at open
// no upload is in flight, so they are all orphans of an earlier run.
func (g *Gateway) releaseOrphans() (int, error) {
	js, err := g.db.Journals(0)
	if err != nil {
		return 0, fmt.Errorf("gateway: read journal: %w", err)
	}
	ids := make([]meta.SegmentID, len(js))
	n := 0
	for i, j := range js {
		ids[i] = j.Segment
		n += len(j.Shards)
	}
	if err := g.journalToQueue(ids); err != nil {
		return 0, err
	}
	return n, nil
}

// abandon queues for release every shard an upload that will not commit
// sent. A failure leaves the journal entries, released at the next open.
func (g *Gateway) abandon(ids []meta.SegmentID) {
	if err := g.journalToQueue(ids); err != nil {
		g.log.Error("gateway: queue shards of a failed upload for release", "err", err)
	}
}

func (g *Gateway) journalToQueue(ids []meta.SegmentID) error {
	if len(ids) == 0 {
		return nil
	}
	now := g.now().UnixNano()
	err := g.db.Update(func(b *meta.Batch) error {
		for _, id := range ids {
			j, err := b.Journal(id)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			for _, s := range j.Shards {
				if err := queueRelease(b, s.Shard, s.Node, s.Size, now, now); err != nil {
					return err
				}
			}
			if err := b.DeleteJournal(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gateway: release journal entries: %w", err)
	}
	g.poke()
	return nil
}

func queueRelease(b *meta.Batch, id, node [32]byte, size, now, notBefore int64) error {
	return b.PutRelease(meta.Release{Shard: id, Node: node, Size: size, Enqueued: now, NotBefore: notBefore})
}

// unref drops one reference to each segment; a segment left with none is
// deleted and its stored shards queued for release after ReleaseDelay (or
// at once when immediate). It returns the stored bytes freed.
func (g *Gateway) unref(b *meta.Batch, refs []meta.SegmentRef, immediate bool) (int64, error) {
	now := g.now()
	notBefore := now.Add(max(0, g.cfg.ReleaseDelay)).UnixNano()
	if immediate {
		notBefore = now.UnixNano()
	}
	var freed int64
	for _, r := range refs {
		seg, err := b.Segment(r.ID)
		if errors.Is(err, meta.ErrNotFound) {
			g.log.Error("gateway: reference to a missing segment", "segment", fmt.Sprintf("%x", r.ID))
			continue
		}
		if err != nil {
			return 0, err
		}
		if seg.Refs--; seg.Refs > 0 {
			if err := b.PutSegment(seg); err != nil {
				return 0, err
			}
			continue
		}
		freed += storedBytes(seg)
		size := shard.ShardSize(shard.Params{K: seg.K, N: seg.N, BlockSize: seg.BlockSize}, seg.SealedSize)
		for _, sh := range seg.Shards {
			if sh.Stored() {
				if err := queueRelease(b, sh.ID, sh.Node, size, now.UnixNano(), notBefore); err != nil {
					return 0, err
				}
			}
		}
		if err := b.DeleteSegment(seg.ID); err != nil {
			return 0, err
		}
	}
	if freed > 0 {
		if _, err := b.AddCounter(meta.CounterStoredBytes, -freed); err != nil {
			return 0, err
		}
	}
	return freed, nil
}

// WakeReleases has Run send the releases due now, queued by another
// writer of the catalog (upkeep's repairs), without waiting for its poll.
func (g *Gateway) WakeReleases() { g.poke() }

// poke wakes Run.
func (g *Gateway) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run does the background work until ctx ends: it releases queued shards
// (at start, the orphans New found) with owner-signed deletes, retrying
// while peers are away. It returns nil when ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-g.wake:
		case <-timer.C:
		}
		next, err := g.releaseDue(ctx)
		if err != nil && ctx.Err() == nil {
			g.log.Error("gateway: release queue", "err", err)
		}
		wait := releasePoll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(g.now()), 10*time.Millisecond))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// releaseOutcome is what happened to one queue entry.
type releaseOutcome struct {
	r    meta.Release
	done bool
	err  error
}

// releaseDue sends the deletes that are due and records the outcomes. It
// returns when the next entry not yet due is (zero if none).
func (g *Gateway) releaseDue(ctx context.Context) (time.Time, error) {
	var next time.Time
	var after meta.Release
	peers := g.store.PeerIndex()
	for {
		page, err := g.db.Releases(after.Shard, after.Node, releasePage)
		if err != nil || len(page) == 0 {
			return next, err
		}
		after = page[len(page)-1]
		now := g.now()
		var due []meta.Release
		for _, r := range page {
			if nb := time.Unix(0, r.NotBefore); nb.After(now) {
				if next.IsZero() || nb.Before(next) {
					next = nb
				}
				continue
			}
			due = append(due, r)
		}
		outs := g.sendReleases(ctx, peers, due)
		if err := g.recordReleases(outs); err != nil {
			return next, err
		}
		for _, o := range outs {
			if !o.done {
				if nb := time.Unix(0, o.r.NotBefore); next.IsZero() || nb.Before(next) {
					next = nb
				}
			}
		}
		if ctx.Err() != nil || len(page) < releasePage {
			return next, nil
		}
	}
}

// sendReleases deletes the shards of due on their nodes, in parallel.
func (g *Gateway) sendReleases(ctx context.Context, peers map[shard.PublicKey]segstore.PeerInfo, due []meta.Release) []releaseOutcome {
	outs := make([]releaseOutcome, len(due))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(releaseWorkers, len(due)) {
		wg.Go(func() {
			for i := range work {
				outs[i] = g.releaseOne(ctx, peers, due[i])
			}
		})
	}
	for i := range due {
		work <- i
	}
	close(work)
	wg.Wait()
	return outs
}

// releaseOne has the segment store send one delete, or decides when to
// try again.
func (g *Gateway) releaseOne(ctx context.Context, peers map[shard.PublicKey]segstore.PeerInfo, r meta.Release) releaseOutcome {
	now := g.now()
	if now.Sub(time.Unix(0, r.Enqueued)) > g.cfg.Lease {
		return releaseOutcome{r: r, done: true, err: errors.New("lease lapsed: the node may drop the shard itself")}
	}
	done, wait, err := g.store.Release(ctx, peers, shard.ID(r.Shard), shard.PublicKey(r.Node), r.Size)
	if done {
		return releaseOutcome{r: r, done: true, err: err}
	}
	if ctx.Err() != nil {
		return releaseOutcome{r: r, err: err} // unchanged: try again next run
	}
	if wait > 0 {
		// Not the entry's failure: again once the peer's back-off or busy
		// time is over.
		r.NotBefore = now.Add(wait).UnixNano()
		return releaseOutcome{r: r, err: err}
	}
	r.Attempts++
	d := g.cfg.Backoff << min(r.Attempts-1, 30)
	if d > g.cfg.BackoffMax || d <= 0 {
		d = g.cfg.BackoffMax
	}
	r.NotBefore = now.Add(d).UnixNano()
	return releaseOutcome{r: r, err: err}
}

// recordReleases removes the entries done and reschedules the others.
func (g *Gateway) recordReleases(outs []releaseOutcome) error {
	if len(outs) == 0 {
		return nil
	}
	err := g.db.Update(func(b *meta.Batch) error {
		for _, o := range outs {
			// An entry re-queued meanwhile (same shard and node) is newer:
			// keep it.
			cur, err := b.Release(o.r.Shard, o.r.Node)
			if errors.Is(err, meta.ErrNotFound) || (err == nil && cur.Enqueued != o.r.Enqueued) {
				continue
			}
			if err != nil {
				return err
			}
			if o.done {
				if o.err != nil {
					g.log.Warn("gateway: gave up releasing a shard", "shard", shard.ID(o.r.Shard), "peer", shard.PublicKey(o.r.Node), "err", o.err)
				}
				err = b.DeleteRelease(o.r.Shard, o.r.Node)
			} else {
				err = b.PutRelease(o.r)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}, meta.NoSync())
	if err != nil {
		return fmt.Errorf("gateway: record releases: %w", err)
	}
	return nil
}
