package node

import (
	"fmt"
	"sync"

	"ishtar/meta"
	"ishtar/shard"
)

// Shard uploads are admitted against the Limits before their body is
// read, and reserve capacity in steps as the body arrives: a caller that
// declares a large shard and sends nothing holds one upload slot and one
// step, never the declared size. A refusal because of uploads in flight
// is ErrBusy; ErrInsufficientStorage only ever means that the shards
// committed leave no room.

// admission counts the uploads in flight and their reserved bytes, per
// caller identity, per address block and in total. Entries exist only
// while uploads are in flight, so its memory is bounded by Limits.Uploads.
type admission struct {
	mu       sync.Mutex
	uploads  int
	reserved int64
	peers    map[shard.PublicKey]*inflight
	blocks   map[string]*inflight
}

type inflight struct {
	uploads int
	bytes   int64
}

func newAdmission() *admission {
	return &admission{peers: make(map[shard.PublicKey]*inflight), blocks: make(map[string]*inflight)}
}

// upload is one admitted shard upload; done must be called once.
type upload struct {
	s        *Server
	peer     shard.PublicKey
	block    string
	size     int64
	reserved int64
	credit   *credit // the owner's credit it reserved, if any
	// delegated: the body goes to another node, not to this one's disk.
	delegated bool
}

// used returns the bytes of committed shards.
func (s *Server) used() (int64, error) {
	used, err := s.db.Counter(meta.CounterUsedBytes)
	if err != nil {
		return 0, fmt.Errorf("node: read used capacity: %w", err)
	}
	return used, nil
}

// admitUpload admits an upload of size bytes for owner from peer, calling
// from address block: within the capacity, the owner's credit (see
// Credit) and the limits of uploads in flight. It reserves the first step.
//
// A delegated upload (forwarded to another node as it arrives) takes no
// capacity: only the credit and the limits apply.
func (s *Server) admitUpload(owner, peer shard.PublicKey, block string, size int64, delegated bool) (*upload, error) {
	used, err := s.used()
	if err != nil {
		return nil, err
	}
	if !delegated && used+size+meta.HoldingOverhead > s.cfg.Capacity {
		return nil, errorf(ErrInsufficientStorage, "%d bytes free, %d needed", max(s.cfg.Capacity-used, 0), size+meta.HoldingOverhead)
	}
	cr, err := s.reserveCredit(owner, block, size)
	if err != nil {
		return nil, err
	}
	lim := &s.cfg.Limits
	a := s.adm
	a.mu.Lock()
	p, b := a.peers[peer], a.blocks[block]
	var busy error
	switch {
	case a.uploads >= lim.Uploads:
		busy = busyFor(0, "%d uploads in flight, at most %d", a.uploads, lim.Uploads)
	case p != nil && p.uploads >= lim.UploadsPerPeer:
		busy = busyFor(0, "%d uploads in flight from this node, at most %d", p.uploads, lim.UploadsPerPeer)
	case b != nil && b.uploads >= lim.UploadsPerBlock:
		busy = busyFor(0, "%d uploads in flight from address block %s, at most %d", b.uploads, block, lim.UploadsPerBlock)
	}
	if busy != nil {
		a.mu.Unlock()
		s.releaseCredit(cr)
		return nil, busy
	}
	if p == nil {
		p = &inflight{}
		a.peers[peer] = p
	}
	if b == nil {
		b = &inflight{}
		a.blocks[block] = b
	}
	a.uploads++
	p.uploads++
	b.uploads++
	a.mu.Unlock()
	u := &upload{s: s, peer: peer, block: block, size: size, credit: cr, delegated: delegated}
	if err := u.grow(min(size, reserveStep), used); err != nil {
		u.done()
		return nil, err
	}
	return u, nil
}

// reserveNext reserves the next step of the body, up to its size.
func (u *upload) reserveNext() error {
	used, err := u.s.used()
	if err != nil {
		return err
	}
	return u.grow(min(reserveStep, u.size-u.reserved), used)
}

// grow reserves n more bytes, given the committed bytes used.
func (u *upload) grow(n, used int64) error {
	if err := u.s.growCredit(u.credit, u.reserved+n); err != nil {
		return err
	}
	s, lim, a := u.s, &u.s.cfg.Limits, u.s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	p, b := a.peers[u.peer], a.blocks[u.block]
	switch {
	case !u.delegated && used+u.size+meta.HoldingOverhead > s.cfg.Capacity:
		return errorf(ErrInsufficientStorage, "%d bytes free, %d needed", max(s.cfg.Capacity-used, 0), u.size+meta.HoldingOverhead)
	case !u.delegated && used+a.reserved+n > s.cfg.Capacity:
		return busyFor(0, "uploads in flight hold the free capacity")
	case p.bytes+n > lim.InflightPerPeer:
		return busyFor(0, "uploads in flight from this node hold %d bytes, at most %d", p.bytes, lim.InflightPerPeer)
	case b.bytes+n > lim.InflightPerBlock:
		return busyFor(0, "uploads in flight from address block %s hold %d bytes, at most %d", u.block, b.bytes, lim.InflightPerBlock)
	}
	if !u.delegated {
		a.reserved += n
	}
	p.bytes += n
	b.bytes += n
	u.reserved += n
	return nil
}

// done gives back the upload's slot and reservations (after its commit has
// counted the bytes as used, or after it failed).
func (u *upload) done() {
	u.s.releaseCredit(u.credit)
	u.credit = nil
	a := u.s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	a.uploads--
	if !u.delegated {
		a.reserved -= u.reserved
	}
	p, b := a.peers[u.peer], a.blocks[u.block]
	p.uploads--
	p.bytes -= u.reserved
	if p.uploads == 0 {
		delete(a.peers, u.peer)
	}
	b.uploads--
	b.bytes -= u.reserved
	if b.uploads == 0 {
		delete(a.blocks, u.block)
	}
	u.reserved = 0
}
