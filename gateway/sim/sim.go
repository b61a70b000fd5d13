package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"ishtar/gateway/upkeep/policy"
)

const (
	msPerSecond = 1000
	msPerHour   = 3600 * msPerSecond
	msPerDay    = 24 * msPerHour
	// retryWait is how long a segment that needs repair but cannot have
	// it now (too few readable shards, no targets) waits before the next
	// attempt.
	retryWait = msPerHour
	// maxN bounds the code: a repair's indexes are one uint64 mask.
	maxN = 64
)

// epoch is the simulated time zero, as the policy sees it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Slot flags.
const (
	slotPresent uint8 = 1 << iota // the holder has the bytes
	slotLost                      // declared lost by an audit or a failed read
)

// Segment flags.
const (
	segDead    uint8 = 1 << iota // fewer than K shards exist anywhere
	segPending                   // a repair check or repair is scheduled
)

type nodeState struct {
	slots        []int32 // the slots it holds a record of
	capacity     int64
	used         int64
	offlineSince int64
	joined       int64
	gen          uint32
	block        int32
	class        uint8
	online       bool
	departed     bool
	dropper      bool
	graceLost    bool // offline for the grace or more: its shards count lost
	uptimeKnown  bool
}

// drawn is a node drawn as a placement candidate, and its weight.
type drawn struct {
	node int32
	w    float64
}

// sim is one run.
type sim struct {
	c         Config
	p         policy.Policy
	pc        policy.Config
	rng       *rand.Rand
	now, end  int64 // ms
	q         queue
	nodes     []nodeState
	ids       []policy.PeerID
	blocks    []string
	weights   fenwick
	k, n      int
	threshold int
	shardSize int64
	owners    int

	// Per slot (segment s, index i: s*N+i).
	holder []int32 // -1: no record
	pos    []int32 // its position in the holder's slots
	flags  []uint8
	// Per segment.
	healthy  []int8 // indexes counted healthy or away by the policy
	alive    []int8 // indexes whose holder has the bytes
	minAlive []int8 // the least alive since the segment was uploaded
	segFlags []uint8
	segGen   []uint32
	plans    map[int32]uint64 // pending repairs: the indexes to make

	lane []float64 // per owner: ms when its uplink is free

	res        Result
	margins    []int64 // segments by least margin reached: [0] is lost
	records    int64   // shard records held
	dayReads   int64
	dayReadsOK int64

	// Scratch for the policy calls.
	peers  map[policy.PeerID]policy.PeerState
	seg    policy.SegmentState
	cands  []policy.PeerState
	drawn  []drawn
	toMake []int
}

// Run simulates c and returns its result. It stops early, with ctx's
// error, if ctx is done.
func Run(ctx context.Context, c Config) (Result, error) {
	if err := c.Validate(); err != nil {
		return Result{}, err
	}
	if c.Policy.N > maxN {
		return Result{}, fmt.Errorf("sim: n %d: the simulator handles at most %d", c.Policy.N, maxN)
	}
	start := time.Now()
	s := newSim(c)
	s.init()
	if err := s.loop(ctx); err != nil {
		return Result{}, err
	}
	s.finish()
	s.res.WallSeconds = time.Since(start).Seconds()
	return s.res, nil
}

func newSim(c Config) *sim {
	p, _ := policy.New(c.Policy) // validated
	s := &sim{
		c: c, p: p, pc: p.Config(),
		rng:       rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15)),
		end:       int64(c.Days * msPerDay),
		k:         c.Policy.K,
		n:         c.Policy.N,
		threshold: c.Policy.RepairThreshold,
		shardSize: (c.SegmentSize + int64(c.Policy.K) - 1) / int64(c.Policy.K),
		owners:    c.Owners,
		plans:     make(map[int32]uint64),
		peers:     make(map[policy.PeerID]policy.PeerState),
		margins:   make([]int64, c.Policy.N-c.Policy.K+2),
	}
	if s.owners == 0 {
		s.owners = c.Nodes
	}
	slots := c.Segments * s.n
	s.holder = make([]int32, slots)
	s.pos = make([]int32, slots)
	s.flags = make([]uint8, slots)
	for i := range s.holder {
		s.holder[i] = -1
	}
	s.healthy = make([]int8, c.Segments)
	s.alive = make([]int8, c.Segments)
	s.minAlive = make([]int8, c.Segments)
	s.segFlags = make([]uint8, c.Segments)
	s.segGen = make([]uint32, c.Segments)
	s.lane = make([]float64, s.owners)
	return s
}

