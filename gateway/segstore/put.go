package segstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// parallelHashMin is the shard size from which shard IDs are computed in
// parallel.
const parallelHashMin = 256 << 10

// JournalFunc durably records the shards about to be sent (all of a
// segment's so far, in the order sent), before any of them is: a crash
// must never leave a shard on a peer that nobody knows of. It is called
// once before the first shards go and again before each retry on another
// peer, never concurrently for one segment; it must not keep the slice.
type JournalFunc func(pending []meta.PendingShard) error

// Code is how one segment is coded and when it counts as stored.
type Code struct {
	shard.Params
	// MinAcks is the number of its shards that must be acknowledged for
	// it to count as stored: K to N.
	MinAcks int
}

// Validate checks the params and K <= MinAcks <= N.
func (c Code) Validate() error {
	if err := c.Params.Validate(); err != nil {
		return err
	}
	if c.MinAcks < c.K || c.MinAcks > c.N {
		return fmt.Errorf("min acks %d not in [k=%d, n=%d]", c.MinAcks, c.K, c.N)
	}
	return nil
}

// Put erasure-codes the sealed segment held in the first sealedLen bytes
// of enc with code c, in place (enc is shard.EncodedSize(c.Params,
// sealedLen) long, its contents afterwards the shards), and stores the N
// shards on N distinct peers in parallel (see placer), retrying a failed
// shard on the next-best peer. It returns the shard records, by index,
// each with its checked receipt (a shard no peer stored has a zero
// record), and the failed attempts, for the caller to release. Fewer than
// c.MinAcks acknowledged shards is ErrTooFewPeers; the shards sent are
// then still in failed or among the records. seg is the segment's ID,
// which placement hashes.
func (s *Store) Put(ctx context.Context, seg meta.SegmentID, c Code, enc []byte, sealedLen int64, journal JournalFunc) ([]meta.SegmentShard, []meta.PendingShard, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, fmt.Errorf("segstore: %w", err)
	}
	shards, err := shard.EncodeInPlace(c.Params, enc, sealedLen)
	if err != nil {
		return nil, nil, fmt.Errorf("segstore: %w", err)
	}
	recs := make([]meta.SegmentShard, c.N)
	failed, err := s.putSegment(ctx, seg, c.MinAcks, recs, shards, shardIDs(shards, c.BlockSize), journal)
	return recs, failed, err
}

// shardIDs computes the Merkle IDs of the shards, in parallel when they
// are large.
func shardIDs(shards [][]byte, leaf int) []shard.ID {
	ids := make([]shard.ID, len(shards))
	if len(shards[0]) < parallelHashMin {
		for i, sh := range shards {
			ids[i] = shard.ComputeID(sh, leaf)
		}
		return ids
	}
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() { ids[i] = shard.ComputeID(sh, leaf) })
	}
	wg.Wait()
	return ids
}

// segmentPut is the placement of one segment's shards.
type segmentPut struct {
	s       *Store
	recs    []meta.SegmentShard
	shards  [][]byte
	ids     []shard.ID
	pl      *placer
	journal JournalFunc

	mu      sync.Mutex
	pending []meta.PendingShard // journaled
	failed  []meta.PendingShard
	errs    []error
}

