package policy

import (
	"bytes"
	"cmp"
	"slices"
	"time"
)

// Repair is one segment to rebuild: read any K of its readable shards,
// make the shards of Make and place them on new peers (RepairTargets).
type Repair struct {
	Segment SegmentID
	Pos     int   // its position in PlanRepairs' input
	Make    []int // shard indexes to make, ascending
	Margin  int   // Healthy - K before the repair: 0 is one loss from gone
	Bytes   int64 // charged: (K + len(Make)) x shard size
}

// RepairReport counts what PlanRepairs saw.
type RepairReport struct {
	Segments int // judged
	OK       int // above RepairThreshold
	Planned  int // repairs in the plan
	Deferred int // need repair, left for a later budget
	// Waiting lists the segments that need repair but have fewer than K
	// readable shards: nothing is attempted for them.
	Waiting []SegmentID
	// Unrecoverable counts those of Waiting with fewer than K healthy
	// (or away) shards: lost unless offline holders come back.
	Unrecoverable int
}

// RepairCost is what a repair making make shards of size shardSize
// costs: K shards read, make written (K of the policy's code).
func (p Policy) RepairCost(shardSize int64, make int) int64 {
	return repairCost(p.c.K, shardSize, make)
}

func repairCost(k int, shardSize int64, make int) int64 {
	return int64(k+make) * shardSize
}

// repairCand is a segment that needs repair, kept small: its index set
// is computed again only for the segments planned.
type repairCand struct {
	pos              int32
	margin, readable int16
}

// PlanRepairs judges every segment at now and returns the repairs to
// start, most endangered first (smallest Margin, then fewest readable
// shards, then segment ID), as many as the repair budget allows: b is
// refilled for elapsed and spent while positive (see Budget). It returns
// the plan, the budget left and a report. Segments of the plan cost
// their Bytes whether or not the caller completes them; one not carried
// out simply shows up again.
func (p Policy) PlanRepairs(now time.Time, segs []SegmentState, peers map[PeerID]PeerState, b Budget, elapsed time.Duration) ([]Repair, Budget, RepairReport) {
	b = p.RepairBudget(b, elapsed)
	rep := RepairReport{Segments: len(segs)}
	var cands []repairCand
	cls := p.allClasses(now, peers)
	for i := range segs {
		h, _ := p.assess(now, &segs[i], &cls)
		k := p.codeOf(&segs[i]).k
		switch h.Status {
		case SegmentOK:
			rep.OK++
		case SegmentWaiting:
			rep.Waiting = append(rep.Waiting, segs[i].ID)
			if h.Healthy < k {
				rep.Unrecoverable++
			}
		case SegmentRepair:
			cands = append(cands, repairCand{pos: int32(i), margin: int16(h.Margin(k)), readable: int16(h.Readable)})
		}
	}
	slices.SortFunc(cands, func(x, y repairCand) int {
		if c := cmp.Compare(x.margin, y.margin); c != 0 {
			return c
		}
		if c := cmp.Compare(x.readable, y.readable); c != 0 {
			return c
		}
		if c := bytes.Compare(segs[x.pos].ID[:], segs[y.pos].ID[:]); c != 0 {
			return c
		}
		return cmp.Compare(x.pos, y.pos)
	})
	var plan []Repair
	for ci := range cands {
		if b.Tokens <= 0 {
			rep.Deferred = len(cands) - ci
			break
		}
		c := &cands[ci]
		seg := &segs[c.pos]
		h, healthy := p.assess(now, seg, &cls)
		code := p.codeOf(seg)
		cost := repairCost(code.k, shardSize(seg), h.Missing)
		b.Tokens -= float64(cost)
		plan = append(plan, Repair{
			Segment: seg.ID,
			Pos:     int(c.pos),
			Make:    appendMissing(make([]int, 0, h.Missing), &healthy, code.n),
			Margin:  int(c.margin),
			Bytes:   cost,
		})
	}
	rep.Planned = len(plan)
	return plan, b, rep
}

func shardSize(seg *SegmentState) int64 {
	if seg.ShardSize > 0 {
		return seg.ShardSize
	}
	var n int64
	for i := range seg.Shards {
		n = max(n, seg.Shards[i].Size)
	}
	return n
}

// RepairTargets returns up to need peers to place a segment's new shards
// on, taken in the order of candidates (the caller ranks them, as its
// placement does): placeable, not self (the owner's own node), holding no
// shard of seg (lost ones included: a peer that lost one or went away
// gets no second), and, if distinctBlocks, each in an address block that
// no other target and no healthy holder of seg uses. peers gives the
// holders' blocks.
func (p Policy) RepairTargets(now time.Time, seg SegmentState, peers map[PeerID]PeerState, candidates []PeerState, self PeerID, distinctBlocks bool, need int) []PeerID {
	if need <= 0 {
		return nil
	}
	holders := make(map[PeerID]struct{}, len(seg.Shards))
	blocks := make(map[string]struct{}, len(seg.Shards)+need)
	for i := range seg.Shards {
		s := &seg.Shards[i]
		holders[s.Holder] = struct{}{}
		if ps, ok := peers[s.Holder]; ok && p.shardWith(now, s, p.classify(now, &ps)).Health != Lost {
			blocks[ps.Block] = struct{}{}
		}
	}
	out := make([]PeerID, 0, need)
	for _, c := range candidates {
		if !c.Placeable || c.ID == self {
			continue
		}
		if _, ok := holders[c.ID]; ok {
			continue
		}
		if distinctBlocks {
			if _, ok := blocks[c.Block]; ok {
				continue
			}
			blocks[c.Block] = struct{}{}
		}
		holders[c.ID] = struct{}{}
		out = append(out, c.ID)
		if len(out) == need {
			break
		}
	}
	return out
}
