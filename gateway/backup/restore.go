package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"ishtar/meta"
	"ishtar/shard"
)

// ErrNoRoot: no root holder had a valid root record of the owner.
var ErrNoRoot = errors.New("backup: no root record found")

// Found is the root FindRoot chose and what it asked.
type Found struct {
	Record  shard.RootRecord
	From    shard.PublicKey // a holder that had it
	Asked   int             // holders asked
	Valid   int             // holders that answered with a valid root
	Rejects int             // answers refused: forged, another owner's, unreadable
	ptr     pointer
}

// CatalogSeq is the last catalog log record the root's backup includes.
func (f Found) CatalogSeq() uint64 { return f.ptr.CatalogSeq }

// FindRoot asks the owner's root holders for its root records and
// returns the valid one with the highest sequence number: signed by the
// owner, its pointer sealed with the owner's catalog key. It asks the
// rendezvous-chosen holders first (peers.RootHolders, width of them),
// then, while fewer than half of those asked answered with a valid root,
// twice as many, and so on up to every peer: a holder that is away, or
// that answers with an older root (replayed) or a forged one, cannot
// hide the newest root while another holder has it.
func FindRoot(ctx context.Context, keys shard.OwnerKeys, peers Peers, width int, timeout func() (context.Context, context.CancelFunc)) (Found, error) {
	owner := keys.Signing.Public()
	var best Found
	asked := map[shard.PublicKey]bool{}
	for count := max(1, width); ; count *= 2 {
		ids := peers.RootHolders(owner, count)
		var batch []shard.PublicKey
		for _, id := range ids {
			if !asked[id] {
				asked[id] = true
				batch = append(batch, id)
			}
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, id := range batch {
			c := peers.RootClient(id)
			if c == nil {
				continue
			}
			best.Asked++
			wg.Go(func() {
				rctx, cancel := timeout()
				rec, err := c.GetRoot(rctx, owner)
				cancel()
				if err != nil {
					return // away, or no root: not an answer
				}
				ptr, err := openRoot(keys, rec)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					best.Rejects++
					return
				}
				best.Valid++
				if rec.Seq > best.Record.Seq {
					best.Record, best.From, best.ptr = rec, id, ptr
				}
			})
		}
		wg.Wait()
		if ctx.Err() != nil {
			return best, ctx.Err()
		}
		if (best.Valid > 0 && 2*best.Valid >= best.Asked) || len(batch) == 0 || len(ids) < count {
			break
		}
	}
	if best.Valid == 0 {
		return best, fmt.Errorf("%w: %d peers asked, %d refused answers", ErrNoRoot, best.Asked, best.Rejects)
	}
	return best, nil
}

// openRoot checks a root record: the owner's signature over it and a
// pointer sealed with the owner's catalog key.
func openRoot(keys shard.OwnerKeys, rec shard.RootRecord) (pointer, error) {
	if rec.Owner != keys.Signing.Public() {
		return pointer{}, fmt.Errorf("backup: root of owner %s", rec.Owner)
	}
	if err := rec.Verify(); err != nil {
		return pointer{}, fmt.Errorf("backup: root: %w", err)
	}
	plain, err := keys.Catalog.Open(rec.Pointer)
	if err != nil {
		return pointer{}, fmt.Errorf("backup: root pointer: %w", err)
	}
	return decodePointer(plain)
}

// ErrTooFewShards: a backup blob cannot be read, too few of its shards'
// holders being reachable.
var ErrTooFewShards = errors.New("backup: too few shards reachable")

// Restored is what Restore brought back.
type Restored struct {
	CatalogSeq uint64 // the last change restored
	Changes    int    // log records applied after the snapshot
	Blobs      int    // backup blobs read
}

