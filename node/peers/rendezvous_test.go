package peers

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"testing"

	"ishtar/shard"
)

// nodeID returns the i-th test ID (RootHolders needs no real keys).
func nodeID(i int) shard.PublicKey {
	var k shard.PublicKey
	binary.BigEndian.PutUint64(k[:], uint64(i))
	k[31] = 0xa5
	return k
}

func nodeIDs(from, n int) []shard.PublicKey {
	out := make([]shard.PublicKey, n)
	for i := range out {
		out[i] = nodeID(from + i)
	}
	return out
}

func shuffled(ids []shard.PublicKey, seed uint64) []shard.PublicKey {
	out := slices.Clone(ids)
	rand.New(rand.NewPCG(seed, 7)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func without(ids []shard.PublicKey, drop shard.PublicKey) []shard.PublicKey {
	return slices.DeleteFunc(slices.Clone(ids), func(k shard.PublicKey) bool { return k == drop })
}

// The holders of a fixed owner among fixed peers never change across
// versions: a gateway and a recovering machine must agree. The expected
// values were computed apart from this code (Python's hashlib).
func TestRootHoldersKnownAnswer(t *testing.T) {
	owner := shard.PublicKey{0x01}
	score := RootHolderScore(owner, shard.PublicKey{0x02})
	const wantScore = "c9879a2e3497002662f8337868460556916aa47bfdce465a027b298fb5636dc4"
	if got := hex.EncodeToString(score[:]); got != wantScore {
		t.Errorf("RootHolderScore = %s, want %s", got, wantScore)
	}
	got := RootHolders(owner, nodeIDs(0, 8), 3)
	want := []int{1, 7, 6}
	for i, k := range got {
		if k != nodeID(want[i]) {
			t.Errorf("holder %d is %s, want node %d", i, k, want[i])
		}
	}
}

func TestRootHolders(t *testing.T) {
	owner := nodeID(1 << 40)
	peers := nodeIDs(0, 40)
	tests := []struct {
		name       string
		candidates []shard.PublicKey
		count      int
		want       int // holders returned
	}{
		{"none", nil, 10, 0},
		{"count zero", peers, 0, 0},
		{"count negative", peers, -1, 0},
		{"fewer than count", peers[:4], 10, 4},
		{"exactly count", peers[:10], 10, 10},
		{"more than count", peers, 10, 10},
		{"duplicates count once", append(slices.Clone(peers[:6]), peers[:6]...), 10, 6},
		{"one", peers[:1], 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RootHolders(owner, tt.candidates, tt.count)
			if len(got) != tt.want {
				t.Fatalf("%d holders, want %d", len(got), tt.want)
			}
			for i, k := range got {
				if !slices.Contains(tt.candidates, k) {
					t.Fatalf("holder %s is not a candidate", k)
				}
				if slices.Contains(got[:i], k) {
					t.Fatalf("holder %s twice", k)
				}
				if i > 0 {
					a, b := RootHolderScore(owner, got[i-1]), RootHolderScore(owner, k)
					if string(a[:]) < string(b[:]) {
						t.Fatalf("holder %d scores above holder %d", i, i-1)
					}
				}
			}
			// Every candidate left out scores below every holder.
			if len(got) > 0 {
				last := RootHolderScore(owner, got[len(got)-1])
				for _, c := range tt.candidates {
					if s := RootHolderScore(owner, c); !slices.Contains(got, c) && string(s[:]) > string(last[:]) {
						t.Fatalf("candidate %s left out above the last holder", c)
					}
				}
			}
			// Deterministic, and the candidates' order does not matter.
			for seed := range uint64(5) {
				if again := RootHolders(owner, shuffled(tt.candidates, seed), tt.count); !slices.Equal(again, got) {
					t.Fatalf("shuffled candidates (seed %d): %v, want %v", seed, again, got)
				}
			}
		})
	}
}

// A larger count extends a smaller one (recovery widens by asking for
// more), and a peer joining or leaving moves only its own place.
func TestRootHoldersStable(t *testing.T) {
	peers := nodeIDs(0, 60)
	newcomer := nodeID(1000)
	tests := []struct {
		name  string
		count int
	}{
		{"count 1", 1},
		{"count 3", 3},
		{"default 2n", 10},
		{"half", 30},
		{"all", 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for o := range 50 {
				owner := nodeID(1<<32 + o)
				base := RootHolders(owner, peers, tt.count)
				wider := RootHolders(owner, peers, tt.count+5)
				if !slices.Equal(wider[:len(base)], base) {
					t.Fatalf("owner %d: count %d is not a prefix of count %d", o, tt.count, tt.count+5)
				}
				// Joining: the newcomer takes at most one place, and the
				// others keep their order.
				joined := RootHolders(owner, append(slices.Clone(peers), newcomer), tt.count)
				rest := without(joined, newcomer)
				if !slices.Equal(rest, base[:len(rest)]) || len(rest) < len(base)-1 {
					t.Fatalf("owner %d: after a join %v, before %v", o, joined, base)
				}
				// Leaving: a peer that is not a holder changes nothing; a
				// holder's place goes to the next in rank.
				for _, gone := range []shard.PublicKey{base[0], base[len(base)-1], peers[o]} {
					left := RootHolders(owner, without(peers, gone), tt.count)
					want := without(RootHolders(owner, peers, tt.count+1), gone)[:min(tt.count, len(peers)-1)]
					if !slices.Equal(left, want) {
						t.Fatalf("owner %d: after %s left %v, want %v", o, gone, left, want)
					}
				}
			}
		})
	}
}

// Owners spread over the peers: each peer is chosen for about its share
// of the owners.
func TestRootHoldersSpread(t *testing.T) {
	const peersN, owners, count = 50, 5000, 10
	peers := nodeIDs(0, peersN)
	chosen := make(map[shard.PublicKey]int)
	for o := range owners {
		for _, k := range RootHolders(nodeID(1<<32+o), peers, count) {
			chosen[k]++
		}
	}
	want := owners * count / peersN // 1000; the standard deviation is about 30
	for _, k := range peers {
		if n := chosen[k]; n < want*8/10 || n > want*12/10 {
			t.Fatalf("peer %s chosen for %d owners, want about %d", k, n, want)
		}
	}
}

func BenchmarkRootHolders(b *testing.B) {
	peers := nodeIDs(0, 20000) // a full "tried" table
	owner := nodeID(1 << 40)
	b.ReportAllocs()
	for b.Loop() {
		RootHolders(owner, peers, 10)
	}
}