// putSegment stores the N shards of segment seg on N distinct peers in
// parallel, retrying a failed shard on the next-best peer, and fills recs
// with the checked receipts. The journal names every shard sent before it
// is. It returns the failed attempts, to be released; fewer than minAcks
// acknowledged shards is ErrTooFewPeers.
func (s *Store) putSegment(ctx context.Context, seg meta.SegmentID, minAcks int, recs []meta.SegmentShard, shards [][]byte, ids []shard.ID,
	journal JournalFunc) ([]meta.PendingShard, error) {
	size := int64(len(shards[0]))
	sp := &segmentPut{s: s, recs: recs, shards: shards, ids: ids, pl: s.newPlacer(seg, size), journal: journal}
	targets := make([]PeerInfo, len(shards))
	for i := range shards {
		if t, ok := sp.pl.pick(i); ok {
			targets[i] = t
			sp.pending = append(sp.pending, meta.PendingShard{Shard: ids[i], Node: t.ID, Size: size})
		}
	}
	if n := len(sp.pending); n < minAcks {
		return nil, fmt.Errorf("%w: %d usable peers for %d shards (%d needed)", ErrTooFewPeers, n, len(shards), minAcks)
	}
	if err := journal(sp.pending); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	for i, t := range targets {
		if t.Peer != nil {
			wg.Go(func() { sp.put(ctx, i, t) })
		}
	}
	wg.Wait()
	acks := 0
	for _, sh := range recs {
		if sh.Stored() {
			acks++
		}
	}
	if acks < minAcks {
		if err := ctx.Err(); err != nil {
			return sp.failed, context.Cause(ctx)
		}
		return sp.failed, fmt.Errorf("%w: %d of %d shards stored, %d needed: %w",
			ErrTooFewPeers, acks, len(shards), minAcks, errors.Join(sp.errs...))
	}
	return sp.failed, nil
}

// put stores shard i, first on target, then on the next-best peers; a
// busy peer is asked again after the delay it asked for when no better
// peer is left.
func (sp *segmentPut) put(ctx context.Context, i int, target PeerInfo) {
	s := sp.s
	size := int64(len(sp.shards[i]))
	for attempt := 1; ; attempt++ {
		err := s.waitBusy(ctx, target.ID)
		var r shard.Receipt
		if err == nil {
			r, err = s.StoreShard(ctx, target, sp.ids[i], sp.shards[i])
		}
		if err == nil {
			if err = sp.stored(i, r); err == nil {
				return
			}
		}
		sp.mu.Lock()
		sp.failed = append(sp.failed, meta.PendingShard{Shard: sp.ids[i], Node: target.ID, Size: size})
		sp.errs = append(sp.errs, err)
		sp.mu.Unlock()
		if ctx.Err() != nil || attempt >= s.cfg.PutAttempts {
			return
		}
		next, ok := sp.pl.next(i, target, isBusy(err))
		if !ok {
			return
		}
		if next.ID != target.ID {
			if err := sp.addToJournal(sp.ids[i], next.ID, size); err != nil {
				sp.mu.Lock()
				sp.errs = append(sp.errs, err)
				sp.mu.Unlock()
				return
			}
		}
		target = next
	}
}

// errSameHolder: a node delegated a shard to a node that holds another
// shard of the segment (or the other way round), which would put two of
// its shards on one node.
var errSameHolder = errors.New("segstore: the shard went to a node holding another shard of the segment")

// stored records shard i's receipt, unless the node it names as the
// holder (delegation) holds, or answers for, another shard of the segment
// (errSameHolder: the shard is then released, and placed elsewhere). An
// earlier attempt on the same node (it was busy) is no longer a failed
// one: releasing it would delete the shard.
func (sp *segmentPut) stored(i int, r shard.Receipt) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if j := HeldWith(sp.recs, i, r); j >= 0 {
		return fmt.Errorf("%w: %s or %s holds shard %d of the segment", errSameHolder, r.Node, r.Holder, j)
	}
	sp.recs[i] = ShardRecord(r)
	kept := sp.failed[:0]
	for _, f := range sp.failed {
		if f.Shard != sp.ids[i] || f.Node != r.Node {
			kept = append(kept, f)
		}
	}
	sp.failed = kept
	return nil
}

// HeldWith returns the index of a stored shard of shards, other than i,
// that the node answering for receipt r, or the holder it names, holds or
// answers for; -1 if none. Shard i under r would put two of the
// segment's shards on one node (through delegation).
func HeldWith(shards []meta.SegmentShard, i int, r shard.Receipt) int {
	holder := func(node, h [32]byte) [32]byte {
		if h == ([32]byte{}) {
			return node
		}
		return h
	}
	hr := holder(r.Node, r.Holder)
	for j, o := range shards {
		if ho := holder(o.Node, o.Holder); j != i && o.Stored() && (hr == o.Node || hr == ho || r.Node == ho) {
			return j
		}
	}
	return -1
}