// Restore rebuilds the catalog in db from the backup found: it reads the
// snapshot (through its index) and the log chunks, checks that they
// follow each other, empties db's catalog, and applies them. reachable
// says whether a node's shards can be fetched (it is known and answers):
// a blob with fewer than k of them fails with ErrTooFewShards, saying
// how many of how many. The backup's state is set so that the next step
// is a snapshot, which drops the old backups.
func Restore(ctx context.Context, db *meta.DB, blobs Blobs, found Found, reachable func(shard.PublicKey) bool) (Restored, error) {
	var r Restored
	ptr := found.ptr
	read := func(what string, segs []meta.Segment) ([]byte, error) {
		for _, s := range segs {
			ok := 0
			for _, sh := range s.Shards {
				if sh.Stored() && reachable(shard.PublicKey(sh.Node)) {
					ok++
				}
			}
			if ok < s.K {
				return nil, fmt.Errorf("%w: the %s's segment %x has %d of its %d shards on reachable peers, %d needed", ErrTooFewShards, what, s.ID[:8], ok, s.N, s.K)
			}
		}
		b, err := blobs.ReadBlob(ctx, segs)
		if err != nil {
			return nil, fmt.Errorf("backup: read the %s: %w", what, err)
		}
		r.Blobs++
		return b, nil
	}
	raw, err := read("snapshot index", ptr.Index)
	if err != nil {
		return r, err
	}
	seq, snapSegs, err := decodeIndex(raw)
	if err != nil {
		return r, err
	}
	raw, err = read("snapshot", snapSegs)
	if err != nil {
		return r, err
	}
	snapSeq, image, err := decodeSnapshot(raw)
	if err != nil {
		return r, err
	}
	if snapSeq != seq {
		return r, fmt.Errorf("%w: index of snapshot %d names snapshot %d", ErrFormat, seq, snapSeq)
	}
	var logs [][]meta.LogRecord
	last := snapSeq
	for _, l := range ptr.Logs {
		raw, err := read("log chunk", l.Segs)
		if err != nil {
			return r, err
		}
		recs, err := decodeLog(raw)
		if err != nil {
			return r, err
		}
		if len(recs) == 0 || recs[0].Seq != l.From || recs[len(recs)-1].Seq != l.To || l.From <= last {
			return r, fmt.Errorf("%w: log chunk %d-%d does not follow record %d", ErrFormat, l.From, l.To, last)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Seq <= recs[i-1].Seq {
				return r, fmt.Errorf("%w: log chunk %d-%d out of order", ErrFormat, l.From, l.To)
			}
		}
		last = l.To
		logs = append(logs, recs)
	}
	if last != ptr.CatalogSeq {
		return r, fmt.Errorf("%w: the backup ends at record %d, its root says %d", ErrFormat, last, ptr.CatalogSeq)
	}
	if err := db.ReplaceCatalog(); err != nil {
		return r, err
	}
	if err := db.ApplyChanges(image); err != nil {
		return r, err
	}
	for _, recs := range logs {
		for _, rec := range recs {
			if err := db.ApplyChanges(rec.Changes); err != nil {
				return r, err
			}
			r.Changes++
		}
	}
	// The blobs read are the old backup's: recorded, so that the first
	// snapshot of the restored gateway drops them (their leases would
	// otherwise run on for months).
	old := append(append([]meta.Segment{}, ptr.Index...), snapSegs...)
	for _, l := range ptr.Logs {
		old = append(old, l.Segs...)
	}
	err = db.Update(func(b *meta.Batch) error {
		for _, s := range old {
			if _, err := b.Segment(s.ID); errors.Is(err, meta.ErrNotFound) {
				s.Refs = 1
				if err := b.PutSegment(s); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			if err := b.PutBackupBlob(s.ID); err != nil {
				return err
			}
		}
		// The next root must outnumber the one restored, whatever this
		// machine's clock says.
		st, err := json.Marshal(state{Compact: true, RootSeq: found.Record.Seq})
		if err != nil {
			return err
		}
		return b.SetLocalValue(stateName, st)
	}, meta.Quiet())
	if err != nil {
		return r, err
	}
	r.CatalogSeq = last
	return r, nil
}
