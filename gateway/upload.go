package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// stored is what an upload left on the network, ready to commit.
type stored struct {
	segs    []meta.Segment      // in order, Refs 1
	failed  []meta.PendingShard // failed attempts: released at commit
	journal []meta.SegmentID    // journal entries to remove at commit
	etag    string              // hex MD5
	size    int64
}

// bytes returns the stored size of the segments after expansion.
func (s *stored) bytes() int64 {
	var n int64
	for _, seg := range s.segs {
		n += storedBytes(seg)
	}
	return n
}

// storedBytes is the size of the shards of seg that nodes acknowledged.
func storedBytes(seg meta.Segment) int64 {
	p := shard.Params{K: seg.K, N: seg.N, BlockSize: seg.BlockSize}
	size := shard.ShardSize(p, seg.SealedSize)
	var n int64
	for _, sh := range seg.Shards {
		if sh.Stored() {
			n += size
		}
	}
	return n
}

// expansion returns the bytes an upload of size bytes stores on the
// network: N shards of every segment.
func (g *Gateway) expansion(size int64) int64 {
	p, seg := g.cfg.Params, g.cfg.SegmentSize
	per := func(n int64) int64 { return shard.EncodedSize(p, shard.SealedSize(n, p.BlockSize)) }
	total := size / seg * per(seg)
	if rest := size % seg; rest > 0 || size == 0 {
		total += per(rest)
	}
	return total
}

// reserve promises need bytes of capacity to an upload; the function it
// returns gives them back (after the commit has counted them).
func (g *Gateway) reserve(need int64) (func(), error) {
	if g.cfg.Capacity <= 0 {
		return func() {}, nil
	}
	g.quotaMu.Lock()
	defer g.quotaMu.Unlock()
	used, err := g.db.Counter(meta.CounterStoredBytes)
	if err != nil {
		return nil, err
	}
	if used+g.reserved+need > g.cfg.Capacity {
		return nil, fmt.Errorf("%w: %d stored + %d in flight + %d new > %d", errQuota, used, g.reserved, need, g.cfg.Capacity)
	}
	g.reserved += need
	var once sync.Once
	return func() {
		once.Do(func() {
			g.quotaMu.Lock()
			g.reserved -= need
			g.quotaMu.Unlock()
		})
	}, nil
}

// upload is one PutObject or UploadPart in flight. Its loop reads a
// segment, hashes it (MD5, for the ETag) while sealing it, and hands it to
// a goroutine that encodes and stores it, so the next segment is read and
// hashed while the previous ones are stored. At most uploadDepth segments
// of one upload are stored at once; the gateway's semaphore bounds all.
type upload struct {
	g       *Gateway
	ctx     context.Context
	cancel  context.CancelCauseFunc
	batch   [16]byte // first 16 bytes of the segment IDs
	object  [16]byte // SegmentContext.Object
	base    uint64   // segment number of the first segment
	dk      shard.DataKey
	wrapped []byte
	md5     hash.Hash
	depth   chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	segs    []meta.Segment
	failed  []meta.PendingShard
	journal []meta.SegmentID
}

const uploadDepth = 2

// parallelHashMin is the segment size from which MD5 runs beside sealing.
const parallelHashMin = 256 << 10

// storeBody stores exactly size bytes of body, then checks that body ends
// (io.EOF, or the integrity error it returns instead), as segments sealed
// under a new data key in SegmentContext object, numbered from base. On
// error everything it sent is queued for release.
func (g *Gateway) storeBody(ctx context.Context, body io.Reader, size int64, object [16]byte, base uint64) (*stored, error) {
	u := &upload{g: g, object: object, base: base, md5: md5.New(), depth: make(chan struct{}, uploadDepth)}
	u.ctx, u.cancel = context.WithCancelCause(ctx)
	defer u.cancel(nil)
	if err := g.randomBytes(u.batch[:]); err != nil {
		return nil, err
	}
	var err error
	if u.dk, err = shard.NewDataKey(g.rand); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if u.wrapped, err = g.owner.Wrap.Wrap(u.dk, g.rand); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	nseg := max(1, (size+g.cfg.SegmentSize-1)/g.cfg.SegmentSize)
	u.segs = make([]meta.Segment, nseg)
	for i := range nseg {
		n := min(g.cfg.SegmentSize, size-i*g.cfg.SegmentSize)
		if err = u.next(int(i), n, body); err != nil {
			u.cancel(err)
			break
		}
	}
	if err == nil {
		err = expectEOF(body)
		if err != nil {
			u.cancel(err)
		}
	}
	u.wg.Wait()
	if err == nil {
		err = context.Cause(u.ctx)
	}
	if err != nil {
		g.abandon(u.journal)
		return nil, err
	}
	return &stored{segs: u.segs, failed: u.failed, journal: u.journal,
		etag: hex.EncodeToString(u.md5.Sum(nil)), size: size}, nil
}