// ShardRecord is the catalog record of a shard stored under receipt r,
// which StoreShard checked.
func ShardRecord(r shard.Receipt) meta.SegmentShard {
	return meta.SegmentShard{ID: r.Shard, Node: r.Node, Holder: r.Holder,
		LeaseExpiry: r.LeaseExpiry, Time: r.Time, Sig: r.Sig}
}

// waitBusy waits until peer id is no longer busy (at most BusyMax): it is
// tried only when no better peer is left.
func (s *Store) waitBusy(ctx context.Context, id shard.PublicKey) error {
	d := min(s.health.busyLeft(id), s.cfg.BusyMax)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// addToJournal records one more shard sent before sending it.
func (sp *segmentPut) addToJournal(id shard.ID, node shard.PublicKey, size int64) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.pending = append(sp.pending, meta.PendingShard{Shard: id, Node: node, Size: size})
	return sp.journal(sp.pending)
}

// StoreShard stores one shard, data, with ID id, on peer p under a fresh
// store grant, and returns the peer's receipt once checked (see
// checkReceipt). The caller must have journaled the shard.
func (s *Store) StoreShard(ctx context.Context, p PeerInfo, id shard.ID, data []byte) (shard.Receipt, error) {
	now := s.cfg.Now()
	size := int64(len(data))
	grant := shard.Grant{Op: shard.OpStore, Shard: id, Size: size,
		LeaseExpiry: now.Add(s.cfg.Lease).Unix(), Time: now.UnixNano()}
	grant.Sign(s.cfg.Owner.Signing)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	body := &guardedReader{r: bytes.NewReader(data)}
	r, err := p.Peer.PutShard(rctx, id, body, size, grant)
	body.close()
	cancel()
	if err == nil {
		rv, ok := p.Peer.(receiptVerifier)
		err = checkReceipt(r, grant, p.ID, !ok || !rv.VerifiesReceipts())
	}
	s.observe(ctx, p, size, err)
	if err != nil {
		return r, fmt.Errorf("segstore: store shard %s on %s: %w", id, p.ID, err)
	}
	s.st.shardsOut.Add(1)
	return r, nil
}

// checkReceipt checks that r is p's signature over exactly what was
// granted; verify false skips the signature, which the peer's client
// verified already (see receiptVerifier). It is the one place where
// receipts are checked.
func checkReceipt(r shard.Receipt, grant shard.Grant, p shard.PublicKey, verify bool) error {
	if verify {
		if err := r.Verify(); err != nil {
			return fmt.Errorf("%w: %w", errBadReceipt, err)
		}
	}
	switch {
	case r.Node != p:
		return fmt.Errorf("%w: signed by %s, not the peer asked", errBadReceipt, r.Node)
	case r.Shard != grant.Shard || r.Size != grant.Size || r.Owner != grant.Owner:
		return fmt.Errorf("%w: for shard %s of %d bytes of owner %s, not what was stored", errBadReceipt, r.Shard, r.Size, r.Owner)
	case r.LeaseExpiry < grant.LeaseExpiry:
		return fmt.Errorf("%w: lease to %d, granted %d", errBadReceipt, r.LeaseExpiry, grant.LeaseExpiry)
	}
	return nil
}

// guardedReader reads a shard's bytes for one request; once closed it
// fails, so a transport still reading after the call returned can never
// see the buffer reused for another segment.
type guardedReader struct {
	mu     sync.Mutex
	r      *bytes.Reader
	closed bool
}

var errReaderClosed = errors.New("segstore: shard body read after its request ended")

func (b *guardedReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReaderClosed
	}
	return b.r.Read(p)
}

func (b *guardedReader) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
}
