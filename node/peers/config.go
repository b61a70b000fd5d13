package peers

import (
	"errors"
	"fmt"
	"time"

	"ishtar/shard"
)

// Defaults of Config.
const (
	DefaultMaxNew            = 81920
	DefaultMaxTried          = 20480
	DefaultNewPerSource      = 512
	DefaultPerBlock          = 64
	DefaultPlaceablePerBlock = 4
	DefaultTTL               = 24 * time.Hour
	DefaultClockWindow       = 10 * time.Minute
)

// Config bounds a Registry. Zero fields take their defaults (Defaults).
type Config struct {
	// Self is this node's key: its own record is refused.
	Self shard.PublicKey
	// MaxNew and MaxTried bound the two tables.
	MaxNew, MaxTried int
	// NewPerSource bounds the entries of "new" first heard of from one
	// source (the address block that sent them).
	NewPerSource int
	// PerBlock bounds the entries (new and tried) advertising an address
	// in one address block (AddressBlock).
	PerBlock int
	// PlaceablePerBlock is how many tried entries of one address block
	// are placeable, the best by history. Negative: no limit (loopback
	// and LAN networks, where every peer is in one block).
	PlaceablePerBlock int
	// TTL is how long a record lasts after its node signed it.
	TTL time.Duration
	// ClockWindow is how far ahead of the clock a record may be signed.
	ClockWindow time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time
}

// Defaults sets every zero field to its default.
func (c *Config) Defaults() {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.MaxNew, DefaultMaxNew)
	setInt(&c.MaxTried, DefaultMaxTried)
	setInt(&c.NewPerSource, DefaultNewPerSource)
	setInt(&c.PerBlock, DefaultPerBlock)
	setInt(&c.PlaceablePerBlock, DefaultPlaceablePerBlock)
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.ClockWindow == 0 {
		c.ClockWindow = DefaultClockWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration the registry cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Self.IsZero():
		return errors.New("peers: config: no self key")
	case c.MaxNew <= 0 || c.MaxTried <= 0:
		return fmt.Errorf("peers: config: table bounds %d new, %d tried must be positive", c.MaxNew, c.MaxTried)
	case c.NewPerSource <= 0 || c.PerBlock <= 0:
		return fmt.Errorf("peers: config: per-source %d and per-block %d bounds must be positive", c.NewPerSource, c.PerBlock)
	case c.PlaceablePerBlock == 0:
		return errors.New("peers: config: placeable per block is 0 (negative means no limit)")
	case c.TTL <= 0 || c.ClockWindow < 0:
		return fmt.Errorf("peers: config: TTL %v must be positive and clock window %v not negative", c.TTL, c.ClockWindow)
	case c.Now == nil:
		return errors.New("peers: config: no clock")
	}
	return nil
}

// Reason is why a record was refused.
type Reason uint8

// The reasons a record is refused.
const (
	Malformed    Reason = iota // fields out of bounds (shard.ErrMalformed) or no http(s) address
	BadSignature               // unsigned or forged (shard.ErrBadSignature)
	Expired                    // signed more than TTL ago
	Future                     // signed more than ClockWindow ahead
	Stale                      // Seq not above the known one
	Self                       // this node's own record
	SourceFull                 // its source has NewPerSource entries in "new", none terrible
	BlockFull                  // its address block has PerBlock entries, none it may replace
	NewFull                    // "new" holds MaxNew entries, none terrible
	TriedFull                  // (Verified) "tried" holds MaxTried entries, none evictable
	numReasons
)

var reasonNames = [numReasons]string{
	"malformed", "bad_signature", "expired", "future", "stale", "self",
	"source_full", "block_full", "new_full", "tried_full",
}

// String returns the reason's name, as in Stats.Refused.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// ErrRefused is wrapped by every refusal (a *RefusedError).
var ErrRefused = errors.New("peers: record refused")

// ErrClosed is returned once the registry is closed.
var ErrClosed = errors.New("peers: registry closed")

// RefusedError is a refused record.
type RefusedError struct {
	Node   shard.PublicKey
	Reason Reason
	Err    error // the verification error, for Malformed and BadSignature
}

func (e *RefusedError) Error() string {
	s := fmt.Sprintf("peers: record of %s refused: %s", e.Node, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Unwrap returns the verification error, if any.
func (e *RefusedError) Unwrap() error { return e.Err }
