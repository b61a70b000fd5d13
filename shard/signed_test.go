package shard

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testKey returns a deterministic signing key.
func testKey(t testing.TB, b byte) PrivateKey {
	t.Helper()
	k, err := PrivateKeyFromSeed(bytesOf(b, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string([]byte{b}), n)) }

type signedMsg interface {
	Sign(PrivateKey)
	Verify() error
}

// testMessages returns one valid, unsigned message of each kind, with every
// field set. signer names the field Sign fills in.
func testMessages() []struct {
	msg    signedMsg
	signer string
} {
	id := ID(bytesOf(0xa1, 32))
	return []struct {
		msg    signedMsg
		signer string
	}{
		{&NodeRecord{Address: "http://127.0.0.1:7000", Capacity: 1 << 40, Free: 1 << 39, Version: "ishtar/0.1", Seq: 7, Time: 1700000000}, "Node"},
		{&Grant{Op: OpStore, Shard: id, Size: 5 << 20, LeaseExpiry: 1800000000, Time: 1700000000123456789}, "Owner"},
		{&Receipt{Shard: id, Size: 5 << 20, Owner: PublicKey(bytesOf(0xb2, 32)), Holder: PublicKey(bytesOf(0xc3, 32)), LeaseExpiry: 1800000000, Time: 1700000001}, "Node"},
		{&RootRecord{Seq: 42, Pointer: []byte("sealed catalog pointer"), Time: 1700000002}, "Owner"},
		{&RenewBatch{Node: PublicKey(bytesOf(0xc3, 32)), LeaseExpiry: 1800000000, Time: 1700000003123456789,
			Shards: []ID{id, ID(bytesOf(0xb2, 32))}}, "Owner"},
	}
}

// mutate changes one field of a message to another valid value.
func mutate(f reflect.Value) {
	switch f.Kind() {
	case reflect.String:
		f.SetString(f.String() + "x")
	case reflect.Int64:
		f.SetInt(f.Int() + 1)
	case reflect.Uint64, reflect.Uint8:
		f.SetUint(f.Uint()%2 + 1) // 1 <-> 2 keeps a GrantOp valid
	case reflect.Array:
		f.Index(0).SetUint(f.Index(0).Uint() ^ 1)
	case reflect.Slice:
		if f.Type().Elem().Kind() == reflect.Array { // shard IDs: stay sorted
			e := f.Index(0).Index(0)
			e.SetUint(e.Uint() ^ 1)
			return
		}
		f.SetBytes(append(f.Bytes(), 0))
	default:
		panic("unhandled kind " + f.Kind().String())
	}
}

