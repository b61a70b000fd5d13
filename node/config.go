package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"ishtar/node/peers"
	"ishtar/shard"
)

// Bounds of Config.InlineMax. An inline shard is buffered whole while it
// is received and is one catalog value.
const (
	DefaultInlineMax = 64 << 10
	MaxInline        = 1 << 20
)

// Bounds of Config.LeaseGrace.
const (
	DefaultLeaseGrace = 7 * 24 * time.Hour
	MaxLeaseGrace     = 400 * 24 * time.Hour
)

// Config configures a Server. Zero fields take the values of Defaults.
type Config struct {
	Key      shard.PrivateKey // the node key; its public key is the node ID
	Address  string           // public base URL announced to peers, e.g. "http://203.0.113.5:7070"
	Capacity int64            // bytes of shards this node offers to hold
	Version  string           // software version announced in the node record
	// Owner is the owner standing behind the node, and OwnerSig its
	// link signature over the node ID (shard.SignOwnerLink); both zero:
	// the node is its own owner. Shards stored for Owner are not counted
	// against any credit (see Credit).
	Owner    shard.PublicKey
	OwnerSig []byte
	// Credit is the fair exchange rule applied to other owners' shards.
	Credit Credit
	// Delegate lets a full node forward shards to its peers.
	Delegate Delegate

	// ClockWindow bounds how far a request's timestamp, or a grant's, may
	// be from this node's clock; nonces are remembered for as long.
	ClockWindow time.Duration
	// MaxNonces bounds the remembered nonces; beyond it requests are
	// refused with ErrBusy until old ones leave the window.
	MaxNonces int
	// MaxShardSize bounds a stored shard (a 64 MiB segment's shard plus
	// AEAD overhead fits the default).
	MaxShardSize int64
	// MaxJSONBody bounds every body that is not a shard.
	MaxJSONBody int64
	// MaxHeaderBytes bounds the request header (http.Server.MaxHeaderBytes).
	MaxHeaderBytes int
	// MaxLease bounds how far in the future a lease may expire.
	MaxLease time.Duration
	// LeaseGrace is how long a holding is kept after its lease expired
	// (default 7 days): within it the owner may still renew it; past it
	// Server.Maintain deletes the holding, and the shard's bytes with its
	// last holding; at least 1 s (tests), Maintain then runs every
	// quarter of it. (Setting: node.lease_grace.)
	LeaseGrace time.Duration
	// LeafSize is the Merkle leaf size of shard IDs.
	LeafSize int
	// InlineMax is the largest shard kept in the catalog rather than in
	// the Store given to NewServer (see InlineStore), at most MaxInline.
	// Negative: no new shard is kept in the catalog; those already there
	// are still served.
	InlineMax int64
	// RequestTimeout is the deadline of a request without a shard body.
	// A shard body may start slowly for RequestTimeout, and must then keep
	// up MinRate bytes per second on average, or it is cut; answers with
	// shard bytes get RequestTimeout plus their size at MinRate.
	RequestTimeout time.Duration
	MinRate        int64 // bytes per second
	// Limits bound what callers can make the node hold at once.
	Limits Limits
	// ForeignRoots bound the root records kept for owners the node holds
	// no shard for, and how long they are kept.
	ForeignRoots ForeignRootLimits
	// Registry, if set, is the peer registry behind peer exchange
	// (GET and POST /v1/peers); nil: the node hands out no records and
	// keeps none.
	Registry *peers.Registry
	// Operator, if set, answers the node operator's queries, GET
	// /v1/op/{name}?query, signed by the node's own key (`ishtar status`):
	// a value written as JSON, or an error (a *Error keeps its code;
	// return ErrNotFound for an unknown name).
	Operator func(ctx context.Context, name string, q url.Values) (any, error)
	// AllowAnonymousReads lets unsigned GETs through (info, peers, shards,
	// proofs, roots). Signed requests are still verified.
	AllowAnonymousReads bool

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults fills the zero fields of c with their default values.
func (c *Config) Defaults() {
	setDefault(&c.Version, "dev")
	setDefault(&c.ClockWindow, 10*time.Minute)
	setDefault(&c.MaxNonces, 1<<20)
	setDefault(&c.MaxShardSize, 64<<20+4<<20)
	setDefault(&c.MaxJSONBody, 1<<20)
	setDefault(&c.MaxHeaderBytes, 16<<10)
	setDefault(&c.MaxLease, 400*24*time.Hour)
	setDefault(&c.LeaseGrace, DefaultLeaseGrace)
	setDefault(&c.LeafSize, shard.DefaultBlockSize)
	setDefault(&c.InlineMax, DefaultInlineMax)
	setDefault(&c.RequestTimeout, 30*time.Second)
	setDefault(&c.MinRate, 1<<20)
	c.Limits.defaults()
	c.ForeignRoots.defaults()
	c.Credit.defaults()
	c.Delegate.defaults()
	if c.Now == nil {
		c.Now = time.Now
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first invalid field of c (after Defaults).
func (c *Config) Validate() error {
	var err error
	switch {
	case c.Key.IsZero():
		err = errors.New("no node key")
	case c.Address == "" || len(c.Address) > shard.MaxAddressLen:
		err = fmt.Errorf("address %q empty or longer than %d bytes", c.Address, shard.MaxAddressLen)
	case len(c.Version) > shard.MaxVersionLen:
		err = fmt.Errorf("version longer than %d bytes", shard.MaxVersionLen)
	case c.Capacity < 0:
		err = fmt.Errorf("negative capacity %d", c.Capacity)
	case c.ClockWindow <= 0 || c.MaxNonces <= 0 || c.MaxLease <= 0:
		err = errors.New("clock window, nonce bound and lease bound must be positive")
	case c.LeaseGrace < time.Second || c.LeaseGrace > MaxLeaseGrace:
		err = fmt.Errorf("lease grace %v outside [1s, %v]", c.LeaseGrace, MaxLeaseGrace)
	case c.MaxShardSize <= 0 || c.MaxJSONBody <= 0 || c.MaxHeaderBytes <= 0:
		err = errors.New("size limits must be positive")
	case c.LeafSize <= 0:
		err = fmt.Errorf("leaf size %d", c.LeafSize)
	case c.InlineMax > MaxInline:
		err = fmt.Errorf("inline maximum %d above %d", c.InlineMax, MaxInline)
	case c.RequestTimeout <= 0 || c.MinRate <= 0:
		err = errors.New("request timeout and minimum rate must be positive")
	case !c.Owner.IsZero() && shard.VerifyOwnerLink(c.Owner, c.Key.Public(), c.OwnerSig) != nil:
		err = errors.New("the owner link does not verify for the node key")
	default:
		if err = c.Limits.validate(); err == nil {
			if err = c.ForeignRoots.validate(); err == nil {
				err = c.Credit.validate()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("node: config: %w", err)
	}
	return nil
}
