package node

import (
	"fmt"

	"ishtar/meta"
)

// Usage is what a node gives others, as status pages and metrics show it.
type Usage struct {
	Capacity int64 `json:"capacity"` // bytes offered
	Used     int64 `json:"used"`     // held for others: shards, their bookkeeping, root records
	Free     int64 `json:"free"`     // what the node could still take
	Shards   int64 `json:"shards"`   // shards held for others
	Bytes    int64 `json:"bytes"`    // their bytes and bookkeeping, a shard shared by owners counted for each
	Owners   int64 `json:"owners"`   // owners with at least one shard here
}

// Usage reads the node's usage from its catalog: the used-bytes counter
// and the owners' totals (one record per owner holding shards here, which
// capacity bounds).
func (s *Server) Usage() (Usage, error) {
	u := Usage{Capacity: s.cfg.Capacity}
	var err error
	if u.Used, err = s.used(); err != nil {
		return u, err
	}
	u.Free = max(u.Capacity-u.Used, 0)
	err = s.db.EachOwnerHeld(func(o meta.OwnerHeld) error {
		u.Shards += o.Shards
		u.Bytes += o.Bytes
		u.Owners++
		return nil
	})
	if err != nil {
		return u, fmt.Errorf("node: usage: %w", err)
	}
	return u, nil
}