// expectEOF checks that body has nothing after the declared size: it must
// return io.EOF, or the integrity error (*s3api.Error) it has instead.
func expectEOF(body io.Reader) error {
	var one [1]byte
	for range 100 { // a Reader may return 0, nil a few times
		n, err := body.Read(one[:])
		switch {
		case n > 0:
			return fmt.Errorf("%w: more bytes than declared", errIncompleteBody)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return bodyError(err)
		}
	}
	return fmt.Errorf("gateway: read body: %w", io.ErrNoProgress)
}

// next reads segment i (n bytes), hashes and seals it, and starts storing
// it in the background.
func (u *upload) next(i int, n int64, body io.Reader) error {
	g := u.g
	weight := segmentWeight(g.cfg.Params, n)
	if err := g.sem.acquire(u.ctx, weight); err != nil {
		return err
	}
	select {
	case u.depth <- struct{}{}:
	case <-u.ctx.Done():
		g.sem.release(weight)
		return context.Cause(u.ctx)
	}
	done := func() { <-u.depth; g.sem.release(weight) }
	plain := g.bufs.get(int(n))
	if _, err := io.ReadFull(body, plain); err != nil {
		g.bufs.put(plain)
		done()
		return bodyError(err)
	}
	g.st.bytesIn.Add(n)
	sctx := shard.SegmentContext{Object: u.object, Segment: u.base + uint64(i)}
	if err := g.randomBytes(sctx.Salt[:]); err != nil {
		g.bufs.put(plain)
		done()
		return err
	}
	sealedLen := shard.SealedSize(n, g.cfg.Params.BlockSize)
	enc := g.bufs.get(int(shard.EncodedSize(g.cfg.Params, sealedLen)))
	c := shard.NewSegmentCipher(u.dk, sctx, g.cfg.Params.BlockSize)
	if n >= parallelHashMin {
		hashed := make(chan struct{})
		go func() { u.md5.Write(plain); close(hashed) }()
		c.Seal(enc[:0], plain)
		<-hashed
	} else {
		u.md5.Write(plain)
		c.Seal(enc[:0], plain)
	}
	g.bufs.put(plain)
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer done()
		defer g.bufs.put(enc)
		if err := u.store(i, enc, sctx, n, sealedLen); err != nil {
			u.cancel(err)
		}
	}()
	return nil
}

// segmentID is the catalog ID of segment number num of an upload batch.
func segmentID(batch [16]byte, num uint64) meta.SegmentID {
	var id meta.SegmentID
	copy(id[:], batch[:])
	binary.BigEndian.PutUint64(id[16:], num)
	return id
}

