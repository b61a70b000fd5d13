package policy

import (
	"encoding/binary"
	"testing"
	"time"

	"ishtar/shard"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testDefaults is Defaults with the one-hour offline grace the tests'
// times were written for (the default is 24 h).
// testDefaults is the defaults for 3 of 5 with a 1 h offline grace.
func testDefaults() Config {
	c := DefaultsFor(3, 5)
	c.OfflineGrace = time.Hour
	return c
}

func mustNew(t testing.TB, c Config) Policy {
	t.Helper()
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func peerID(n int) PeerID {
	var id PeerID
	binary.BigEndian.PutUint64(id[:], uint64(n)+1)
	return id
}

func shardID(n int) shard.ID {
	var id shard.ID
	binary.BigEndian.PutUint64(id[:], uint64(n)+1)
	return id
}

func segID(n int) SegmentID {
	var id SegmentID
	binary.BigEndian.PutUint64(id[:], uint64(n)+1)
	return id
}

func upPeer(n int) PeerState {
	return PeerState{ID: peerID(n), Block: blockOf(n), Reachable: true, Reputation: 1, Placeable: true}
}

func blockOf(n int) string { return "10.0." + string(rune('a'+n%26)) + ".0/24" }

// segment returns a segment of n shards, index i on peer base+i, leases
// far away, audited at t0.
func segment(id, base, n int, size int64) SegmentState {
	seg := SegmentState{ID: segID(id), ShardSize: size}
	for i := range n {
		seg.Shards = append(seg.Shards, ShardState{
			ID: shardID(id*1000 + i), Index: i, Holder: peerID(base + i), Size: size,
			LeaseExpiry: t0.Add(90 * 24 * time.Hour), LastAudit: t0,
		})
	}
	return seg
}

func peersUp(from, to int) map[PeerID]PeerState {
	m := make(map[PeerID]PeerState)
	for i := from; i < to; i++ {
		m[peerID(i)] = upPeer(i)
	}
	return m
}