// t converts simulated milliseconds to the policy's time.
func t(ms int64) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

// exp draws an exponential duration in ms with the given mean.
func (s *sim) exp(mean time.Duration) int64 {
	return int64(s.rng.ExpFloat64() * float64(mean.Milliseconds()))
}

func (s *sim) at(dt int64, kind uint8, a int32, b uint32) {
	if s.now+dt > s.end || dt < 0 {
		return
	}
	s.q.push(event{t: s.now + dt, kind: kind, a: a, b: b})
}

func (s *sim) init() {
	for range s.c.Nodes {
		s.addNode(true)
	}
	for seg := range s.c.Segments {
		s.upload(int32(seg), false)
	}
	s.res.SegmentsStored = int64(s.c.Segments)
	if s.c.ChurnPerMonth > 0 {
		s.at(s.churnGap(), evChurn, 0, 0)
	}
	if s.c.Reads > 0 {
		s.at(s.readGap(), evRead, 0, 0)
	}
	s.at(msPerDay, evSample, 0, 0)
}

func (s *sim) churnGap() int64 {
	perMs := float64(s.c.Segments) * s.c.ChurnPerMonth / (30 * msPerDay)
	return int64(s.rng.ExpFloat64()/perMs) + 1
}

func (s *sim) readGap() int64 {
	return int64(s.rng.ExpFloat64()*float64(s.end)/float64(s.c.Reads)) + 1
}

func (s *sim) loop(ctx context.Context) error {
	for s.q.len() > 0 {
		e := s.q.pop()
		s.now = e.t
		s.res.Events++
		if s.res.Events&(1<<20-1) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		switch e.kind {
		case evFlip:
			s.flip(e.a, e.b)
		case evGrace:
			s.grace(e.a, e.b)
		case evDepart:
			s.depart(e.a)
		case evDisk:
			s.diskFailure(e.a)
		case evKnown:
			s.nodes[e.a].uptimeKnown = true
			s.reweigh(e.a)
		case evDetect:
			s.detect(e.a, int32(e.b))
		case evRepairCheck:
			if s.segGen[e.a] == e.b {
				s.repairCheck(e.a)
			}
		case evRepairDone:
			if s.segGen[e.a] == e.b {
				s.repairDone(e.a)
			}
		case evChurn:
			s.churn()
			s.at(s.churnGap(), evChurn, 0, 0)
		case evRead:
			s.read()
			s.at(s.readGap(), evRead, 0, 0)
		case evSample:
			s.sample()
			s.at(msPerDay, evSample, 0, 0)
		}
	}
	s.now = s.end
	return nil
}

// unpresent: the bytes of slot are gone from its holder.
func (s *sim) unpresent(slot int32) {
	if s.flags[slot]&slotPresent == 0 {
		return
	}
	s.flags[slot] &^= slotPresent
	seg := slot / int32(s.n)
	s.alive[seg]--
	s.checkDead(seg)
}

// checkDead notes seg's least margin and whether it is lost: fewer than
// K shards exist anywhere.
func (s *sim) checkDead(seg int32) {
	s.minAlive[seg] = min(s.minAlive[seg], s.alive[seg])
	if s.alive[seg] < int8(s.k) && s.segFlags[seg]&segDead == 0 {
		s.segFlags[seg] |= segDead
		s.res.SegmentsLost++
	}
}

// counted reports whether slot's record counts healthy or away.
func (s *sim) counted(slot int32) bool {
	h := s.holder[slot]
	return h >= 0 && s.flags[slot]&slotLost == 0 && !s.nodes[h].graceLost
}

// shardState is slot's record as the catalog keeps it.
func (s *sim) shardState(slot int32) policy.ShardState {
	return policy.ShardState{
		Index:     int(slot) % s.n,
		Holder:    s.ids[s.holder[slot]],
		Size:      s.shardSize,
		LastAudit: t(s.now),
		NotHeld:   s.flags[slot]&slotLost != 0,
	}
}

// detect: an audit of slot, held by h, finds the bytes gone. A dropper
// fails the audit and its re-check (FailuresToLose); an honest node that
// lost its disk says so. An offline holder is audited once it is back.
func (s *sim) detect(slot, h int32) {
	if s.holder[slot] != h || s.flags[slot]&(slotPresent|slotLost) != 0 {
		return
	}
	if !s.nodes[h].online {
		s.at(s.pc.OfflineGrace.Milliseconds()/4+1, evDetect, slot, uint32(h))
		return
	}
	st := s.shardState(slot)
	var d policy.AuditDecision
	if s.nodes[h].dropper {
		for n := 0; n < policy.FailuresToLose && !d.Lost; n++ {
			d = s.p.AuditResult(t(s.now), st, policy.AuditNoProof)
			st = d.Shard
		}
	} else {
		d = s.p.AuditResult(t(s.now), st, policy.AuditNotHeld)
	}
	if d.Lost {
		s.declareLost(slot)
	}
}

