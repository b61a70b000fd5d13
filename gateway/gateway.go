package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

var _ s3api.Backend = (*Gateway)(nil)

// Config are the gateway's settings. The zero value of every field means
// its default (see Defaults), except the booleans, Self and InlineMax.
type Config struct {
	// Params is the erasure code of new segments and the block size of
	// all: any K of a segment's N shards rebuild it. Left zero, it is 10
	// of 30 (shard.WideParams), with Fallback 3 of 5.
	Params shard.Params
	// Fallback is the code (K, N) of a new segment while fewer than
	// Params.N places (address blocks with AddressDiversity) have room
	// for its shards, if it has fewer shards than Params; zero: none, a
	// segment always gets Params. FallbackMinAcks is its MinAcks; zero:
	// as many acknowledgements beyond K as MinAcks asks, at most its N.
	Fallback        shard.Params
	FallbackMinAcks int
	SegmentSize     int64 // plaintext bytes per segment; default 16 MiB
	// Concurrency bounds the segments in flight across all uploads and
	// reads: memory is about Concurrency x SegmentSize x (1 + N/K) at
	// most (2.7 for 3 of 5, 4 for 10 of 30).
	// Default 4.
	Concurrency int
	// MinAcks is the number of shards of Params that must be
	// acknowledged for a segment to count as stored; default N.
	MinAcks int
	// Capacity is what the owner's node offers: the bytes stored on the
	// network after erasure expansion may not exceed it. <= 0: no limit.
	Capacity int64
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
	// ReleaseDelay is how long the shards of an overwritten or deleted
	// object stay on their peers, so that reads already started finish;
	// default 1 min, negative for none. Orphans of failed uploads and
	// replaced or aborted parts are released at once.
	ReleaseDelay time.Duration
	// InlineMax is the size up to which a single PUT keeps the object
	// inline, sealed in its catalog record instead of as shards on peers
	// (see the package doc); at most MaxInlineMax. Zero keeps every object
	// on peers, so Defaults leaves it alone: DefaultInlineMax is what the
	// daemon sets.
	InlineMax int64
}

// DefaultInlineMax and MaxInlineMax are the usual and the largest
// Config.InlineMax.
const (
	DefaultInlineMax = 4 << 10
	MaxInlineMax     = 64 << 10
)

// Defaults fills in the zero fields; those of the segment store are
// segstore's defaults.
func (c *Config) Defaults() {
	if c.Params.K == 0 && c.Params.N == 0 {
		wide, small := shard.WideParams(), shard.DefaultParams()
		c.Params.K, c.Params.N = wide.K, wide.N
		if c.Fallback.K == 0 && c.Fallback.N == 0 {
			c.Fallback.K, c.Fallback.N = small.K, small.N
		}
	}
	setDefault(&c.Params.BlockSize, shard.DefaultBlockSize)
	if c.Fallback.N > 0 {
		c.Fallback.BlockSize = c.Params.BlockSize
	}
	setDefault(&c.MinAcks, c.Params.N)
	sc := c.storeConfig()
	sc.Defaults()
	c.Lease, c.HedgeAfter, c.RequestTimeout = sc.Lease, sc.HedgeAfter, sc.RequestTimeout
	c.PutAttempts, c.Backoff, c.BackoffMax, c.FullHold, c.BusyMax = sc.PutAttempts, sc.Backoff, sc.BackoffMax, sc.FullHold, sc.BusyMax
	setDefault(&c.SegmentSize, 16<<20)
	setDefault(&c.Concurrency, 4)
	setDefault(&c.ReleaseDelay, time.Minute)
}

