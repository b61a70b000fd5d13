package shard

import (
	"crypto/ed25519"
	"crypto/subtle"
	"fmt"
	"io"
)

// Incomparable, embedded in secret types, makes == a compile error, so
// secrets are only compared with their constant-time Equal methods.
type Incomparable [0]func()

// PublicKey is an ed25519 public key: node IDs and owner IDs are public
// keys. Its text form is 64 lowercase hex digits, the only form
// ParsePublicKey accepts.
type PublicKey [32]byte

// String returns the 64 lowercase hex digits of k.
func (k PublicKey) String() string { return ID(k).String() }

// ParsePublicKey parses exactly 64 lowercase hex digits; anything else is
// an error wrapping ErrMalformed.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if err := parseHex32((*[32]byte)(&k), s); err != nil {
		return PublicKey{}, fmt.Errorf("shard: parse public key %.80q: %w", s, err)
	}
	return k, nil
}

// MarshalText returns the hex form of k.
func (k PublicKey) MarshalText() ([]byte, error) { return hexText(k), nil }

// UnmarshalText parses the hex form of a public key (see ParsePublicKey).
func (k *PublicKey) UnmarshalText(b []byte) error {
	v, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// IsZero reports whether k is the all-zero value (no key).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// Verify reports whether sig is k's valid ed25519 signature of msg.
func (k PublicKey) Verify(msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k[:], msg, sig)
}

// PrivateKey is an ed25519 signing key. The zero value is not a key: using
// it panics.
type PrivateKey struct {
	_    Incomparable
	priv ed25519.PrivateKey
}

// GeneratePrivateKey makes a new key from 32 bytes of rand.
func GeneratePrivateKey(rand io.Reader) (PrivateKey, error) {
	var seed [ed25519.SeedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("shard: generate private key: %w", err)
	}
	return PrivateKeyFromSeed(seed[:])
}

// PrivateKeyFromSeed returns the key of a 32-byte ed25519 seed (RFC 8032),
// as written by Seed.
func PrivateKeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return PrivateKey{}, fmt.Errorf("shard: private key seed of %d bytes, want %d: %w",
			len(seed), ed25519.SeedSize, ErrMalformed)
	}
	return PrivateKey{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

func (k PrivateKey) key() ed25519.PrivateKey {
	if k.priv == nil {
		panic("shard: use of a zero PrivateKey")
	}
	return k.priv
}

// Seed returns a copy of the 32-byte ed25519 seed, for key files.
func (k PrivateKey) Seed() []byte { return k.key().Seed() }

// Public returns the public key of k.
func (k PrivateKey) Public() PublicKey { return PublicKey(k.key()[32:]) }

// Sign returns the ed25519 signature of msg.
func (k PrivateKey) Sign(msg []byte) []byte { return ed25519.Sign(k.key(), msg) }

// IsZero reports whether k is the zero value (no key).
func (k PrivateKey) IsZero() bool { return k.priv == nil }

// Equal reports, in constant time, whether k and o are the same key.
func (k PrivateKey) Equal(o PrivateKey) bool {
	return subtle.ConstantTimeCompare(k.priv, o.priv) == 1
}
