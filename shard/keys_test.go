package shard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func TestPrivateKey(t *testing.T) {
	k, err := GeneratePrivateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := PrivateKeyFromSeed(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	if !k.Equal(k2) || k2.Public() != k.Public() {
		t.Fatal("key from Seed differs")
	}
	other := testKey(t, 9)
	if k.Equal(other) || k.IsZero() || !(PrivateKey{}).IsZero() {
		t.Fatal("Equal/IsZero wrong")
	}
	msg := []byte("message")
	sig := k.Sign(msg)
	if !k.Public().Verify(msg, sig) {
		t.Fatal("valid signature rejected")
	}
	for name, c := range map[string]struct {
		pub      PublicKey
		msg, sig []byte
	}{
		"other key":   {other.Public(), msg, sig},
		"other msg":   {k.Public(), []byte("messagf"), sig},
		"flipped sig": {k.Public(), msg, func() []byte { s := bytes.Clone(sig); s[10] ^= 1; return s }()},
		"short sig":   {k.Public(), msg, sig[:63]},
		"no sig":      {k.Public(), msg, nil},
		"zero key":    {PublicKey{}, msg, sig},
	} {
		if c.pub.Verify(c.msg, c.sig) {
			t.Errorf("%s: signature accepted", name)
		}
	}
	if _, err := PrivateKeyFromSeed(make([]byte, 31)); !errors.Is(err, ErrMalformed) {
		t.Errorf("short seed: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("signing with a zero key did not panic")
		}
	}()
	PrivateKey{}.Sign(msg)
}
