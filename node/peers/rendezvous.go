package peers

import (
	"bytes"
	"crypto/sha256"
	"slices"

	"ishtar/shard"
)

// rootHolderTag separates root-holder scores from every other hash of the
// protocol. Changing it moves every owner's root holders: gateways and
// recovering machines of different versions would no longer agree.
const rootHolderTag = "ishtar/root-holder/v1\x00"

// RootHolderScore is node's rendezvous score for owner's root records:
// SHA-256 of rootHolderTag, the owner ID and the node ID, compared as a
// big-endian number (the higher, the earlier the node is chosen).
func RootHolderScore(owner, node shard.PublicKey) [32]byte {
	var buf [len(rootHolderTag) + 64]byte
	n := copy(buf[:], rootHolderTag)
	n += copy(buf[n:], owner[:])
	copy(buf[n:], node[:])
	return sha256.Sum256(buf[:])
}

// RootHolders returns the peers among candidates that keep owner's root
// records, by highest-random-weight (rendezvous) hashing: the count
// candidates of highest RootHolderScore, highest first, a candidate
// listed more than once counting once (all of them when there are fewer;
// none when count <= 0). Equal scores, which SHA-256 makes impossible in
// practice, are ordered by node ID, so the order is total.
//
// Every owner thus ranks all nodes in one fixed order, and RootHolders is
// the head of that order restricted to candidates. Hence the result does
// not depend on the candidates' order; a node that joins takes a place
// only if it ranks within the first count (pushing the last one out), and
// one that leaves frees only its own place (the next in rank takes it),
// so a gateway and a recovering machine with slightly different peer
// tables still agree on nearly every holder; and a larger count extends
// a smaller one, so a caller that finds too few holders answering widens
// the set by asking for more.
func RootHolders(owner shard.PublicKey, candidates []shard.PublicKey, count int) []shard.PublicKey {
	if count <= 0 || len(candidates) == 0 {
		return nil
	}
	type scored struct {
		score [32]byte
		node  shard.PublicKey
	}
	all := make([]scored, len(candidates))
	for i, node := range candidates {
		all[i] = scored{RootHolderScore(owner, node), node}
	}
	slices.SortFunc(all, func(a, b scored) int {
		if c := bytes.Compare(b.score[:], a.score[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.node[:], b.node[:])
	})
	all = slices.CompactFunc(all, func(a, b scored) bool { return a.node == b.node })
	out := make([]shard.PublicKey, min(count, len(all)))
	for i := range out {
		out[i] = all[i].node
	}
	return out
}
