package policy

import (
	"bytes"
	"slices"
	"time"
)

// ProbesDue returns the holders to probe at now: those of holders (the
// peers holding some shard of the owner's) that nobody has tried for
// ProbeAfter or more, reachable or not, longest untried first (ties by
// key), at most MaxProbes. A holder unknown to peers is skipped: its
// shards are lost already (PeerGone).
//
// Without probes a holder is judged on whatever contact happens to reach
// it: a node that left would stay healthy until its next audit or lease
// renewal, days away, and one in back-off that came back would be lost at
// the grace without anyone trying it again. Probing every holder each
// ProbeAfter (OfflineGrace/4 by default) sees a departure within about
// ProbeAfter, and tries a down holder about four times before its grace
// runs out.
func (p Policy) ProbesDue(now time.Time, holders []PeerID, peers map[PeerID]PeerState) []PeerID {
	var due []PeerID
	for _, h := range holders {
		ps, ok := peers[h]
		if ok && now.Sub(ps.LastContact) >= p.c.ProbeAfter {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b PeerID) int {
		if c := peers[a].LastContact.Compare(peers[b].LastContact); c != 0 {
			return c
		}
		return bytes.Compare(a[:], b[:])
	})
	due = slices.Compact(due)
	if len(due) > p.c.MaxProbes {
		due = due[:p.c.MaxProbes]
	}
	return due
}
