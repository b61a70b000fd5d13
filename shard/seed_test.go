package shard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func testSeed(t testing.TB, b byte) Seed {
	t.Helper()
	s, err := SeedFromBytes(bytesOf(b, SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSeedBytes(t *testing.T) {
	s, err := NewSeed(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := s.Bytes()
	s2, err := SeedFromBytes(b)
	if err != nil || !s.Equal(s2) {
		t.Fatalf("SeedFromBytes(Bytes) = %v, equal %v", err, s.Equal(s2))
	}
	b[0] ^= 1 // Bytes is a copy
	if !s.Equal(s2) || s.Equal(testSeed(t, 1)) || s.Equal(Seed{}) || !(Seed{}).Equal(Seed{}) {
		t.Fatal("Equal wrong")
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := SeedFromBytes(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("seed of %d bytes: %v", n, err)
		}
	}
	if _, err := NewSeed(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("NewSeed from a short reader succeeded")
	}
}

func TestPhraseRoundTrip(t *testing.T) {
	for i := range 50 {
		s, err := NewSeed(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			s = testSeed(t, 0)
		}
		p := s.Phrase()
		if len(p) != 71 || strings.Count(p, "-") != 11 {
			t.Fatalf("phrase %q: want 12 groups of 5", p)
		}
		variants := []string{
			p,
			strings.ToLower(p),
			strings.ReplaceAll(p, "-", ""),
			strings.ReplaceAll(p, "-", " "),
			"  " + strings.ReplaceAll(p, "-", "\n") + "\n",
			strings.NewReplacer("0", "O", "1", "l").Replace(p),
			strings.NewReplacer("0", "o", "1", "I").Replace(p),
		}
		for _, v := range variants {
			got, err := ParsePhrase(v)
			if err != nil || !got.Equal(s) {
				t.Fatalf("ParsePhrase(%q) = %v, equal %v", v, err, got.Equal(s))
			}
		}
	}
}

// TestPhraseTypos replays every single-symbol substitution, every adjacent
// transposition, every deletion and some insertions and checks that none
// parses.
func TestPhraseTypos(t *testing.T) {
	s := testSeed(t, 0x5a)
	norm := strings.ReplaceAll(s.Phrase(), "-", "")
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	reject := func(what, p string) {
		t.Helper()
		if _, err := ParsePhrase(p); !errors.Is(err, ErrBadPhrase) {
			t.Fatalf("%s: ParsePhrase(%q) = %v, want ErrBadPhrase", what, p, err)
		} else if strings.Contains(err.Error(), norm[:10]) {
			t.Fatalf("error repeats the phrase: %v", err)
		}
	}
	for i := range len(norm) {
		for _, c := range []byte(alphabet + "U*") {
			if c != norm[i] {
				reject("substitution", norm[:i]+string(c)+norm[i+1:])
			}
		}
		if i+1 < len(norm) && norm[i] != norm[i+1] {
			reject("transposition", norm[:i]+norm[i+1:i+2]+norm[i:i+1]+norm[i+2:])
		}
		reject("deletion", norm[:i]+norm[i+1:])
		reject("insertion", norm[:i]+"7"+norm[i:])
	}
	reject("empty", "")
	reject("doubled", norm+norm)
	reject("non-ascii", norm[:59]+"é")
}

func TestOwnerKeys(t *testing.T) {
	a, b := testSeed(t, 1).Keys(), testSeed(t, 2).Keys()
	a2 := testSeed(t, 1).Keys()
	if !a.Signing.Equal(a2.Signing) || a.Signing.Equal(b.Signing) {
		t.Fatal("derivation is not deterministic or not seed-dependent")
	}
	if a.Signing.Public() == PublicKey(bytesOf(1, 32)) {
		t.Fatal("signing key equals the seed")
	}
	// The three keys are distinct: a blob of one does not open with another.
	dk, _ := NewDataKey(rand.Reader)
	w, err := a.Wrap.Wrap(dk, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Wrap.Unwrap(w); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("other owner's wrap key: %v", err)
	}
	if _, err := a.Catalog.Open(w); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("catalog key opened a wrapped key: %v", err)
	}
	got, err := a2.Wrap.Unwrap(w)
	if err != nil || !got.Equal(dk) {
		t.Fatalf("Unwrap with re-derived key: %v", err)
	}
}

func TestWrapTamper(t *testing.T) {
	k := testSeed(t, 3).Keys().Wrap
	dk, _ := NewDataKey(rand.Reader)
	w, err := k.Wrap(dk, rand.Reader)
	if err != nil || len(w) != WrappedSize {
		t.Fatalf("Wrap: %d bytes, %v", len(w), err)
	}
	w2, _ := k.Wrap(dk, rand.Reader)
	if bytes.Equal(w, w2) {
		t.Fatal("two wraps are equal: nonce not random")
	}
	for i := range len(w) * 8 {
		b := bytes.Clone(w)
		b[i/8] ^= 1 << (i % 8)
		if _, err := k.Unwrap(b); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	for _, b := range [][]byte{nil, w[:1], w[:len(w)-1], append(bytes.Clone(w), 0)} {
		if _, err := k.Unwrap(b); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("length %d: %v", len(b), err)
		}
	}
	// Same key, other label: the additional data separates the formats.
	if _, err := (CatalogKey{a: k.a}).Open(w); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("wrapped key opened as a catalog blob: %v", err)
	}
	if _, err := k.Wrap(dk, bytes.NewReader(nil)); err == nil {
		t.Fatal("Wrap with a failing random source succeeded")
	}
}

func TestCatalogSealOpen(t *testing.T) {
	k := testSeed(t, 4).Keys().Catalog
	for _, n := range []int{0, 1, 1000, 1 << 20} {
		pt := testBytes(uint64(n), n)
		sealed, err := k.Seal(pt, rand.Reader)
		if err != nil || len(sealed) != n+CatalogExtra {
			t.Fatalf("Seal %d: %d bytes, %v", n, len(sealed), err)
		}
		got, err := k.Open(sealed)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open %d: %v", n, err)
		}
		for _, bad := range [][]byte{
			sealed[:len(sealed)-1],
			append(bytes.Clone(sealed), 0),
			func() []byte { b := bytes.Clone(sealed); b[len(b)/2] ^= 0x80; return b }(),
			func() []byte { b := bytes.Clone(sealed); b[0] = 2; return b }(),
			sealed[:CatalogExtra-1],
		} {
			if _, err := k.Open(bad); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("tampered blob of %d: %v", n, err)
			}
		}
		if _, err := testSeed(t, 5).Keys().Catalog.Open(sealed); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("wrong key: %v", err)
		}
	}
}

func TestZeroKeysPanic(t *testing.T) {
	cases := map[string]func(){
		"Seed.Keys":       func() { Seed{}.Keys() },
		"Seed.Phrase":     func() { _ = Seed{}.Phrase() },
		"WrapKey.Wrap":    func() { WrapKey{}.Wrap(testDataKey(t), rand.Reader) },
		"Wrap zero data":  func() { testSeed(t, 1).Keys().Wrap.Wrap(DataKey{}, rand.Reader) },
		"WrapKey.Unwrap":  func() { WrapKey{}.Unwrap(make([]byte, WrappedSize)) },
		"CatalogKey.Seal": func() { CatalogKey{}.Seal(nil, rand.Reader) },
		"CatalogKey.Open": func() { CatalogKey{}.Open(make([]byte, 100)) },
		"SegmentCipher":   func() { NewSegmentCipher(DataKey{}, SegmentContext{}, 16) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a zero key did not panic", name)
				}
			}()
			f()
		}()
	}
}

func testDataKey(t testing.TB) DataKey {
	t.Helper()
	dk, err := NewDataKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dk
}
