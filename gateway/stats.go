package gateway

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/shard"
)

// traffic counts the object bytes the gateway stored and served since it
// started; the segment store counts its shard traffic.
type traffic struct {
	bytesIn, bytesOut atomic.Int64
}

// Stats is what status pages show.
type Stats struct {
	Objects         int64 // objects in the catalog
	LogicalBytes    int64 // their size as clients see it
	StoredBytes     int64 // shards on the network (after erasure expansion)
	InlineBytes     int64 // sealed inline objects in the catalog
	ReservedBytes   int64 // promised to uploads in flight
	Capacity        int64 // what the node offers; <= 0: no limit
	PendingReleases int   // shards waiting for an owner-signed delete
	Params          shard.Params

	BytesIn, BytesOut        int64
	ShardsStored, ShardsRead int64
	Hedges, Reconstructions  int64
	AuthFailures             int64
	Released                 int64

	Peers []segstore.PeerStats // by ID
}

// Stats reports the catalog's counters, the traffic since start and the
// health of every peer of the directory.
func (g *Gateway) Stats(ctx context.Context) (Stats, error) {
	s := Stats{Capacity: g.cfg.Capacity, Params: g.cfg.Params}
	for name, dst := range map[string]*int64{meta.CounterObjects: &s.Objects,
		meta.CounterLogicalBytes: &s.LogicalBytes, meta.CounterStoredBytes: &s.StoredBytes,
		meta.CounterInlineBytes: &s.InlineBytes} {
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
	ss := g.store.Stats()
	s.ShardsStored, s.ShardsRead = ss.ShardsStored, ss.ShardsRead
	s.Hedges, s.Reconstructions = ss.Hedges, ss.Reconstructions
	s.AuthFailures, s.Released = ss.AuthFailures, ss.Released
	for _, p := range g.dir.Peers() {
		s.Peers = append(s.Peers, g.store.PeerStats(p))
	}
	sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].ID.String() < s.Peers[j].ID.String() })
	return s, nil
}