func TestSignedMessages(t *testing.T) {
	key, other := testKey(t, 1), testKey(t, 2)
	for _, tc := range testMessages() {
		typ := reflect.TypeOf(tc.msg).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			tc.msg.Sign(key)
			v := reflect.ValueOf(tc.msg).Elem()
			if got := PublicKey(v.FieldByName(tc.signer).Interface().(PublicKey)); got != key.Public() {
				t.Fatalf("Sign set %s to %s, want %s", tc.signer, got, key.Public())
			}
			if err := tc.msg.Verify(); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			// JSON round trip keeps it valid.
			b, err := json.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(typ).Interface().(signedMsg)
			if err := json.Unmarshal(b, back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tc.msg) || back.Verify() != nil {
				t.Fatalf("JSON round trip: %+v, verify %v", back, back.Verify())
			}
			// Every field but Sig is covered.
			for i := range typ.NumField() {
				name := typ.Field(i).Name
				m := reflect.New(typ)
				m.Elem().Set(v)
				mutate(m.Elem().Field(i))
				err := m.Interface().(signedMsg).Verify()
				if name == "Sig" {
					if !errors.Is(err, ErrBadSignature) {
						t.Errorf("longer Sig: %v, want ErrBadSignature", err)
					}
					continue
				}
				if !errors.Is(err, ErrBadSignature) {
					t.Errorf("changed %s after signing: Verify = %v, want ErrBadSignature", name, err)
				}
			}
			// Signed by someone else than the named signer.
			m := reflect.New(typ)
			m.Elem().Set(v)
			m.Elem().FieldByName(tc.signer).Set(reflect.ValueOf(other.Public()))
			if err := m.Interface().(signedMsg).Verify(); !errors.Is(err, ErrBadSignature) {
				t.Errorf("wrong signer: %v, want ErrBadSignature", err)
			}
			// No signature.
			m.Elem().Set(v)
			m.Elem().FieldByName("Sig").SetBytes(nil)
			if err := m.Interface().(signedMsg).Verify(); !errors.Is(err, ErrBadSignature) {
				t.Errorf("no signature: %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSignedMalformed(t *testing.T) {
	key := testKey(t, 1)
	id := ID(bytesOf(0xa1, 32))
	long := strings.Repeat("a", MaxAddressLen+1)
	cases := map[string]signedMsg{
		"record long address":  &NodeRecord{Address: long},
		"record long version":  &NodeRecord{Address: "a", Version: long[:MaxVersionLen+1]},
		"record bad utf8":      &NodeRecord{Address: "\xff"},
		"record negative cap":  &NodeRecord{Capacity: -1},
		"record negative free": &NodeRecord{Free: -1},
		"grant zero op":        &Grant{Shard: id},
		"grant unknown op":     &Grant{Op: OpDelete + 1, Shard: id},
		"grant no shard":       &Grant{Op: OpStore},
		"grant negative size":  &Grant{Op: OpStore, Shard: id, Size: -1},
		"receipt no shard":     &Receipt{Owner: key.Public()},
		"receipt no owner":     &Receipt{Shard: id},
		"receipt neg size":     &Receipt{Shard: id, Owner: key.Public(), Size: -1},
		"root long pointer":    &RootRecord{Pointer: make([]byte, MaxPointerLen+1)},
		"renew no node":        &RenewBatch{Shards: []ID{id}},
		"renew no shards":      &RenewBatch{Node: key.Public()},
		"renew too many":       &RenewBatch{Node: key.Public(), Shards: ascendingIDs(MaxRenewBatch + 1)},
		"renew zero id":        &RenewBatch{Node: key.Public(), Shards: []ID{{}, id}},
		"renew unsorted":       &RenewBatch{Node: key.Public(), Shards: []ID{id, {1}}},
		"renew duplicate":      &RenewBatch{Node: key.Public(), Shards: []ID{id, id}},
	}
	for name, m := range cases {
		m.Sign(key) // signed, but still malformed
		if err := m.Verify(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Verify = %v, want ErrMalformed", name, err)
		}
	}
	// No signer at all.
	for _, m := range []signedMsg{&NodeRecord{}, &Grant{Op: OpStore, Shard: id}, &Receipt{Shard: id, Owner: key.Public()}, &RootRecord{},
		&RenewBatch{Node: key.Public(), Shards: []ID{id}}} {
		if err := m.Verify(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%T without signer: Verify = %v, want ErrMalformed", m, err)
		}
	}
}

func TestReceiptDelegated(t *testing.T) {
	n := PublicKey(bytesOf(1, 32))
	for _, c := range []struct {
		holder PublicKey
		want   bool
	}{{PublicKey{}, false}, {n, false}, {PublicKey(bytesOf(2, 32)), true}} {
		r := Receipt{Node: n, Holder: c.holder}
		if r.Delegated() != c.want {
			t.Errorf("holder %s: Delegated = %v", c.holder, !c.want)
		}
	}
}

// ascendingIDs returns n sorted, unique, non-zero shard IDs.
func ascendingIDs(n int) []ID {
	ids := make([]ID, n)
	for i := range ids {
		ids[i] = ID{1, byte(i >> 8), byte(i)}
	}
	return ids
}

// A full batch is valid, and its JSON form fits a node's 1 MiB body limit.
func TestRenewBatchFull(t *testing.T) {
	r := RenewBatch{Node: testKey(t, 2).Public(), LeaseExpiry: 1800000000, Time: 1700000003123456789, Shards: ascendingIDs(MaxRenewBatch)}
	r.Sign(testKey(t, 1))
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 300<<10 {
		t.Fatalf("full batch is %d bytes of JSON", len(b))
	}
}

func TestNodeRecordOwnerLink(t *testing.T) {
	owner, _ := PrivateKeyFromSeed(bytesOf(0x11, SeedSize))
	nodeKey, _ := PrivateKeyFromSeed(bytesOf(0x22, SeedSize))
	other, _ := PrivateKeyFromSeed(bytesOf(0x33, SeedSize))
	linked := func(mod func(r *NodeRecord)) NodeRecord {
		r := NodeRecord{Owner: owner.Public(), OwnerSig: SignOwnerLink(owner, nodeKey.Public()),
			Address: "http://127.0.0.1:7000", Seq: 1, Time: 1700000000}
		mod(&r)
		r.Sign(nodeKey)
		return r
	}
	if err := linked(func(*NodeRecord) {}).Verify(); err != nil {
		t.Fatalf("linked record: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(r *NodeRecord)
		want error
	}{
		{"link signed by another key", func(r *NodeRecord) { r.OwnerSig = SignOwnerLink(other, nodeKey.Public()) }, ErrBadSignature},
		{"link to another node", func(r *NodeRecord) { r.OwnerSig = SignOwnerLink(owner, other.Public()) }, ErrBadSignature},
		{"owner claimed without its link", func(r *NodeRecord) { r.Owner = other.Public() }, ErrBadSignature},
		{"owner without a link", func(r *NodeRecord) { r.OwnerSig = nil }, ErrMalformed},
		{"truncated link", func(r *NodeRecord) { r.OwnerSig = r.OwnerSig[:63] }, ErrBadSignature},
	} {
		if err := linked(tc.mod).Verify(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A record signed without an owner link is its own owner's.
	r := NodeRecord{Address: "http://127.0.0.1:7000"}
	r.Sign(nodeKey)
	if r.Owner != nodeKey.Public() || r.Verify() != nil {
		t.Fatalf("self-owned record: owner %s, verify %v", r.Owner, r.Verify())
	}
	// A link is the owner's and cannot be moved to a record of another
	// node, even by that node's key.
	r = linked(func(*NodeRecord) {})
	r.Sign(other)
	if err := r.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("link moved to another node's record: %v", err)
	}
}
