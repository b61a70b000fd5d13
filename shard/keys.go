package shard

import (
	"bytes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
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

// HKDF labels (info strings) of the keys derived from a Seed.
const (
	labelSigning = "ishtar owner signing v1"
	labelWrap    = "ishtar key wrapping v1"
	labelCatalog = "ishtar catalog v1"
)

// SeedSize is the size of an owner seed in bytes.
const SeedSize = 32

// Seed is the owner's 32-byte secret; everything else derives from it. The
// zero value is not a seed: deriving keys from it panics.
type Seed struct {
	_ Incomparable
	b *[SeedSize]byte
}

// NewSeed reads a new seed from rand (crypto/rand.Reader in production).
func NewSeed(rand io.Reader) (Seed, error) {
	b := new([SeedSize]byte)
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return Seed{}, fmt.Errorf("shard: new seed: %w", err)
	}
	return Seed{b: b}, nil
}

// SeedFromBytes returns the seed of exactly SeedSize bytes (as written by
// Bytes); anything else is an error wrapping ErrMalformed.
func SeedFromBytes(b []byte) (Seed, error) {
	if len(b) != SeedSize {
		return Seed{}, fmt.Errorf("shard: seed of %d bytes, want %d: %w", len(b), SeedSize, ErrMalformed)
	}
	return Seed{b: (*[SeedSize]byte)(bytes.Clone(b))}, nil
}

func (s Seed) bytes() *[SeedSize]byte {
	if s.b == nil {
		panic("shard: use of a zero Seed")
	}
	return s.b
}

// Bytes returns a copy of the seed's bytes, for the seed file.
func (s Seed) Bytes() []byte { return bytes.Clone(s.bytes()[:]) }

// IsZero reports whether s is the zero value (no seed).
func (s Seed) IsZero() bool { return s.b == nil }

// Equal reports, in constant time, whether s and o are the same seed.
func (s Seed) Equal(o Seed) bool {
	if s.b == nil || o.b == nil {
		return s.b == o.b
	}
	return subtle.ConstantTimeCompare(s.b[:], o.b[:]) == 1
}

// OwnerKeys are derived from a Seed by HKDF-SHA256 with distinct labels.
type OwnerKeys struct {
	Signing PrivateKey // the owner's identity; Signing.Public() is the owner ID
	Wrap    WrapKey    // wraps per-object data keys
	Catalog CatalogKey // seals catalog backups
}

// Keys derives the owner's keys: each is HKDF-SHA256(seed, no salt, label)
// with its own label (see the package doc).
func (s Seed) Keys() OwnerKeys {
	seed := s.bytes()
	signing, err := PrivateKeyFromSeed(derive(seed[:], nil, labelSigning))
	if err != nil {
		panic(err) // derive returns 32 bytes
	}
	return OwnerKeys{
		Signing: signing,
		Wrap:    WrapKey{a: newXChaCha(derive(seed[:], nil, labelWrap))},
		Catalog: CatalogKey{a: newXChaCha(derive(seed[:], nil, labelCatalog))},
	}
}

// derive returns 32 bytes of HKDF-SHA256.
func derive(secret, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, secret, salt, info, 32)
	if err != nil {
		panic(fmt.Sprintf("shard: hkdf: %v", err)) // only for absurd lengths
	}
	return k
}

func newXChaCha(key []byte) cipher.AEAD {
	a, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(fmt.Sprintf("shard: xchacha20poly1305: %v", err)) // only for bad key sizes
	}
	return a
}

// DataKeySize is the size of a data key in bytes.
const DataKeySize = 32

// DataKey is a random per-object 256-bit content key. The zero value is not
// a key: using it panics.
type DataKey struct {
	_ Incomparable
	b *[DataKeySize]byte
}

// NewDataKey reads a new data key from rand.
func NewDataKey(rand io.Reader) (DataKey, error) {
	b := new([DataKeySize]byte)
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return DataKey{}, fmt.Errorf("shard: new data key: %w", err)
	}
	return DataKey{b: b}, nil
}

func (k DataKey) bytes() *[DataKeySize]byte {
	if k.b == nil {
		panic("shard: use of a zero DataKey")
	}
	return k.b
}

// IsZero reports whether k is the zero value (no key).
func (k DataKey) IsZero() bool { return k.b == nil }