// storeConfig is the segment store's part of c.
func (c *Config) storeConfig() segstore.Config {
	return segstore.Config{Lease: c.Lease, HedgeAfter: c.HedgeAfter,
		RequestTimeout: c.RequestTimeout, AddressDiversity: c.AddressDiversity, Self: c.Self, AllowSelf: c.AllowSelf,
		PutAttempts: c.PutAttempts, Backoff: c.Backoff, BackoffMax: c.BackoffMax, FullHold: c.FullHold, BusyMax: c.BusyMax}
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// MinSegmentSize and MaxSegmentSize bound Config.SegmentSize; the lower
// bound keeps a 5 GiB part under 2^32 segments.
const (
	MinSegmentSize = 4 << 10
	MaxSegmentSize = 1 << 30
)

// Validate checks a Config after Defaults.
func (c Config) Validate() error {
	if err := c.primary().Validate(); err != nil {
		return fmt.Errorf("gateway: config: %w", err)
	}
	if c.Fallback != (shard.Params{}) {
		if err := c.Fallback.Validate(); err != nil {
			return fmt.Errorf("gateway: config: fallback: %w", err)
		}
		if f, ok := c.fallback(); ok {
			if err := f.Validate(); err != nil {
				return fmt.Errorf("gateway: config: fallback: %w", err)
			}
		}
	}
	switch {
	case c.SegmentSize < MinSegmentSize || c.SegmentSize > MaxSegmentSize:
		return fmt.Errorf("gateway: config: segment size %d not in [%d, %d]", c.SegmentSize, MinSegmentSize, MaxSegmentSize)
	case c.Concurrency < 1:
		return fmt.Errorf("gateway: config: concurrency %d < 1", c.Concurrency)
	case c.InlineMax < 0 || c.InlineMax > MaxInlineMax:
		return fmt.Errorf("gateway: config: inline max %d not in [0, %d]", c.InlineMax, MaxInlineMax)
	}
	if err := c.storeConfig().Validate(); err != nil {
		return fmt.Errorf("gateway: %w", err) // "config: ..."
	}
	return nil
}

// Gateway stores S3 objects on the network: it implements s3api.Backend
// over the catalog and the peers of its Directory. It is safe for
// concurrent use.
type Gateway struct {
	cfg     Config
	db      *meta.DB
	owner   shard.OwnerKeys
	ownerID shard.PublicKey
	dir     segstore.Directory
	log     *slog.Logger
	rand    io.Reader
	now     func() time.Time

	store *segstore.Store
	sem   *semaphore
	heavy shard.Params // Config.heaviest

	quotaMu  sync.Mutex
	reserved int64 // stored bytes promised to uploads in flight

	wake chan struct{} // pokes Run when releases were queued
	st   traffic
}

// New opens the gateway over its catalog. Journal entries left by an
// earlier run (shards of uploads that never committed) are moved to the
// release queue, which Run drains; New itself starts no background work.
func New(cfg Config, db *meta.DB, owner shard.OwnerKeys, dir segstore.Directory, log *slog.Logger) (*Gateway, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if owner.Signing.IsZero() || db == nil || dir == nil || log == nil {
		return nil, errors.New("gateway: New needs owner keys, a catalog, a directory and a logger")
	}
	g := &Gateway{
		cfg:     cfg,
		db:      db,
		owner:   owner,
		ownerID: owner.Signing.Public(),
		dir:     dir,
		log:     log,
		rand:    rand.Reader,
		now:     time.Now,
		sem:     newSemaphore(int64(cfg.Concurrency) * cfg.maxWeight()),
		heavy:   cfg.heaviest(),
		wake:    make(chan struct{}, 1),
	}
	sc := cfg.storeConfig()
	sc.Owner, sc.Directory, sc.Log = owner, dir, log
	sc.Now = func() time.Time { return g.now() }
	sc.IdleBuffers = int64(cfg.Concurrency) * cfg.maxWeight()
	var err error
	if g.store, err = segstore.New(sc); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	n, err := g.releaseOrphans()
	if err != nil {
		return nil, err
	}
	if n > 0 {
		log.Info("gateway: queued orphan shards of uploads that never committed", "shards", n)
	}
	return g, nil
}

// primary is the code of Params.
func (c *Config) primary() segstore.Code {
	return segstore.Code{Params: c.Params, MinAcks: c.MinAcks}
}

// fallback is the code of Fallback, if it is set and smaller than Params.
func (c *Config) fallback() (segstore.Code, bool) {
	f := c.Fallback
	if f.N == 0 || f.N >= c.Params.N {
		return segstore.Code{}, false
	}
	acks := c.FallbackMinAcks
	if acks == 0 {
		acks = min(f.K+c.MinAcks-c.Params.K, f.N)
	}
	return segstore.Code{Params: f, MinAcks: acks}, true
}

// MinN is the fewest shards a new segment has, after Defaults: the
// fallback's N if there is one, else Params.N. A network with fewer
// places than this stores nothing.
func (c Config) MinN() int {
	if f, ok := c.fallback(); ok {
		return f.N
	}
	return c.Params.N
}

// code returns the code of the segments of a new upload of size bytes (-1:
// unknown): Params while the directory has Params.N places with room for
// its shards, else the fallback.
func (g *Gateway) code(size int64) segstore.Code {
	c := g.cfg.primary()
	f, ok := g.cfg.fallback()
	if !ok {
		return c
	}
	plain := g.cfg.SegmentSize
	if size >= 0 {
		plain = min(plain, size)
	}
	if g.store.Groups(shard.ShardSize(c.Params, shard.SealedSize(plain, c.BlockSize))) >= c.N {
		return c
	}
	return f
}

// Code is the code the next segment of size bytes would get (see
// Config.Fallback).
func (g *Gateway) Code(size int64) shard.Params { return g.code(size).Params }

// segmentWeight is the memory one segment of plainSize bytes takes in
// flight: its plaintext and its encoded shards.
func segmentWeight(p shard.Params, plainSize int64) int64 {
	return plainSize + shard.EncodedSize(p, shard.SealedSize(plainSize, p.BlockSize))
}

// heaviest is the configured code that expands a segment most.
func (c *Config) heaviest() shard.Params {
	p := c.Params
	if f, ok := c.fallback(); ok && segmentWeight(f.Params, c.SegmentSize) > segmentWeight(p, c.SegmentSize) {
		p = f.Params
	}
	return p
}

// maxWeight is the memory of a whole segment in flight, of the code that
// expands it most.
func (c *Config) maxWeight() int64 { return segmentWeight(c.heaviest(), c.SegmentSize) }

// weight is what a segment, or a piece read, of n plaintext bytes in code
// p holds of the memory semaphore: its own memory, but no less than in
// the configured code that expands most, so that Concurrency segments
// are in flight whichever code they have (a 3 of 5 segment holds as much
// as a 10 of 30 one: more at once only crowd two cores).
func (g *Gateway) weight(p shard.Params, n int64) int64 {
	return max(segmentWeight(p, n), segmentWeight(g.heavy, n))
}

// randomBytes fills b from the gateway's randomness.
func (g *Gateway) randomBytes(b []byte) error {
	if _, err := io.ReadFull(g.rand, b); err != nil {
		return fmt.Errorf("gateway: read random bytes: %w", err)
	}
	return nil
}

// semaphore is a weighted semaphore, first come first served, bounding
// the memory of segments in flight.
type semaphore struct {
	mu      sync.Mutex
	size    int64
	cur     int64
	waiters []waiter
}

type waiter struct {
	n     int64
	ready chan struct{}
}

func newSemaphore(size int64) *semaphore { return &semaphore{size: size} }

// acquire takes n units (at most size), waiting until they are free or
// ctx ends.
func (s *semaphore) acquire(ctx context.Context, n int64) error {
	n = min(n, s.size)
	s.mu.Lock()
	if len(s.waiters) == 0 && s.cur+n <= s.size {
		s.cur += n
		s.mu.Unlock()
		return nil
	}
	w := waiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted meanwhile: give it back.
			s.cur -= n
			s.grant()
		default:
			for i, o := range s.waiters {
				if o.ready == w.ready {
					s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
					break
				}
			}
			s.grant() // a smaller waiter behind this one may fit now
		}
		s.mu.Unlock()
		return fmt.Errorf("gateway: wait for memory: %w", context.Cause(ctx))
	}
}

// release returns n units taken by acquire.
func (s *semaphore) release(n int64) {
	n = min(n, s.size)
	s.mu.Lock()
	s.cur -= n
	if s.cur < 0 {
		panic("gateway: semaphore released more than acquired")
	}
	s.grant()
	s.mu.Unlock()
}

// grant wakes the waiters at the front that fit; the caller holds mu.
func (s *semaphore) grant() {
	for len(s.waiters) > 0 && s.cur+s.waiters[0].n <= s.size {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.cur += w.n
		close(w.ready)
	}
}

// Segments is the segment store under the gateway (upkeep repairs with
// it).
func (g *Gateway) Segments() *segstore.Store { return g.store }
