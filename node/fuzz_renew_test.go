package node

import (
	"encoding/json"
	"errors"
	"testing"

	"ishtar/shard"
)

// FuzzRenewBatch feeds the node's parser of renew batches (a POST
// /v1/renew body) and the Client's check of the answer. A batch either
// decodes to a verified one or is refused with a protocol error; an
// answer passes the check only if it splits the batch's shards.
func FuzzRenewBatch(f *testing.F) {
	owner, node := fuzzKey(f, 4), fuzzKey(f, 5)
	a, b := shard.ID{1}, shard.ID{2}
	rb := shard.RenewBatch{Node: node.Public(), LeaseExpiry: 1_800_000_000, Time: 1_700_000_000_000_000_000, Shards: []shard.ID{a, b}}
	rb.Sign(owner)
	good := fuzzJSON(f, rb)
	ans := fuzzJSON(f, RenewAnswer{Renewed: []shard.ID{a}, NotHeld: []shard.ID{b}})
	f.Add(good, ans)
	f.Add(good, []byte(`{"renewed":[],"not_held":null}`))
	f.Add(good, fuzzJSON(f, RenewAnswer{Renewed: []shard.ID{a, b}, NotHeld: []shard.ID{b}}))
	unsorted := rb
	unsorted.Shards = []shard.ID{b, a}
	unsorted.Sign(owner)
	f.Add(fuzzJSON(f, unsorted), ans)
	f.Add([]byte(`{"owner":"00","shards":[]}`), ans)
	f.Add([]byte(`{"shards":null,"sig":"AAAA"}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, body, answer []byte) {
		got, err := decodeRenewBatch(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != ErrBadRequest.Code && e.Code != ErrBadSignature.Code && e.Code != ErrTooLarge.Code) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if err := got.Verify(); err != nil {
			t.Fatalf("accepted a batch that does not verify: %v", err)
		}
		var an RenewAnswer
		if json.Unmarshal(answer, &an) != nil || checkRenewAnswer(an, got.Shards) != nil {
			return
		}
		if len(an.Renewed)+len(an.NotHeld) != len(got.Shards) {
			t.Fatalf("answer of %d+%d shards passed for a batch of %d", len(an.Renewed), len(an.NotHeld), len(got.Shards))
		}
		in := make(map[shard.ID]bool, len(got.Shards))
		for _, id := range got.Shards {
			in[id] = true
		}
		for _, id := range append(an.Renewed, an.NotHeld...) {
			if !in[id] {
				t.Fatalf("answer names shard %s, twice or not in the batch", id)
			}
			delete(in, id)
		}
	})
}