// Equal reports, in constant time, whether k and o are the same key.
func (k DataKey) Equal(o DataKey) bool {
	if k.b == nil || o.b == nil {
		return k.b == o.b
	}
	return subtle.ConstantTimeCompare(k.b[:], o.b[:]) == 1
}

// Sealed-blob formats of WrapKey and CatalogKey: a version byte, a random
// 24-byte XChaCha20-Poly1305 nonce, then the ciphertext and its 16-byte tag.
// The additional data is the label followed by the version byte.
const (
	blobVersion  = 1
	blobHeader   = 1 + chacha20poly1305.NonceSizeX
	aadWrap      = "ishtar/wrapped-key/v1"
	aadCatalog   = "ishtar/catalog/v1"
	WrappedSize  = blobHeader + DataKeySize + chacha20poly1305.Overhead // length of a wrapped data key
	CatalogExtra = blobHeader + chacha20poly1305.Overhead               // CatalogKey.Seal output minus input length
)

func sealBlob(a cipher.AEAD, label string, plaintext []byte, rand io.Reader) ([]byte, error) {
	if a == nil {
		panic("shard: use of a zero key")
	}
	out := make([]byte, blobHeader, blobHeader+len(plaintext)+a.Overhead())
	out[0] = blobVersion
	if _, err := io.ReadFull(rand, out[1:blobHeader]); err != nil {
		return nil, fmt.Errorf("shard: read nonce: %w", err)
	}
	return a.Seal(out, out[1:blobHeader], plaintext, append([]byte(label), blobVersion)), nil
}

func openBlob(a cipher.AEAD, label string, sealed []byte) ([]byte, error) {
	if a == nil {
		panic("shard: use of a zero key")
	}
	if len(sealed) < blobHeader+a.Overhead() || sealed[0] != blobVersion {
		return nil, fmt.Errorf("shard: open %s: bad header or length %d: %w", label, len(sealed), ErrUnauthenticated)
	}
	pt, err := a.Open(nil, sealed[1:blobHeader], sealed[blobHeader:], append([]byte(label), blobVersion))
	if err != nil {
		return nil, fmt.Errorf("shard: open %s: %w", label, ErrUnauthenticated)
	}
	return pt, nil
}

// WrapKey wraps and unwraps data keys. The zero value is not a key: using
// it panics.
type WrapKey struct {
	_ Incomparable
	a cipher.AEAD
}

// Wrap seals dk under w with a random nonce from rand; the result is
// WrappedSize bytes (format in the package doc).
func (w WrapKey) Wrap(dk DataKey, rand io.Reader) ([]byte, error) {
	out, err := sealBlob(w.a, aadWrap, dk.bytes()[:], rand)
	if err != nil {
		return nil, fmt.Errorf("shard: wrap data key: %w", err)
	}
	return out, nil
}

// Unwrap opens a wrapped data key; any failure (wrong key, altered or
// truncated input) is an error wrapping ErrUnauthenticated.
func (w WrapKey) Unwrap(wrapped []byte) (DataKey, error) {
	if len(wrapped) != WrappedSize {
		return DataKey{}, fmt.Errorf("shard: unwrap data key: length %d: %w", len(wrapped), ErrUnauthenticated)
	}
	pt, err := openBlob(w.a, aadWrap, wrapped)
	if err != nil {
		return DataKey{}, err
	}
	return DataKey{b: (*[DataKeySize]byte)(pt)}, nil
}

// CatalogKey seals whole blobs (catalog backups, root pointers). The zero
// value is not a key: using it panics.
type CatalogKey struct {
	_ Incomparable
	a cipher.AEAD
}

// Seal encrypts plaintext with a random nonce from rand; the result is
// CatalogExtra bytes longer (format in the package doc).
func (c CatalogKey) Seal(plaintext []byte, rand io.Reader) ([]byte, error) {
	out, err := sealBlob(c.a, aadCatalog, plaintext, rand)
	if err != nil {
		return nil, fmt.Errorf("shard: seal catalog: %w", err)
	}
	return out, nil
}

// Open decrypts what Seal returned; any failure is an error wrapping
// ErrUnauthenticated.
func (c CatalogKey) Open(sealed []byte) ([]byte, error) { return openBlob(c.a, aadCatalog, sealed) }
