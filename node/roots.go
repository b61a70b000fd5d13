package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// MaxRootRecord bounds a root record as kept (its JSON form).
const MaxRootRecord = 16 << 10

// Bounds of ForeignRootLimits.TTL.
const (
	DefaultForeignRootTTL = 30 * 24 * time.Hour
	MaxForeignRootTTL     = 400 * 24 * time.Hour
)

// ForeignRootLimits bound the foreign roots: the root records a node
// keeps for owners it holds no shard for, because owners post their
// roots to the peers that rendezvous hashing picks (peers.RootHolders)
// and anyone can make owner keys. They are bounded per calling node, per
// address block of the caller and in all, and expire TTL after their last
// accepted post. A post over a bound is refused (ErrInsufficientStorage):
// no root is ever evicted for another. The roots of owners the node holds
// shards for count against none of these. Zero fields take the defaults.
type ForeignRootLimits struct {
	// PerPeer bounds those whose last accepted post came from one node:
	// an owner's own node posts its owner's root, so an honest caller
	// needs one place per owner it serves. Default 32.
	PerPeer int
	// PerBlock bounds those posted from one address block (households
	// behind one address, or one operator with many keys). Default 64.
	PerBlock int
	// Max and MaxBytes bound them all, in number and in bytes of their
	// records. Defaults 4096 and 32 MiB: a node is one of 2n (10) holders
	// of an owner, so this is room for networks with hundreds of times
	// more owners than nodes, at a fraction of any node's capacity.
	Max      int
	MaxBytes int64
	// TTL is how long one is kept after its last accepted post (owners
	// post after every backup step, and at least daily); default 30
	// days, at most MaxForeignRootTTL.
	TTL time.Duration
}

func (l *ForeignRootLimits) defaults() {
	setDefault(&l.PerPeer, 32)
	setDefault(&l.PerBlock, 64)
	setDefault(&l.Max, 4096)
	setDefault(&l.MaxBytes, 32<<20)
	setDefault(&l.TTL, DefaultForeignRootTTL)
}

func (l *ForeignRootLimits) validate() error {
	switch {
	case l.PerPeer <= 0 || l.PerBlock <= 0 || l.Max <= 0:
		return errors.New("foreign root counts must be positive")
	case l.MaxBytes < MaxRootRecord:
		return fmt.Errorf("foreign root bytes %d below one record's %d", l.MaxBytes, MaxRootRecord)
	case l.TTL < time.Second || l.TTL > MaxForeignRootTTL:
		return fmt.Errorf("foreign root TTL %v outside [1s, %v]", l.TTL, MaxForeignRootTTL)
	}
	return nil
}

// handleGetRoot answers GET /v1/roots/{owner} with the highest root record.
func (s *Server) handleGetRoot(w http.ResponseWriter, r *http.Request, c *call) error {
	owner, err := pathID(r, "owner")
	if err != nil {
		return err
	}
	root, err := s.db.Root(owner)
	if errors.Is(err, meta.ErrNotFound) {
		return errorf(ErrNotFound, "no root for owner %s", owner)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, json.RawMessage(root.Record))
	return nil
}

