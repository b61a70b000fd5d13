package sim

import (
	"encoding/binary"

	"ishtar/gateway/upkeep/policy"
)

// Placement: candidates drawn by weight, filtered by the policy, and
// the shard records they get.

// placeIndexes places the shards idx of seg on targets from the
// placement weights, filtered by policy.RepairTargets (no second shard
// of a segment on a holder, distinct address blocks), replacing the
// records they had. It returns how many it placed.
func (s *sim) placeIndexes(seg int32, idx []int) int {
	s.segment(seg)
	var targets []policy.PeerID
	for round := 0; round < 4 && len(targets) < len(idx); round++ {
		s.drawCandidates(len(idx) - len(targets) + 2)
		got := s.p.RepairTargets(t(s.now), s.seg, s.peers, s.cands, policy.PeerID{}, s.c.Diversity, len(idx)-len(targets))
		for _, id := range got {
			// A target is a holder from now on, for the next round.
			h := int32(binary.BigEndian.Uint32(id[:]) - 1)
			s.seg.Shards = append(s.seg.Shards, policy.ShardState{Index: -1, Holder: id})
			s.peers[id] = s.peerState(h)
			targets = append(targets, id)
		}
	}
	for j, id := range targets {
		slot := seg*int32(s.n) + int32(idx[j])
		s.drop(slot)
		s.add(slot, int32(binary.BigEndian.Uint32(id[:])-1))
	}
	s.checkDead(seg)
	return len(targets)
}

// drawCandidates fills s.cands with up to m distinct nodes, each drawn
// with probability proportional to its placement weight among those not
// drawn yet: the order weighted rendezvous ranks them in (see
// TestDrawMatchesRendezvous). A drawn node's weight is set aside until
// the draw is over.
func (s *sim) drawCandidates(m int) {
	s.cands = s.cands[:0]
	s.drawn = s.drawn[:0]
	total := s.weights.total()
	for len(s.cands) < m && total > 0 {
		i := s.weights.find(s.rng.Float64() * total)
		if i < 0 || s.weights.w[i] <= 0 {
			// Rounding left total above the weights' sum: recompute.
			if fresh := s.weights.total(); fresh < total {
				total = fresh
				continue
			}
			break
		}
		s.drawn = append(s.drawn, drawn{int32(i), s.weights.w[i]})
		total -= s.weights.w[i]
		s.weights.set(i, 0)
		s.cands = append(s.cands, s.peerState(int32(i)))
	}
	for _, d := range s.drawn {
		s.weights.set(int(d.node), d.w)
	}
}

// add gives slot a record on holder h.
func (s *sim) add(slot, h int32) {
	nd := &s.nodes[h]
	seg := slot / int32(s.n)
	s.holder[slot] = h
	s.pos[slot] = int32(len(nd.slots))
	nd.slots = append(nd.slots, slot)
	nd.used += s.shardSize
	s.reweigh(h)
	s.records++
	s.flags[slot] = 0
	if nd.dropper {
		// Acknowledged and dropped: the first audit, AuditInterval after
		// the store, and its re-check fail.
		due, _ := s.p.Due(policy.ShardState{LastAudit: t(s.now)}, 1)
		s.at(due.Sub(t(s.now)).Milliseconds()+s.pc.RecheckAfter.Milliseconds(), evDetect, slot, uint32(h))
	} else {
		s.flags[slot] = slotPresent
		s.alive[seg]++
	}
	if !nd.graceLost {
		s.healthy[seg]++
	}
}

// drop removes slot's record, if any; its holder deletes the bytes (the
// owner releases them).
func (s *sim) drop(slot int32) {
	h := s.holder[slot]
	if h < 0 {
		return
	}
	seg := slot / int32(s.n)
	if s.counted(slot) {
		s.healthy[seg]--
	}
	if s.flags[slot]&slotPresent != 0 {
		s.alive[seg]--
	}
	nd := &s.nodes[h]
	last := nd.slots[len(nd.slots)-1]
	p := s.pos[slot]
	nd.slots[p] = last
	s.pos[last] = p
	nd.slots = nd.slots[:len(nd.slots)-1]
	nd.used -= s.shardSize
	s.reweigh(h)
	s.records--
	s.holder[slot] = -1
	s.flags[slot] = 0
}
