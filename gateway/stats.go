package gateway

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// traffic counts what the gateway did since it started.
type traffic struct {
	bytesIn, bytesOut   atomic.Int64 // object bytes stored and served
	shardsOut, shardsIn atomic.Int64 // shard requests that succeeded
	hedges              atomic.Int64 // reads that went to parity for a late data shard
	reconstructions     atomic.Int64 // segment ranges rebuilt by Reed-Solomon
	aeadFailures        atomic.Int64 // reads whose data-shard bytes failed authentication
	released            atomic.Int64 // shards released on their peers
}

// Stats is what status pages show.
type Stats struct {
	Objects         int64 // objects in the catalog
	LogicalBytes    int64 // their size as clients see it
	StoredBytes     int64 // shards on the network (after erasure expansion)
	ReservedBytes   int64 // promised to uploads in flight
	Capacity        int64 // what the node offers; <= 0: no limit
	PendingReleases int   // shards waiting for an owner-signed delete
	Params          shard.Params

	BytesIn, BytesOut        int64
	ShardsStored, ShardsRead int64
	Hedges, Reconstructions  int64
	AuthFailures             int64
	Released                 int64

	Peers []PeerStats // by ID
}

// PeerStats is the gateway's view of one peer (see peerHealth).
type PeerStats struct {
	ID           shard.PublicKey
	Addr         string
	Free         int64
	Failures     int       // consecutive (unreachable)
	BackoffUntil time.Time // zero if not backed off
	BusyUntil    time.Time // zero if not set aside as busy
	FullUntil    time.Time // zero if not refusing shards as full
	Room         int64     // while full: bytes free at most
	Reputation   float64   // 1 for a peer never caught lying, less for one that was
	LastOK       time.Time
	LastError    string
	OK, Failed   int64 // requests answered, failed
	Refused      int64 // requests refused as full or busy
	Lies         int64 // answers found false
}

// Stats reports the catalog's counters, the traffic since start and the
// health of every peer of the directory.
func (g *Gateway) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Capacity: g.cfg.Capacity, Params: g.cfg.Params}
	for name, dst := range map[string]*int64{meta.CounterObjects: &s.Objects,
		meta.CounterLogicalBytes: &s.LogicalBytes, meta.CounterStoredBytes: &s.StoredBytes} {
		v, err := g.db.Counter(name)
		if err != nil {
			return s, fmt.Errorf("gateway: stats: %w", err)
		}
		*dst = v
	}
	rs, err := g.db.Releases([32]byte{}, [32]byte{}, 0)
	if err != nil {
		return s, fmt.Errorf("gateway: stats: %w", err)
	}
	s.PendingReleases = len(rs)
	g.quotaMu.Lock()
	s.ReservedBytes = g.reserved
	g.quotaMu.Unlock()
	s.BytesIn, s.BytesOut = g.st.bytesIn.Load(), g.st.bytesOut.Load()
	s.ShardsStored, s.ShardsRead = g.st.shardsOut.Load(), g.st.shardsIn.Load()
	s.Hedges, s.Reconstructions = g.st.hedges.Load(), g.st.reconstructions.Load()
	s.AuthFailures, s.Released = g.st.aeadFailures.Load(), g.st.released.Load()
	for _, p := range g.dir.Peers() {
		ps := PeerStats{ID: p.ID, Addr: p.Addr, Free: p.Free}
		g.health.stats(p, &ps)
		s.Peers = append(s.Peers, ps)
	}
	sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].ID.String() < s.Peers[j].ID.String() })
	return s, nil
}
