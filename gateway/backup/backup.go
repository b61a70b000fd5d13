package backup

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// Blobs stores and reads backup blobs on the network (gateway.Gateway).
type Blobs interface {
	// StoreBlob stores data as segments, recorded in the catalog's
	// backup-blob index, and returns their records.
	StoreBlob(ctx context.Context, data []byte) ([]meta.Segment, error)
	// ReadBlob reads back the data of segments, from their records.
	ReadBlob(ctx context.Context, segs []meta.Segment) ([]byte, error)
	// DropBlobs forgets blob segments and releases their shards.
	DropBlobs(ids []meta.SegmentID) error
}

// RootClient posts and fetches root records on one node (node.Client).
type RootClient interface {
	PutRoot(ctx context.Context, rec shard.RootRecord) error
	GetRoot(ctx context.Context, owner shard.PublicKey) (shard.RootRecord, error)
}

// Peers is how the backup reaches root holders.
type Peers interface {
	// RootHolders returns up to count peers for owner's root records,
	// chosen by rendezvous hashing over the peer table: the same owner
	// gets the same peers on any machine that knows the same table.
	RootHolders(owner shard.PublicKey, count int) []shard.PublicKey
	// RootClient returns a client of peer id, or nil if it is unknown.
	RootClient(id shard.PublicKey) RootClient
}