// handlePostRoot keeps an owner's root record if its Seq is the highest:
// POST /v1/roots/{owner}. A root of an owner the node holds shards for is
// always kept; any other is a foreign root, kept within
// Config.ForeignRoots and the node's free capacity.
func (s *Server) handlePostRoot(w http.ResponseWriter, r *http.Request, c *call) error {
	owner, err := pathID(r, "owner")
	if err != nil {
		return err
	}
	var rec shard.RootRecord
	if err := json.Unmarshal(c.body, &rec); err != nil {
		return errorf(ErrBadRequest, "body is not a root record: %v", err)
	}
	if rec.Owner != shard.PublicKey(owner) {
		return errorf(ErrBadRequest, "record of owner %s posted for %s", rec.Owner, owner)
	}
	if err := rec.Verify(); err != nil {
		return fromShardError(err, "root record")
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("node: encode root record: %w", err)
	}
	if int64(len(raw)) > MaxRootRecord {
		return errorf(ErrTooLarge, "root record of %d bytes, at most %d", len(raw), MaxRootRecord)
	}
	now := s.cfg.Now()
	next := meta.Root{Owner: owner, Seq: rec.Seq, Record: raw, Poster: c.peer, Block: c.block, Posted: now.Unix()}
	err = s.db.Update(func(b *meta.Batch) error {
		old, err := b.Root(owner)
		if err == nil && old.Seq >= rec.Seq {
			return errorf(ErrConflict, "have seq %d, got %d", old.Seq, rec.Seq)
		}
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		held, err := b.OwnerHeld(owner)
		if err != nil {
			return err
		}
		grow := int64(len(raw) - len(old.Record))
		if held.Shards == 0 {
			next.Expires = now.Add(s.cfg.ForeignRoots.TTL).Unix()
			if err := s.foreignRoom(b, next, old); err != nil {
				return err
			}
			if used, err := b.Counter(meta.CounterUsedBytes); err != nil {
				return err
			} else if grow > 0 && used+grow > s.cfg.Capacity {
				return errorf(ErrInsufficientStorage, "no room for a root of %d bytes of an owner this node holds no shard for", len(raw))
			}
		}
		if _, err := b.AddCounter(meta.CounterUsedBytes, grow); err != nil {
			return err
		}
		return b.PutRoot(next)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// foreignRoom checks that the foreign root r, replacing old (the owner's
// root before, if any), stays within Config.ForeignRoots: the
// ErrInsufficientStorage it returns otherwise names the bound.
func (s *Server) foreignRoom(b *meta.Batch, r, old meta.Root) error {
	t, err := b.ForeignTallies(r.Poster, r.Block)
	if err != nil {
		return err
	}
	if old.Foreign() { // replaced: its place is r's
		n := int64(len(old.Record))
		if old.Poster == r.Poster {
			t.Poster.Roots--
		}
		if old.Block == r.Block {
			t.Block.Roots--
		}
		t.Node.Roots--
		t.Node.Bytes -= n
	}
	l := s.cfg.ForeignRoots
	const what = "roots of owners this node holds no shard for"
	switch {
	case t.Poster.Roots >= int64(l.PerPeer):
		return errorf(ErrInsufficientStorage, "node %s posted %d %s, at most %d", shard.PublicKey(r.Poster), t.Poster.Roots, what, l.PerPeer)
	case t.Block.Roots >= int64(l.PerBlock):
		return errorf(ErrInsufficientStorage, "address block %s posted %d %s, at most %d", r.Block, t.Block.Roots, what, l.PerBlock)
	case t.Node.Roots >= int64(l.Max):
		return errorf(ErrInsufficientStorage, "%d %s kept, at most %d", t.Node.Roots, what, l.Max)
	case t.Node.Bytes+int64(len(r.Record)) > l.MaxBytes:
		return errorf(ErrInsufficientStorage, "%d bytes of %s kept, at most %d", t.Node.Bytes, what, l.MaxBytes)
	}
	return nil
}

// adoptRoot makes owner's root, if foreign, an ordinary one: owner's
// first shard has arrived. Its bytes stay counted.
func adoptRoot(b *meta.Batch, owner shard.PublicKey) error {
	root, err := b.Root(owner)
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	}
	if err != nil || !root.Foreign() {
		return err
	}
	root.Expires = 0
	return b.PutRoot(root)
}

// orphanRoot deals with owner's root when owner's last holding goes: it
// becomes a foreign root, expiring TTL after its last accepted post and
// counted against its poster's and block's bounds, if that is still in
// the future and the bounds have room; else it goes, and its bytes with
// it. So a root holder that also held some of the owner's shards keeps
// the root while the owner keeps posting it, and an owner gone for good
// takes no room.
func (s *Server) orphanRoot(b *meta.Batch, owner shard.PublicKey) error {
	root, err := b.Root(owner)
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	root.Expires = time.Unix(root.Posted, 0).Add(s.cfg.ForeignRoots.TTL).Unix()
	if root.Posted > 0 && root.Expires > s.cfg.Now().Unix() {
		err := s.foreignRoom(b, root, meta.Root{})
		if err == nil {
			return b.PutRoot(root)
		}
		if !errors.Is(err, ErrInsufficientStorage) {
			return err
		}
	}
	if _, err := b.AddCounter(meta.CounterUsedBytes, -int64(len(root.Record))); err != nil {
		return err
	}
	return b.DeleteRoot(owner)
}

// ExpireForeignRoots deletes the foreign roots whose TTL has run out
// since their last accepted post, a page of the expiry index per meta
// batch, and returns how many went and the bytes given back. Maintain
// runs it; it is exported for tests and tools.
func (s *Server) ExpireForeignRoots(ctx context.Context) (roots int, freed int64, err error) {
	now := s.cfg.Now().Unix()
	var after *meta.ForeignExpiry
	for ctx.Err() == nil {
		page, err := s.db.ExpiredForeignRoots(after, now, expirePage)
		if err != nil || len(page) == 0 {
			return roots, freed, err
		}
		var n int
		var f int64
		err = s.db.Update(func(b *meta.Batch) error {
			n, f = 0, 0
			for _, e := range page {
				root, err := b.Root(e.Owner)
				if errors.Is(err, meta.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !root.Foreign() || root.Expires > now {
					continue // posted again, or the owner's shards came
				}
				size := int64(len(root.Record))
				if _, err := b.AddCounter(meta.CounterUsedBytes, -size); err != nil {
					return err
				}
				if err := b.DeleteRoot(e.Owner); err != nil {
					return err
				}
				n++
				f += size
			}
			return nil
		})
		if err != nil {
			return roots, freed, err
		}
		roots, freed = roots+n, freed+f
		if len(page) < expirePage {
			return roots, freed, nil
		}
		after = &page[len(page)-1]
	}
	return roots, freed, ctx.Err()
}