// store encodes a sealed segment held in enc, computes its shard IDs and
// puts the shards on peers.
func (u *upload) store(i int, enc []byte, sctx shard.SegmentContext, plainLen, sealedLen int64) error {
	g := u.g
	if err := u.ctx.Err(); err != nil {
		return context.Cause(u.ctx)
	}
	p := g.cfg.Params
	shards, err := shard.EncodeInPlace(p, enc, sealedLen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	seg := meta.Segment{
		ID: segmentID(u.batch, sctx.Segment), Object: sctx.Object, Number: sctx.Segment, Salt: sctx.Salt,
		WrappedKey: u.wrapped, PlainSize: plainLen, SealedSize: sealedLen,
		K: p.K, N: p.N, BlockSize: p.BlockSize, Refs: 1, Shards: make([]meta.SegmentShard, p.N),
	}
	ids := shardIDs(shards, p.BlockSize)
	failed, err := g.putSegment(u.ctx, &seg, shards, ids, func(id meta.SegmentID) {
		u.mu.Lock()
		u.journal = append(u.journal, id)
		u.mu.Unlock()
	})
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failed = append(u.failed, failed...)
	u.segs[i] = seg
	return err
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
	g      *Gateway
	seg    *meta.Segment
	shards [][]byte
	ids    []shard.ID
	pl     *placer

	mu      sync.Mutex
	journal meta.Journal
	failed  []meta.PendingShard
	errs    []error
}

// putSegment stores the N shards of seg on N distinct peers in parallel,
// retrying a failed shard on the next-best peer, and fills seg.Shards with
// the checked receipts. The journal entry naming every shard sent is
// written before the shard is (onJournal is told once). It returns the
// failed attempts, to be released; fewer than MinAcks acknowledged shards
// is errTooFewPeers.
func (g *Gateway) putSegment(ctx context.Context, seg *meta.Segment, shards [][]byte, ids []shard.ID,
	onJournal func(meta.SegmentID)) ([]meta.PendingShard, error) {
	size := int64(len(shards[0]))
	sp := &segmentPut{g: g, seg: seg, shards: shards, ids: ids, pl: g.newPlacer(seg.ID, size),
		journal: meta.Journal{Segment: seg.ID, Created: g.now().UnixNano()}}
	targets := make([]PeerInfo, len(shards))
	for i := range shards {
		if t, ok := sp.pl.pick(i); ok {
			targets[i] = t
			sp.journal.Shards = append(sp.journal.Shards, meta.PendingShard{Shard: ids[i], Node: t.ID, Size: size})
		}
	}
	if n := len(sp.journal.Shards); n < g.cfg.MinAcks {
		return nil, fmt.Errorf("%w: %d usable peers for %d shards (%d needed)", errTooFewPeers, n, len(shards), g.cfg.MinAcks)
	}
	if err := g.writeJournal(sp.journal); err != nil {
		return nil, err
	}
	onJournal(seg.ID)
	var wg sync.WaitGroup
	for i, t := range targets {
		if t.Peer != nil {
			wg.Go(func() { sp.put(ctx, i, t) })
		}
	}
	wg.Wait()
	acks := 0
	for _, sh := range seg.Shards {
		if sh.Stored() {
			acks++
		}
	}
	if acks < g.cfg.MinAcks {
		if err := ctx.Err(); err != nil {
			return sp.failed, context.Cause(ctx)
		}
		return sp.failed, fmt.Errorf("%w: %d of %d shards stored, %d needed: %w",
			errTooFewPeers, acks, len(shards), g.cfg.MinAcks, errors.Join(sp.errs...))
	}
	return sp.failed, nil
}

// put stores shard i, first on target, then on the next-best peers; a
// busy peer is asked again after the delay it asked for when no better
// peer is left.
func (sp *segmentPut) put(ctx context.Context, i int, target PeerInfo) {
	g := sp.g
	size := int64(len(sp.shards[i]))
	for attempt := 1; ; attempt++ {
		err := g.waitBusy(ctx, target.ID)
		var r shard.Receipt
		if err == nil {
			r, err = g.putShard(ctx, target, sp.ids[i], sp.shards[i])
		}
		if err == nil {
			sp.stored(i, r)
			return
		}
		sp.mu.Lock()
		sp.failed = append(sp.failed, meta.PendingShard{Shard: sp.ids[i], Node: target.ID, Size: size})
		sp.errs = append(sp.errs, err)
		sp.mu.Unlock()
		if ctx.Err() != nil || attempt >= g.cfg.PutAttempts {
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

// stored records shard i's receipt. An earlier attempt on the same node
// (it was busy) is no longer a failed one: releasing it would delete the
// shard.
func (sp *segmentPut) stored(i int, r shard.Receipt) {
	sp.seg.Shards[i] = meta.SegmentShard{ID: sp.ids[i], Node: r.Node, Holder: r.Holder,
		LeaseExpiry: r.LeaseExpiry, Time: r.Time, Sig: r.Sig}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	kept := sp.failed[:0]
	for _, f := range sp.failed {
		if f.Shard != sp.ids[i] || f.Node != r.Node {
			kept = append(kept, f)
		}
	}
	sp.failed = kept
}

// waitBusy waits until peer id is no longer busy (at most BusyMax): it is
// tried only when no better peer is left.
func (g *Gateway) waitBusy(ctx context.Context, id shard.PublicKey) error {
	d := min(g.health.busyLeft(id), g.cfg.BusyMax)
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
	sp.journal.Shards = append(sp.journal.Shards, meta.PendingShard{Shard: id, Node: node, Size: size})
	return sp.g.writeJournal(sp.journal)
}

// writeJournal writes a journal entry durably before any shard it names is
// sent. It must sync: a NoSync commit may still sit in Pebble's in-memory
// log buffer when the process is killed, and the shards already sent would
// then be orphans nobody knows of. Concurrent entries share one fsync
// (Pebble's group commit).
func (g *Gateway) writeJournal(j meta.Journal) error {
	b := g.db.NewBatch()
	defer b.Close()
	if err := b.PutJournal(j); err != nil {
		return fmt.Errorf("gateway: journal segment: %w", err)
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("gateway: journal segment: %w", err)
	}
	return nil
}

// putShard stores one shard on one peer under a fresh store grant and
// checks the receipt.
func (g *Gateway) putShard(ctx context.Context, p PeerInfo, id shard.ID, data []byte) (shard.Receipt, error) {
	now := g.now()
	size := int64(len(data))
	grant := shard.Grant{Op: shard.OpStore, Shard: id, Size: size,
		LeaseExpiry: now.Add(g.cfg.Lease).Unix(), Time: now.UnixNano()}
	grant.Sign(g.owner.Signing)
	rctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	body := &guardedReader{r: bytes.NewReader(data)}
	r, err := p.Peer.PutShard(rctx, id, body, size, grant)
	body.close()
	cancel()
	if err == nil {
		rv, ok := p.Peer.(receiptVerifier)
		err = g.checkReceipt(r, grant, p.ID, !ok || !rv.VerifiesReceipts())
	}
	g.observe(ctx, p, size, err)
	if err != nil {
		return r, fmt.Errorf("gateway: store shard %s on %s: %w", id, p.ID, err)
	}
	g.st.shardsOut.Add(1)
	return r, nil
}

// checkReceipt checks that r is p's signature over exactly what was
// granted; verify false skips the signature, which the peer's client
// verified already (see receiptVerifier).
func (g *Gateway) checkReceipt(r shard.Receipt, grant shard.Grant, p shard.PublicKey, verify bool) error {
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

var errReaderClosed = errors.New("gateway: shard body read after its request ended")

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
