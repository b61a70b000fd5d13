package segstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"ishtar/shard"
)

// Config are the store's settings. The zero value of every field means
// its default (see Defaults), except the booleans, Self and the fields
// New requires (Owner, Directory, Log).
type Config struct {
	Owner     shard.OwnerKeys // signs grants, unwraps segment keys
	Directory Directory       // the storage peers
	Log       *slog.Logger
	// Now is the store's clock; default time.Now.
	Now func() time.Time

	// Lease is the lease length put in store grants; default 90 days.
	Lease time.Duration
	// HedgeAfter is how late a data shard may be before parity is fetched
	// in its place; default 250 ms.
	HedgeAfter time.Duration
	// RequestTimeout bounds each shard request; default 30 s.
	RequestTimeout time.Duration
	// AddressDiversity puts no two shards of a segment in one /24 (IPv4)
	// or /64 (IPv6), or on one host name. Off for loopback devnets.
	AddressDiversity bool
	// Self is the owner's own node, never used for placement unless
	// AllowSelf.
	Self      shard.PublicKey
	AllowSelf bool
	// PutAttempts is the number of attempts at storing one shard (on the
	// next-best peer each, or again on a busy one when no other is left)
	// before the segment gives up on it; default 3.
	PutAttempts int
	// Backoff is how long a peer that failed (unreachable, timed out,
	// 5xx) comes after the others, doubling with each consecutive failure
	// up to BackoffMax; any good answer of the peer, or a newer record of
	// it in the directory, ends it. Defaults 1 s and 5 min.
	Backoff, BackoffMax time.Duration
	// FullHold is how long a peer that refused a shard as full gets no
	// shard that large (while others can take it), unless the directory
	// shows a newer record of it first; default 30 s.
	FullHold time.Duration
	// BusyMax caps how long a busy peer (503 busy, 429) is set aside: its
	// Retry-After hint, else 1 s, at most BusyMax; default 5 s.
	BusyMax time.Duration
	// IdleBuffers is how many bytes of idle large buffers the store keeps
	// for reuse (see Buffer); 0 keeps none.
	IdleBuffers int64
}

// Defaults fills in the zero fields.
func (c *Config) Defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	setDefault(&c.Lease, 90*24*time.Hour)
	setDefault(&c.HedgeAfter, 250*time.Millisecond)
	setDefault(&c.RequestTimeout, 30*time.Second)
	setDefault(&c.PutAttempts, 3)
	setDefault(&c.Backoff, time.Second)
	setDefault(&c.BackoffMax, 5*time.Minute)
	setDefault(&c.FullHold, 30*time.Second)
	setDefault(&c.BusyMax, 5*time.Second)
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate checks a Config after Defaults; its messages begin with
// "config:", for the caller to name its part.
func (c Config) Validate() error {
	switch {
	case c.Lease <= 0 || c.HedgeAfter <= 0 || c.RequestTimeout <= 0 || c.Backoff <= 0 || c.BackoffMax < c.Backoff ||
		c.FullHold <= 0 || c.BusyMax <= 0:
		return fmt.Errorf("config: durations must be positive (backoff max >= backoff)")
	case c.PutAttempts < 1:
		return fmt.Errorf("config: put attempts %d < 1", c.PutAttempts)
	}
	return nil
}

// Store keeps segments on the storage peers of its Directory: it places,
// stores, fetches, verifies, rebuilds and releases their shards, and
// tracks what each peer's answers said. It is safe for concurrent use.
type Store struct {
	cfg    Config
	health *peerHealth
	bufs   *bufPool
	st     traffic
}

// New returns a store; it starts no background work.
func New(cfg Config) (*Store, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("segstore: %w", err)
	}
	if cfg.Owner.Signing.IsZero() || cfg.Directory == nil || cfg.Log == nil {
		return nil, errors.New("segstore: New needs owner keys, a directory and a logger")
	}
	s := &Store{cfg: cfg, bufs: newBufPool(cfg.IdleBuffers)}
	s.health = newPeerHealth(healthConfig{backoff: cfg.Backoff, backoffMax: cfg.BackoffMax,
		fullHold: cfg.FullHold, busyMax: cfg.BusyMax}, cfg.Now, cfg.Log)
	return s, nil
}

