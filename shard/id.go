package shard

import (
	"encoding/hex"
	"errors"
	"fmt"
)

// Sentinel errors for bad data. Misuse (invalid Params, zero keys, negative
// sizes from the caller) panics instead.
var (
	ErrCorrupt         = errors.New("shard: data does not match its ID")
	ErrUnauthenticated = errors.New("shard: message authentication failed")
	ErrTooFewShards    = errors.New("shard: too few shards to reconstruct")
	ErrBadSignature    = errors.New("shard: bad signature")
	ErrMalformed       = errors.New("shard: malformed encoding")
	ErrBadPhrase       = errors.New("shard: recovery phrase is mistyped or incomplete")
)

// DefaultBlockSize is both the AEAD plaintext block and the Merkle leaf size.
const DefaultBlockSize = 64 << 10

// ID is a shard's Merkle root (see the package doc). Its text form is 64
// lowercase hex digits, the only form ParseID accepts.
type ID [32]byte

// String returns the 64 lowercase hex digits of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ParseID parses exactly 64 lowercase hex digits; anything else is an error
// wrapping ErrMalformed.
func ParseID(s string) (ID, error) {
	var id ID
	if err := parseHex32((*[32]byte)(&id), s); err != nil {
		return ID{}, fmt.Errorf("shard: parse id %.80q: %w", s, err)
	}
	return id, nil
}

// MarshalText returns the hex form of id.
func (id ID) MarshalText() ([]byte, error) { return hexText(id), nil }

// UnmarshalText parses the hex form of an ID (see ParseID).
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// IsZero reports whether id is the all-zero value (no ID).
func (id ID) IsZero() bool { return id == ID{} }

// parseHex32 decodes exactly 64 lowercase hex digits into dst. It accepts
// one canonical form only, so that equal values have equal text.
func parseHex32(dst *[32]byte, s string) error {
	if len(s) != 64 {
		return fmt.Errorf("%w: want 64 hex digits, got %d characters", ErrMalformed, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w: not a lowercase hex digit at %d", ErrMalformed, i)
		}
	}
	_, err := hex.Decode(dst[:], []byte(s))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

func hexText(b [32]byte) []byte {
	out := make([]byte, 64)
	hex.Encode(out, b[:])
	return out
}
