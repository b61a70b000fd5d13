package shard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
)

// The recovery phrase is Crockford base32 of seed || SHA-256(seed)[:5]:
// 37 bytes, 60 symbols (the 4 spare bits are zero), written in 12 groups
// of 5 joined by dashes.
const (
	phraseChecksum = 5
	phraseSymbols  = 60
	phraseGroup    = 5
)

var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func phraseSum(seed []byte) [sha256.Size]byte { return sha256.Sum256(seed) }

// Phrase returns the printable recovery form of s, for example
// "7G3QX-...-M0K2A" (12 groups of 5 symbols). ParsePhrase reverses it.
func (s Seed) Phrase() string {
	b := make([]byte, 0, SeedSize+phraseChecksum)
	b = append(b, s.bytes()[:]...)
	sum := phraseSum(b)
	b = append(b, sum[:phraseChecksum]...)
	enc := crockford.EncodeToString(b)
	var sb strings.Builder
	for i := 0; i < len(enc); i += phraseGroup {
		if i > 0 {
			sb.WriteByte('-')
		}
		sb.WriteString(enc[i : i+phraseGroup])
	}
	return sb.String()
}

// ParsePhrase returns the seed of a recovery phrase. Case, dashes and
// white space do not matter, and O, I and L are read as 0, 1 and 1 (as
// Crockford base32 specifies). Any other deviation, including every
// single-symbol typo, gives an error wrapping ErrBadPhrase. Error messages
// never repeat the phrase.
func ParsePhrase(p string) (Seed, error) {
	norm := make([]byte, 0, phraseSymbols)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if len(norm) == phraseSymbols {
			return Seed{}, fmt.Errorf("shard: parse phrase: more than %d symbols: %w", phraseSymbols, ErrBadPhrase)
		}
		norm = append(norm, c)
	}
	if len(norm) != phraseSymbols {
		return Seed{}, fmt.Errorf("shard: parse phrase: %d symbols, want %d: %w", len(norm), phraseSymbols, ErrBadPhrase)
	}
	b := make([]byte, SeedSize+phraseChecksum+1)
	n, err := crockford.Decode(b, norm)
	if err != nil || n != SeedSize+phraseChecksum || crockford.EncodeToString(b[:n]) != string(norm) {
		return Seed{}, fmt.Errorf("shard: parse phrase: not Crockford base32: %w", ErrBadPhrase)
	}
	sum := phraseSum(b[:SeedSize])
	if subtle.ConstantTimeCompare(sum[:phraseChecksum], b[SeedSize:n]) != 1 {
		return Seed{}, fmt.Errorf("shard: parse phrase: checksum mismatch: %w", ErrBadPhrase)
	}
	return SeedFromBytes(b[:SeedSize])
}