// Buffer returns a buffer of length n, its contents undefined, from the
// store's pool of large buffers; give it back with PutBuffer.
func (s *Store) Buffer(n int) []byte { return s.bufs.get(n) }

// PutBuffer recycles a buffer of Buffer (or of ReadRange); b must not be
// used afterwards.
func (s *Store) PutBuffer(b []byte) { s.bufs.put(b) }

// MappedBytes is the memory of the large buffers in use or idle that live
// outside the Go heap.
func (s *Store) MappedBytes() int64 { return s.bufs.mapped.Load() }

// traffic counts what the store did since it started.
type traffic struct {
	shardsOut, shardsIn atomic.Int64 // shard requests that succeeded
	hedges              atomic.Int64 // reads that went to parity for a late data shard
	reconstructions     atomic.Int64 // segment ranges rebuilt by Reed-Solomon
	aeadFailures        atomic.Int64 // reads whose data-shard bytes failed authentication
	released            atomic.Int64 // shards released on their peers
}

// Stats counts what the store did since it started.
type Stats struct {
	ShardsStored, ShardsRead int64 // shard requests that succeeded
	Hedges                   int64 // reads that went to parity for a late data shard
	Reconstructions          int64 // segment ranges rebuilt by Reed-Solomon
	AuthFailures             int64 // reads whose data-shard bytes failed authentication
	Released                 int64 // shards released on their peers
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{ShardsStored: s.st.shardsOut.Load(), ShardsRead: s.st.shardsIn.Load(),
		Hedges: s.st.hedges.Load(), Reconstructions: s.st.reconstructions.Load(),
		AuthFailures: s.st.aeadFailures.Load(), Released: s.st.released.Load()}
}

// PeerStats is the store's view of one peer (see peerHealth).
type PeerStats struct {
	ID           shard.PublicKey
	Addr         string
	Free         int64
	Failures     int       // consecutive (unreachable)
	BackoffUntil time.Time // zero if not backed off
	BusyUntil    time.Time // zero if not set aside as busy
	FullUntil    time.Time // zero if not refusing shards as full
	Room         int64     // while full: bytes free at most
	Reputation   float64   // 1 for a peer never caught lying, less for one that was
	LastOK       time.Time
	LastError    string
	OK, Failed   int64 // requests answered, failed
	Refused      int64 // requests refused as full or busy
	Lies         int64 // answers found false
}

// PeerStats returns what the store knows of p.
func (s *Store) PeerStats(p PeerInfo) PeerStats {
	ps := PeerStats{ID: p.ID, Addr: p.Addr, Free: p.Free}
	s.health.stats(p, &ps)
	return ps
}

// Peer health verdicts, for audits and repair (and tests): see peerHealth.

// Observe records what one request to p made under ctx said about p: err
// is its outcome, stored the size of the shard it was asked to store (0
// for any other request). The store records its own requests itself.
func (s *Store) Observe(ctx context.Context, p PeerInfo, stored int64, err error) {
	s.observe(ctx, p, stored, err)
}

// Lied records that an answer of peer id was found false after the fact
// (a shard that does not match its ID, a failed audit).
func (s *Store) Lied(id shard.PublicKey, err error) {
	s.health.lied(id, err)
	if obs, ok := s.cfg.Directory.(PeerObserver); ok {
		obs.Lied(id) // the registry's reputation too
	}
}

// Standing returns how fit p is now for a shard of size bytes (0: for a
// read or a delete).
func (s *Store) Standing(p PeerInfo, size int64) Standing { return s.health.standing(p, size) }

// Avoid reports whether reads and deletes should go to p only when no
// other peer will do: it is in back-off or busy.
func (s *Store) Avoid(p PeerInfo) bool { return s.health.avoid(p) }

// Reputation returns a weight in (0, 1]: 1 for a peer that never lied,
// less for one caught lying lately.
func (s *Store) Reputation(id shard.PublicKey) float64 { return s.health.reputation(id) }
