package sim

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"

	"ishtar/gateway/segstore"
	"ishtar/gateway/upkeep/policy"
)

// The nodes: sessions, departures, disk failures, placement weights.

// addNode adds a node joining now; initial nodes start in their
// stationary state and with a known uptime.
func (s *sim) addNode(initial bool) {
	i := int32(len(s.nodes))
	x := s.rng.Float64()
	var class int
	for class = 0; class < len(s.c.Mix)-1 && x >= s.c.Mix[class].Share; class++ {
		x -= s.c.Mix[class].Share
	}
	nd := nodeState{
		class:       uint8(class),
		joined:      s.now,
		online:      true,
		uptimeKnown: initial,
		block:       s.rng.Int32N(1 << 30),
		// 256 GiB to 4 TiB, log-uniform.
		capacity: int64(math.Exp2(38 + 4*s.rng.Float64())),
	}
	if s.rng.Float64() < s.c.Droppers {
		nd.dropper = true
		nd.block = -1 - int32(s.res.Droppers/50)
		s.res.Droppers++
	}
	cl := s.c.Mix[class]
	flips := s.c.Sessions && !nd.dropper && cl.Uptime < 1
	if flips && initial {
		nd.online = s.rng.Float64() < cl.Uptime
	}
	if !nd.online {
		nd.offlineSince = s.now
	}
	var id policy.PeerID
	binary.BigEndian.PutUint32(id[:], uint32(i)+1)
	s.nodes = append(s.nodes, nd)
	s.ids = append(s.ids, id)
	s.blocks = append(s.blocks, strconv.Itoa(int(nd.block)))
	s.weights.grow(len(s.nodes))
	s.reweigh(i)
	s.res.NodesJoined++
	if flips {
		s.scheduleFlip(i, nd.online, 0)
	}
	if s.c.Lifetime > 0 {
		s.at(s.exp(s.c.Lifetime), evDepart, i, 0)
	}
	if s.c.DiskAFR > 0 {
		s.at(s.exp(time.Duration(float64(365*24*time.Hour)/s.c.DiskAFR)), evDisk, i, 0)
	}
	if !initial {
		s.at(msPerDay, evKnown, i, 0)
	}
}

// scheduleFlip schedules node i's next session change.
func (s *sim) scheduleFlip(i int32, online bool, gen uint32) {
	cl := s.c.Mix[s.nodes[i].class]
	mean := float64(cl.cycle()) * (1 - cl.Uptime)
	if online {
		mean = float64(cl.cycle()) * cl.Uptime
	}
	s.at(s.exp(time.Duration(mean)), evFlip, i, gen)
}

// uptime is node i's uptime as the peer registry would report it: zero
// (unknown) for a node new to the network.
func (s *sim) uptime(i int32) float64 {
	nd := &s.nodes[i]
	if !nd.uptimeKnown {
		return 0
	}
	if nd.dropper {
		return 1
	}
	return s.c.Mix[nd.class].Uptime
}

// reweigh sets node i's placement weight: segstore.Weight, with uptime
// raised to Config.UptimeWeight (1: exactly segstore.Weight); zero when
// it cannot take a shard now (offline, gone, full).
func (s *sim) reweigh(i int32) {
	nd := &s.nodes[i]
	free := nd.capacity - nd.used
	if !nd.online || nd.departed || free < s.shardSize {
		s.weights.set(int(i), 0)
		return
	}
	u := s.uptime(i)
	var w float64
	switch {
	case s.c.UptimeWeight == 1:
		w = segstore.Weight(float64(free), 1, u)
	case u > 0:
		w = segstore.Weight(float64(free), 1, 0) * math.Pow(u, s.c.UptimeWeight)
	default:
		w = segstore.Weight(float64(free), 1, 0)
	}
	s.weights.set(int(i), w)
}

// flip changes node i's session, if gen is still its generation.
func (s *sim) flip(i int32, gen uint32) {
	nd := &s.nodes[i]
	if nd.gen != gen || nd.departed {
		return
	}
	if nd.online {
		s.goOffline(i)
	} else {
		nd.gen++
		nd.online = true
		if nd.graceLost {
			nd.graceLost = false
			for _, slot := range nd.slots {
				seg := slot / int32(s.n)
				if s.segFlags[seg]&segDead == 0 && s.flags[slot]&slotLost == 0 {
					s.healthy[seg]++
				}
			}
		}
		s.reweigh(i)
	}
	s.scheduleFlip(i, nd.online, nd.gen)
}

func (s *sim) goOffline(i int32) {
	nd := &s.nodes[i]
	nd.gen++
	nd.online = false
	nd.offlineSince = s.now
	s.reweigh(i)
	s.at(s.pc.OfflineGrace.Milliseconds(), evGrace, i, nd.gen)
}

// grace: node i has been offline for OfflineGrace; its shards count lost.
func (s *sim) grace(i int32, gen uint32) {
	nd := &s.nodes[i]
	if nd.gen != gen || nd.online {
		return
	}
	nd.graceLost = true
	for _, slot := range nd.slots {
		seg := slot / int32(s.n)
		if s.segFlags[seg]&segDead == 0 && s.flags[slot]&slotLost == 0 {
			s.healthy[seg]--
			s.maybeRepair(seg, 0)
		}
	}
}

// depart: node i leaves for good with its data; a new node joins.
func (s *sim) depart(i int32) {
	nd := &s.nodes[i]
	s.res.NodesDeparted++
	for _, slot := range nd.slots {
		s.unpresent(slot)
	}
	if nd.online {
		s.goOffline(i)
	}
	nd.departed = true
	s.reweigh(i)
	s.addNode(false)
}

// diskFailure: node i loses everything it holds and stays; audits find
// out shard by shard.
func (s *sim) diskFailure(i int32) {
	nd := &s.nodes[i]
	if nd.departed {
		return
	}
	s.res.DiskFailures++
	for _, slot := range nd.slots {
		if s.flags[slot]&slotPresent != 0 {
			s.unpresent(slot)
			s.at(s.rng.Int64N(s.pc.AuditInterval.Milliseconds()), evDetect, slot, uint32(i))
		}
	}
	s.at(s.exp(time.Duration(float64(365*24*time.Hour)/s.c.DiskAFR)), evDisk, i, 0)
}