func (s *sim) declareLost(slot int32) {
	if s.flags[slot]&slotLost != 0 {
		return
	}
	counted := s.counted(slot)
	s.flags[slot] |= slotLost
	s.res.ShardsFoundLost++
	if seg := slot / int32(s.n); counted && s.segFlags[seg]&segDead == 0 {
		s.healthy[seg]--
		s.maybeRepair(seg, 0)
	}
}

// maybeRepair schedules a repair check of seg after delay if it is at or
// below the repair threshold and none is pending.
func (s *sim) maybeRepair(seg int32, delay int64) {
	if !s.c.Repair || s.segFlags[seg]&(segDead|segPending) != 0 || int(s.healthy[seg]) > s.threshold {
		return
	}
	s.segFlags[seg] |= segPending
	s.at(delay, evRepairCheck, seg, s.segGen[seg])
}

// segment loads seg's records into s.seg and its holders into s.peers,
// as the gateway gives them to the policy.
func (s *sim) segment(seg int32) {
	s.seg.Shards = s.seg.Shards[:0]
	s.seg.ShardSize = s.shardSize
	binary.BigEndian.PutUint32(s.seg.ID[:], uint32(seg))
	clear(s.peers)
	for i := range s.n {
		slot := seg*int32(s.n) + int32(i)
		h := s.holder[slot]
		if h < 0 {
			continue
		}
		s.seg.Shards = append(s.seg.Shards, s.shardState(slot))
		s.peers[s.ids[h]] = s.peerState(h)
	}
}

func (s *sim) peerState(h int32) policy.PeerState {
	nd := &s.nodes[h]
	ps := policy.PeerState{ID: s.ids[h], Block: s.blocks[h], Reachable: nd.online,
		LastContact: t(s.now), Reputation: 1, Placeable: nd.online && !nd.departed}
	if !s.c.Diversity {
		ps.Block = ""
	}
	if !nd.online {
		ps.OfflineSince = t(nd.offlineSince)
	}
	return ps
}

// repairCheck asks the policy about seg and starts its repair.
// The segment is pending throughout: what is found lost meanwhile
// schedules nothing more.
func (s *sim) repairCheck(seg int32) {
	if s.segFlags[seg]&segDead != 0 {
		s.segFlags[seg] &^= segPending
		return
	}
	for range 2 {
		s.segment(seg)
		h := s.p.Segment(t(s.now), s.seg, s.peers)
		if h.Healthy != int(s.healthy[seg]) {
			s.res.PolicyMismatches++
		}
		switch h.Status {
		case policy.SegmentOK:
			s.segFlags[seg] &^= segPending
			return
		case policy.SegmentWaiting:
			s.res.RepairWaits++
			s.segFlags[seg] &^= segPending
			s.maybeRepair(seg, retryWait)
			return
		}
		// Reading K shards: a holder that answers without the bytes is
		// found out (not held) and the segment judged again.
		found := false
		for i := range s.n {
			slot := seg*int32(s.n) + int32(i)
			if hd := s.holder[slot]; hd >= 0 && s.nodes[hd].online && s.flags[slot]&(slotPresent|slotLost) == 0 {
				s.declareLost(slot)
				found = true
			}
		}
		if !found {
			break
		}
	}
	s.toMake = s.p.MissingIndexes(t(s.now), s.seg, s.peers, s.toMake[:0])
	if len(s.toMake) == 0 {
		s.segFlags[seg] &^= segPending
		return
	}
	var mask uint64
	for _, i := range s.toMake {
		mask |= 1 << i
	}
	s.plans[seg] = mask
	s.res.Repairs++
	cost := s.p.RepairCost(s.shardSize, len(s.toMake))
	done := s.now
	if !s.c.InstantRepair {
		rate := min(s.pc.RepairBytesPerSecond, s.c.OwnerBandwidth) / msPerSecond
		done = s.useLane(seg, float64(cost)/rate)
	}
	s.res.RepairBytes += cost
	s.at(done-s.now, evRepairDone, seg, s.segGen[seg])
}