// Config configures a Backup. Zero fields take the defaults noted.
type Config struct {
	// MaxLag bounds how long a change to the catalog waits before it is
	// backed up (a step starts once the oldest waiting change is
	// MaxLag/3 old); default 30 s.
	MaxLag time.Duration
	// Holders is how many rendezvous-chosen peers get each root (besides
	// the holders of the newest backup's shards); default 10 (2n).
	Holders int
	// Repost is how often the root is posted again when nothing changed
	// (nodes drop roots not refreshed for weeks); default 24 h.
	Repost time.Duration
	// MaxLogs is how many log chunks follow a snapshot before the next
	// step compacts them into a new one; default 12.
	MaxLogs int
	// ChunkBytes bounds the changes of one log chunk (more wait for the
	// next step); default 8 MiB.
	ChunkBytes int
	// RequestTimeout bounds one request to a root holder; default 30 s.
	RequestTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	setDefault(&c.MaxLag, 30*time.Second)
	setDefault(&c.Holders, 10)
	setDefault(&c.Repost, 24*time.Hour)
	setDefault(&c.MaxLogs, 12)
	setDefault(&c.ChunkBytes, 8<<20)
	setDefault(&c.RequestTimeout, 30*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// maxPointer bounds a sealed pointer so that its root record, as JSON
// (base64), stays within what nodes keep (node.MaxRootRecord, 16 KiB).
const maxPointer = 10 << 10

// stateName is the local value (meta.DB.LocalValue) of the backup's
// state.
const stateName = "backup/state"

// state is what the backup has done, kept locally (never backed up).
type state struct {
	Pointer  []byte `json:"pointer,omitempty"` // encodePointer of the last root posted
	RootSeq  uint64 `json:"root_seq"`
	RootTime int64  `json:"root_time"` // unix nanoseconds
	Posted   int    `json:"posted"`    // holders that took the last root
	// Compact: the next step makes a snapshot (after a restore).
	Compact bool `json:"compact,omitempty"`
}

// Status is what `ishtar status` shows of the backup.
type Status struct {
	// BackedUp is the last catalog log record the network has; Latest
	// the last one written.
	BackedUp uint64 `json:"backed_up"`
	Latest   uint64 `json:"latest"`
	// Pending counts the changes not backed up yet (bookkeeping
	// included), and Lag is the age of the oldest of them that calls for
	// a backup (zero: none waiting).
	Pending int           `json:"pending"`
	Lag     time.Duration `json:"lag"`
	// RootSeq, RootTime and RootHolders describe the last root posted:
	// how many holders took it.
	RootSeq     uint64    `json:"root_seq"`
	RootTime    time.Time `json:"root_time"`
	RootHolders int       `json:"root_holders"`
	// Snapshots and Logs count the steps since the daemon started, and
	// Failures those that failed; LastError is the last failure's.
	Snapshots int64  `json:"snapshots"`
	Logs      int64  `json:"logs"`
	Failures  int64  `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

// Backup backs the owner's catalog up to the network (see the package
// doc).
type Backup struct {
	cfg   Config
	db    *meta.DB
	keys  shard.OwnerKeys
	blobs Blobs
	peers Peers
	log   *slog.Logger

	stepMu sync.Mutex // one step at a time
	mu     sync.Mutex
	st     state
	ptr    pointer // decoded st.Pointer
	stats  Status
	wake   chan struct{}
}

// New returns the backup of the catalog in db.
func New(cfg Config, db *meta.DB, keys shard.OwnerKeys, blobs Blobs, peers Peers, log *slog.Logger) (*Backup, error) {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if keys.Signing.IsZero() {
		return nil, errors.New("backup: no owner key")
	}
	b := &Backup{cfg: cfg, db: db, keys: keys, blobs: blobs, peers: peers, log: log, wake: make(chan struct{}, 1)}
	raw, err := db.LocalValue(stateName)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		b.st.Compact = true // never backed up: a snapshot first
	case err != nil:
		return nil, fmt.Errorf("backup: %w", err)
	default:
		if err := json.Unmarshal(raw, &b.st); err != nil {
			return nil, fmt.Errorf("backup: state: %w", err)
		}
		if len(b.st.Pointer) > 0 {
			if b.ptr, err = decodePointer(b.st.Pointer); err != nil {
				return nil, fmt.Errorf("backup: state: %w", err)
			}
		} else {
			b.st.Compact = true
		}
	}
	return b, nil
}

// Status returns the backup's status at now.
func (b *Backup) Status() (Status, error) {
	b.mu.Lock()
	s := b.stats
	s.BackedUp = b.ptr.CatalogSeq
	s.RootSeq, s.RootHolders = b.st.RootSeq, b.st.Posted
	if b.st.RootTime != 0 {
		s.RootTime = time.Unix(0, b.st.RootTime)
	}
	b.mu.Unlock()
	s.Latest = b.db.LastLogSeq()
	pending, oldest, err := b.pending(s.BackedUp)
	if err != nil {
		return s, err
	}
	s.Pending = pending
	if !oldest.IsZero() {
		s.Lag = max(0, b.cfg.Now().Sub(oldest))
	}
	return s, nil
}

// pending returns how many log records follow seq (their numbers are
// consecutive: all of them wait) and the time of the oldest of them that
// is not Quiet (zero if none), reading only up to that one.
func (b *Backup) pending(after uint64) (n int, oldest time.Time, err error) {
	last := b.db.LastLogSeq()
	n = int(last - min(after, last))
	for {
		recs, err := b.db.CatalogLog(after, 64)
		if err != nil {
			return n, oldest, err
		}
		for _, r := range recs {
			if !r.Quiet {
				return n, time.Unix(0, r.Time), nil
			}
		}
		if len(recs) < 64 {
			return n, oldest, nil
		}
		after = recs[len(recs)-1].Seq
	}
}

// Poke asks for a step as soon as one is due (the gateway pokes after
// commits; Run also polls).
func (b *Backup) Poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// failureLogEvery bounds how often Run logs a failure it already logged
// (a new node without enough peers fails every step for minutes).
const failureLogEvery = 10 * time.Minute

// Run runs steps as they fall due until ctx ends. A failed step is
// retried after MaxLag/3; the failure is logged when it differs from the
// last one logged, or failureLogEvery after it (Status counts them all).
func (b *Backup) Run(ctx context.Context) {
	poll := max(100*time.Millisecond, min(time.Second, b.cfg.MaxLag/10))
	var retry, loggedAt time.Time
	var logged string
	for {
		if now := b.cfg.Now(); !now.Before(retry) {
			_, err := b.Step(ctx, false)
			switch {
			case err == nil:
				if logged != "" {
					b.log.InfoContext(ctx, "backup: steps succeed again")
					logged = ""
				}
			case ctx.Err() == nil:
				if msg := err.Error(); msg != logged || now.Sub(loggedAt) >= failureLogEvery {
					b.log.WarnContext(ctx, "backup: step failed; retrying", "err", err, "retry_in", b.cfg.MaxLag/3)
					logged, loggedAt = msg, now
				}
				retry = now.Add(b.cfg.MaxLag / 3)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		case <-time.After(poll):
		}
	}
}

// Step kind, as Step reports it.
const (
	NoStep = iota
	LogStep
	SnapshotStep
	RepostStep
)

// Step runs one backup step if one is due (or, with force, if anything
// is not backed up yet): a snapshot first and whenever MaxLogs log chunks
// follow the last one, else a log chunk of the changes since the last
// step; then a root record pointing at the result goes to the root
// holders. With nothing to back up, the root is posted again every
// Repost. It returns the kind of step it ran.
func (b *Backup) Step(ctx context.Context, force bool) (int, error) {
	b.stepMu.Lock()
	defer b.stepMu.Unlock()
	now := b.cfg.Now()
	b.mu.Lock()
	st, ptr := b.st, b.ptr
	b.mu.Unlock()
	n, oldest, err := b.pending(ptr.CatalogSeq)
	if err != nil {
		return NoStep, err
	}
	due := st.Compact || (!oldest.IsZero() && now.Sub(oldest) >= b.cfg.MaxLag/3) || (force && n > 0)
	if !due {
		if st.RootSeq != 0 && now.Sub(time.Unix(0, st.RootTime)) >= b.cfg.Repost {
			return RepostStep, b.fail(b.post(ctx, ptr, now))
		}
		return NoStep, nil
	}
	if st.Compact || len(ptr.Logs) >= b.cfg.MaxLogs {
		return SnapshotStep, b.fail(b.snapshot(ctx, ptr, now))
	}
	next, err := b.logChunk(ctx, ptr)
	if err != nil {
		return LogStep, b.fail(err)
	}
	if len(encodePointer(next)) > maxPointer {
		return SnapshotStep, b.fail(b.snapshot(ctx, ptr, now))
	}
	if err := b.post(ctx, next, now); err != nil {
		return LogStep, b.fail(err)
	}
	b.count(func(s *Status) { s.Logs++ })
	return LogStep, b.fail(b.db.TrimCatalogLog(next.CatalogSeq))
}

// fail counts a failed step.
func (b *Backup) fail(err error) error {
	if err != nil {
		b.count(func(s *Status) { s.Failures++; s.LastError = err.Error() })
	}
	return err
}

func (b *Backup) count(f func(*Status)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}

// logChunk stores the changes after ptr as a log chunk and returns the
// pointer with it.
func (b *Backup) logChunk(ctx context.Context, ptr pointer) (pointer, error) {
	var recs []meta.LogRecord
	size, after := 0, ptr.CatalogSeq
	for size < b.cfg.ChunkBytes {
		page, err := b.db.CatalogLog(after, 256)
		if err != nil {
			return ptr, err
		}
		for _, r := range page {
			if size >= b.cfg.ChunkBytes && len(recs) > 0 {
				break
			}
			recs = append(recs, r)
			size += len(r.Changes)
		}
		if len(page) < 256 {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	if len(recs) == 0 {
		return ptr, nil
	}
	segs, err := b.blobs.StoreBlob(ctx, encodeLog(recs))
	if err != nil {
		return ptr, fmt.Errorf("backup: store a log chunk: %w", err)
	}
	next := ptr
	next.Logs = append(slices.Clone(ptr.Logs), logRef{From: recs[0].Seq, To: recs[len(recs)-1].Seq, Segs: segs})
	next.CatalogSeq = recs[len(recs)-1].Seq
	return next, nil
}

// snapshot stores the whole catalog and an index of it, posts a root
// pointing at them alone, trims the log and drops every older blob.
func (b *Backup) snapshot(ctx context.Context, old pointer, now time.Time) error {
	snap := b.db.SnapshotCatalog()
	seq := snap.Seq
	// The blob is built in place: its header, then the catalog's sets.
	blob := encodeSnapshot(seq, nil)
	header := len(blob)
	err := snap.Scan(nil, 0, func(k, v []byte) error {
		blob = meta.AppendSet(blob, k, v)
		return nil
	})
	if cerr := snap.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: read the catalog: %w", err)
	}
	catalogBytes := len(blob) - header
	segs, err := b.blobs.StoreBlob(ctx, blob)
	if err != nil {
		return fmt.Errorf("backup: store a snapshot: %w", err)
	}
	idx, err := b.blobs.StoreBlob(ctx, encodeIndex(seq, segs))
	if err != nil {
		return fmt.Errorf("backup: store a snapshot's index: %w", err)
	}
	next := pointer{CatalogSeq: seq, Index: idx}
	if err := b.post(ctx, next, now); err != nil {
		return err
	}
	b.count(func(s *Status) { s.Snapshots++ })
	if err := b.db.TrimCatalogLog(seq); err != nil {
		return err
	}
	// Every blob but the new snapshot's is garbage now, including those
	// of steps that stored a blob and failed before their root.
	keep := map[meta.SegmentID]bool{}
	for _, s := range append(segs, idx...) {
		keep[s.ID] = true
	}
	all, err := b.db.BackupBlobs()
	if err != nil {
		return err
	}
	var drop []meta.SegmentID
	for _, id := range all {
		if !keep[id] {
			drop = append(drop, id)
		}
	}
	if len(drop) > 0 {
		if err := b.blobs.DropBlobs(drop); err != nil {
			return err
		}
	}
	b.log.InfoContext(ctx, "backup: catalog snapshot stored", "catalog_bytes", catalogBytes, "dropped_blobs", len(drop))
	return nil
}

// post signs a root record pointing at ptr, posts it to the root
// holders, and records it as the backup's state once at least one took
// it.
func (b *Backup) post(ctx context.Context, ptr pointer, now time.Time) error {
	plain := encodePointer(ptr)
	sealed, err := b.keys.Catalog.Seal(plain, rand.Reader)
	if err != nil {
		return err
	}
	b.mu.Lock()
	seq := max(b.st.RootSeq+1, uint64(now.UnixNano()))
	b.mu.Unlock()
	rec := shard.RootRecord{Seq: seq, Pointer: sealed, Time: now.Unix()}
	rec.Sign(b.keys.Signing)
	holders := b.holders(ptr)
	b.log.DebugContext(ctx, "backup: posting a root", "seq", seq, "holders", len(holders), "catalog_seq", ptr.CatalogSeq)
	var mu sync.Mutex
	var wg sync.WaitGroup
	took := 0
	var firstErr error
	for _, id := range holders {
		c := b.peers.RootClient(id)
		if c == nil {
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
			err := c.PutRoot(rctx, rec)
			cancel()
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				took++
			} else if firstErr == nil {
				firstErr = fmt.Errorf("node %s: %w", id, err)
			}
		})
	}
	wg.Wait()
	if took == 0 {
		return fmt.Errorf("backup: no root holder took the root (of %d asked; first error: %v)", len(holders), firstErr)
	}
	st := state{Pointer: plain, RootSeq: seq, RootTime: now.UnixNano(), Posted: took}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := b.db.Update(func(bt *meta.Batch) error { return bt.SetLocalValue(stateName, raw) }); err != nil {
		return err
	}
	b.mu.Lock()
	b.st, b.ptr = st, ptr
	b.mu.Unlock()
	if took < len(holders) {
		b.log.InfoContext(ctx, "backup: some root holders did not take the root", "took", took, "asked", len(holders), "first_error", firstErr)
	}
	return nil
}

// holders is where a root pointing at ptr goes: the rendezvous-chosen
// peers and the holders of the newest blob's shards, each once.
func (b *Backup) holders(ptr pointer) []shard.PublicKey {
	out := b.peers.RootHolders(b.keys.Signing.Public(), b.cfg.Holders)
	seen := make(map[shard.PublicKey]bool, len(out))
	for _, id := range out {
		seen[id] = true
	}
	for _, s := range ptr.newest() {
		for _, sh := range s.Shards {
			if id := shard.PublicKey(sh.Node); sh.Stored() && !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}
