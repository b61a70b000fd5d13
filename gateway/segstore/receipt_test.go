package segstore

import (
	"crypto/rand"
	"errors"
	"testing"

	"ishtar/shard"
)

// TestCheckReceipt: a receipt's signature is verified unless the peer's
// client did it already; what it says is checked either way.
func TestCheckReceipt(t *testing.T) {
	owner, _ := shard.GeneratePrivateKey(rand.Reader)
	nodeKey, _ := shard.GeneratePrivateKey(rand.Reader)
	other, _ := shard.GeneratePrivateKey(rand.Reader)
	grant := shard.Grant{Op: shard.OpStore, Shard: shard.ID{1}, Size: 100, LeaseExpiry: 2e9, Time: 1}
	grant.Sign(owner)
	good := shard.Receipt{Shard: grant.Shard, Size: grant.Size, Owner: grant.Owner, LeaseExpiry: grant.LeaseExpiry, Time: 5}
	good.Sign(nodeKey)
	forged := good
	forged.Sign(other)
	forged.Node = nodeKey.Public()
	edit := func(f func(*shard.Receipt)) shard.Receipt {
		r := good
		f(&r)
		r.Sign(nodeKey)
		return r
	}
	for _, tc := range []struct {
		name   string
		r      shard.Receipt
		verify bool
		ok     bool
	}{
		{"good", good, true, true},
		{"good, verified by the client", good, false, true},
		{"forged signature", forged, true, false},
		{"wrong size", edit(func(r *shard.Receipt) { r.Size++ }), false, false},
		{"wrong shard", edit(func(r *shard.Receipt) { r.Shard[0]++ }), false, false},
		{"short lease", edit(func(r *shard.Receipt) { r.LeaseExpiry-- }), false, false},
	} {
		err := checkReceipt(tc.r, grant, nodeKey.Public(), tc.verify)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errBadReceipt)) {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	r := good
	r.Sign(other)
	if err := checkReceipt(r, grant, nodeKey.Public(), false); !errors.Is(err, errBadReceipt) {
		t.Errorf("receipt of another node: %v", err)
	}
}