// useLane takes ms of seg's owner's uplink, from when it is free, and
// returns when that is done.
func (s *sim) useLane(seg int32, ms float64) int64 {
	o := int(seg) % s.owners
	start := max(s.lane[o], float64(s.now))
	s.lane[o] = start + ms
	return int64(math.Ceil(s.lane[o]))
}

// repairDone places seg's new shards, drops the records they replace
// (releasing what those held) and checks the segment again.
func (s *sim) repairDone(seg int32) {
	s.segFlags[seg] &^= segPending
	mask := s.plans[seg]
	delete(s.plans, seg)
	if s.segFlags[seg]&segDead != 0 {
		return
	}
	s.toMake = s.toMake[:0]
	for i := range s.n {
		if mask&(1<<i) != 0 {
			s.toMake = append(s.toMake, i)
		}
	}
	delay := int64(0)
	if s.placeIndexes(seg, s.toMake) < len(s.toMake) {
		delay = retryWait // too few targets now: try again later
	}
	s.maybeRepair(seg, delay)
}

// upload places a new segment seg (all N shards); charged to its
// owner's uplink unless initial.
func (s *sim) upload(seg int32, charge bool) {
	s.toMake = s.toMake[:0]
	for i := range s.n {
		s.toMake = append(s.toMake, i)
	}
	s.minAlive[seg] = int8(s.n)
	placed := s.placeIndexes(seg, s.toMake)
	if d := s.p.Write(placed); !d.Commit {
		s.res.UploadsFailed++
	}
	if charge {
		bytes := int64(s.n) * s.shardSize
		s.res.UploadBytes += bytes
		s.useLane(seg, float64(bytes)/(s.c.OwnerBandwidth/msPerSecond))
	}
	s.maybeRepair(seg, 0)
}

// churn overwrites a random live segment: the old one is released, a
// new one uploaded in its place.
func (s *sim) churn() {
	seg := int32(s.rng.IntN(s.c.Segments))
	if s.segFlags[seg]&segDead != 0 {
		return
	}
	s.retire(seg)
	for i := range s.n {
		s.drop(seg*int32(s.n) + int32(i))
	}
	s.segGen[seg]++
	s.segFlags[seg] = 0
	delete(s.plans, seg)
	s.upload(seg, true)
	s.res.SegmentsStored++
}

// retire counts seg's least margin into the histogram.
func (s *sim) retire(seg int32) {
	m := int(s.minAlive[seg]) - s.k
	if s.segFlags[seg]&segDead != 0 {
		m = -1
	}
	s.margins[max(m, -1)+1]++
}

// read samples one read attempt: a random segment, readable if K of its
// holders are online with the bytes.
func (s *sim) read() {
	seg := int32(s.rng.IntN(s.c.Segments))
	s.dayReads++
	s.res.Reads++
	if s.segFlags[seg]&segDead != 0 {
		return
	}
	ok := 0
	for i := range s.n {
		slot := seg*int32(s.n) + int32(i)
		if h := s.holder[slot]; h >= 0 && s.nodes[h].online && s.flags[slot]&slotPresent != 0 {
			ok++
		}
	}
	if ok >= s.k {
		s.dayReadsOK++
		s.res.ReadsOK++
	}
}

// sample closes one day of the time series.
func (s *sim) sample() {
	day := s.now / msPerDay
	online := 0
	for i := range s.nodes {
		if s.nodes[i].online && !s.nodes[i].departed {
			online++
		}
	}
	// Audits and renewals are steady: each record is audited once per
	// AuditInterval and renewed once per Lease - RenewBefore.
	dayD := float64(24 * time.Hour)
	s.res.AuditBytes += float64(s.records) * dayD / float64(s.pc.AuditInterval) * float64(s.p.AuditCost(s.shardSize))
	s.res.LeaseRenewals += float64(s.records) * dayD / float64(s.pc.Lease-s.pc.RenewBefore)
	avail := 1.0
	if s.dayReads > 0 {
		avail = float64(s.dayReadsOK) / float64(s.dayReads)
	}
	s.res.Series = append(s.res.Series, Sample{
		Day: int(day), SegmentsLost: s.res.SegmentsLost, Availability: avail,
		RepairBytes: s.res.RepairBytes, UploadBytes: s.res.UploadBytes,
		NodesOnline: online, RepairsPending: len(s.plans),
	})
	s.dayReads, s.dayReadsOK = 0, 0
	s.weights.rebuild() // drop the day's rounding drift
}

func (s *sim) finish() {
	for seg := range s.c.Segments {
		s.retire(int32(seg))
	}
	s.res.summarize(s.c, s.margins)
}
