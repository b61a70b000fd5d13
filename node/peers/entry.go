package peers

import (
	"container/heap"
	"time"

	"ishtar/shard"
)

// entry is one node in the registry.
type entry struct {
	rec    shard.NodeRecord
	source string // the address block it was first heard of from
	blk    *block
	change uint64 // number of its last stored change
	stored int64  // unix nanoseconds when its record was stored
	due    int64  // unix seconds from when DueForChallenge hands it out
	h      history

	pos    int32 // in Registry.new or Registry.tried
	srcPos int32 // in its source's list, while in "new"
	blkPos int32 // in blk.list
	qpos   int32 // in Registry.queue

	tried  bool // in "tried"
	moved  bool // tried, but its address changed and is not verified
	dirty  bool // differs from the catalog
	listed bool // in Registry.dirty
	gone   bool // removed from the registry
	why    why  // placeability, as last ranked
}

// source is an address block records come from, with its entries in
// "new".
type source struct {
	name string
	list []*entry
	full bool // at its quota (logged once)
}

// block is an address block peers advertise, with its entries.
type block struct {
	name string
	list []*entry
}

// why a tried entry is not placeable.
type why uint8

const (
	placeable why = iota
	whyNew
	whyMoved
	whyExpired
	whyBackoff
	whyLied
	whyBlock
	whyNoSpace
)

// WhyBackoff is Peer.Why of a verified peer that is placeable but for
// its back-off: it stopped answering and is retried later.
const WhyBackoff = "not answering"

var whyText = [...]string{
	"", "not verified", "address not verified", "record expired",
	WhyBackoff, "lied", "better peers in its address block",
	"offers no space",
}

func (w why) String() string { return whyText[w] }

// expired reports whether e's record is past its TTL at now.
func (e *entry) expired(now int64, ttl time.Duration) bool {
	return e.rec.Time <= now-int64(ttl/time.Second)
}

// slot selects one of an entry's list positions.
type slot func(*entry) *int32

func atPos(e *entry) *int32    { return &e.pos }
func atSrcPos(e *entry) *int32 { return &e.srcPos }
func atBlkPos(e *entry) *int32 { return &e.blkPos }

func push(list []*entry, e *entry, at slot) []*entry {
	*at(e) = int32(len(list))
	return append(list, e)
}

// drop removes e from list in O(1), moving the last element into its
// place.
func drop(list []*entry, e *entry, at slot) []*entry {
	i, n := *at(e), len(list)-1
	if i < 0 || int(i) > n || list[i] != e {
		return list
	}
	last := list[n]
	list[i] = last
	*at(last) = i
	list[n] = nil
	*at(e) = -1
	return list[:n]
}

// dueQueue orders entries by due time, oldest first (container/heap).
type dueQueue []*entry

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if q[i].due != q[j].due {
		return q[i].due < q[j].due
	}
	return q[i].h.heard < q[j].h.heard
}
func (q dueQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].qpos, q[j].qpos = int32(i), int32(j)
}
func (q *dueQueue) Push(x any) {
	e := x.(*entry)
	e.qpos = int32(len(*q))
	*q = append(*q, e)
}
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	e.qpos = -1
	return e
}

func (q *dueQueue) fix(e *entry) {
	if e.qpos >= 0 {
		heap.Fix(q, int(e.qpos))
	}
}

func (q *dueQueue) remove(e *entry) {
	if e.qpos >= 0 {
		heap.Remove(q, int(e.qpos))
	}
}
