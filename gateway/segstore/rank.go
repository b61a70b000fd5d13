package segstore

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"ishtar/meta"
	"ishtar/shard"
)

// Weight is a peer's placement weight: its free space (bytes, or the
// average of the others when it did not say) times its reputation in
// (0, 1], times its uptime when known (uptime 0: unknown, no factor), so
// peers online more often hold more. It is pure, so the simulator
// (gateway/sim) weighs its virtual peers with the code placement uses.
func Weight(free, reputation, uptime float64) float64 {
	w := free * reputation
	if uptime > 0 {
		w *= uptime // peers online more often hold more
	}
	return w
}

// Score is the weighted rendezvous score of a peer of weight weight for
// shard index of segment seg: weight / -ln(u), u in (0, 1) from
// SHA-256(id || seg || index). The highest score wins, which draws each
// peer with probability proportional to its weight.
func Score(id shard.PublicKey, seg meta.SegmentID, index int, weight float64) float64 {
	var in [32 + 24 + 4]byte
	copy(in[:], id[:])
	copy(in[32:], seg[:])
	binary.BigEndian.PutUint32(in[56:], uint32(index))
	h := sha256.Sum256(in[:])
	// 53 random bits as a float strictly inside (0, 1).
	u := (float64(binary.BigEndian.Uint64(h[:8])>>11) + 0.5) / (1 << 53)
	return weight / -math.Log(u)
}
