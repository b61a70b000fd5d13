package gateway

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"ishtar/gateway/segstore"
	"ishtar/meta"
	"ishtar/s3api"
	"ishtar/shard"
)

// stored is what an upload left on the network, ready to commit.
type stored struct {
	segs    []meta.Segment      // in order, Refs 1
	failed  []meta.PendingShard // failed attempts: released at commit
	journal []meta.SegmentID    // journal entries to remove at commit
	etag    string              // hex MD5
	size    int64
	// reserved gives back the quota reserved segment by segment for a
	// body of unknown size; call it once the upload is committed or not.
	reserved []func()
}

// release gives back the quota reserved while storing (see reserved).
func (s *stored) release() {
	for _, f := range s.reserved {
		f()
	}
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
// network in code p: N shards of every segment.
func (g *Gateway) expansion(p shard.Params, size int64) int64 {
	seg := g.cfg.SegmentSize
	per := func(n int64) int64 { return shard.EncodedSize(p, shard.SealedSize(n, p.BlockSize)) }
	total := size / seg * per(seg)
	if rest := size % seg; rest > 0 || size == 0 {
		total += per(rest)
	}
	return total
}

// used is what counts against the quota: the shards on the network and
// the inline objects in the catalog.
func (g *Gateway) used() (int64, error) {
	stored, err := g.db.Counter(meta.CounterStoredBytes)
	if err != nil {
		return 0, err
	}
	inline, err := g.db.Counter(meta.CounterInlineBytes)
	return stored + inline, err
}

// reserve promises need bytes of capacity to an upload; the function it
// returns gives them back (after the commit has counted them).
func (g *Gateway) reserve(need int64) (func(), error) {
	if g.cfg.Capacity <= 0 {
		return func() {}, nil
	}
	g.quotaMu.Lock()
	defer g.quotaMu.Unlock()
	used, err := g.used()
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
	code    segstore.Code // of every segment
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

	reserved []func() // quota of the segments of a body of unknown size
}

const uploadDepth = 2

// parallelHashMin is the segment size from which MD5 runs beside sealing.
const parallelHashMin = 256 << 10

// storeBody stores exactly size bytes of body, then checks that body ends
// (io.EOF, or the integrity error it returns instead), as segments in
// code c sealed under a new data key in SegmentContext object, numbered
// from base. A size of -1 stores body up to its end, a segment at a time,
// reserving quota for each segment read before it is sent (the caller
// reserved none): memory stays bounded by the segment size as for a known
// size. On error everything it sent is queued for release.
func (g *Gateway) storeBody(ctx context.Context, c segstore.Code, body io.Reader, size int64, object [16]byte, base uint64) (*stored, error) {
	u := &upload{g: g, code: c, object: object, base: base, md5: md5.New(), depth: make(chan struct{}, uploadDepth)}
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
	known := size >= 0
	// A body of unknown size is cut off by the S3 handler at its object
	// size limit; the bound here only keeps the loop finite.
	nseg := s3api.MaxPutSize/g.cfg.SegmentSize + 2
	if known {
		nseg = max(1, (size+g.cfg.SegmentSize-1)/g.cfg.SegmentSize)
		u.segs = make([]meta.Segment, nseg)
	}
	var total int64
	ended := false
	for i := range nseg {
		n := g.cfg.SegmentSize
		if known {
			n = min(n, size-i*g.cfg.SegmentSize)
		}
		var got int64
		got, ended, err = u.next(int(i), n, known, body)
		total += got
		if err != nil {
			u.cancel(err)
			break
		}
		if ended {
			break
		}
	}
	if err == nil && !known && !ended {
		err = fmt.Errorf("%w: a body of unknown size ran past %d segments", errTooLarge, nseg)
		u.cancel(err)
	}
	if err == nil && known {
		err = expectEOF(body)
		if err != nil {
			u.cancel(err)
		}
	}
	u.wg.Wait()
	if err == nil {
		err = context.Cause(u.ctx)
	}
	st := &stored{reserved: u.reserved}
	if err != nil {
		g.abandon(u.journal)
		st.release()
		return nil, err
	}
	st.segs, st.failed, st.journal = u.segs, u.failed, u.journal
	st.etag, st.size = hex.EncodeToString(u.md5.Sum(nil)), total
	return st, nil
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

// next reads segment i, hashes and seals it, and starts storing it in the
// background. With exact, the segment is n bytes; otherwise it is up to n
// bytes, end reports that body ended with it, and a segment found empty
// after the first is not stored. got is the number of bytes read.
func (u *upload) next(i int, n int64, exact bool, body io.Reader) (got int64, end bool, err error) {
	g := u.g
	weight := g.weight(u.code.Params, n)
	if err := g.sem.acquire(u.ctx, weight); err != nil {
		return 0, false, err
	}
	select {
	case u.depth <- struct{}{}:
	case <-u.ctx.Done():
		g.sem.release(weight)
		return 0, false, context.Cause(u.ctx)
	}
	done := func() { <-u.depth; g.sem.release(weight) }
	buf := g.store.Buffer(int(n))
	m, err := io.ReadFull(body, buf)
	if err != nil && (exact || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)) {
		g.store.PutBuffer(buf)
		done()
		return 0, false, bodyError(err)
	}
	if err != nil { // the end of a body of unknown size
		end = true
		if m == 0 && i > 0 {
			g.store.PutBuffer(buf)
			done()
			return 0, true, nil
		}
		n = int64(m)
	}
	if !exact {
		// The quota of what was read, before any of it is sent.
		unreserve, err := g.reserve(g.expansion(u.code.Params, n))
		if err != nil {
			g.store.PutBuffer(buf)
			done()
			return 0, false, err
		}
		u.reserved = append(u.reserved, unreserve)
		u.mu.Lock()
		u.segs = append(u.segs, meta.Segment{})
		u.mu.Unlock()
	}
	plain := buf[:n]
	g.st.bytesIn.Add(n)
	sctx := shard.SegmentContext{Object: u.object, Segment: u.base + uint64(i)}
	if err := g.randomBytes(sctx.Salt[:]); err != nil {
		g.store.PutBuffer(buf)
		done()
		return 0, false, err
	}
	p := u.code.Params
	sealedLen := shard.SealedSize(n, p.BlockSize)
	enc := g.store.Buffer(int(shard.EncodedSize(p, sealedLen)))
	c := shard.NewSegmentCipher(u.dk, sctx, p.BlockSize)
	if n >= parallelHashMin {
		hashed := make(chan struct{})
		go func() { u.md5.Write(plain); close(hashed) }()
		c.Seal(enc[:0], plain)
		<-hashed
	} else {
		u.md5.Write(plain)
		c.Seal(enc[:0], plain)
	}
	g.store.PutBuffer(buf)
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer done()
		defer g.store.PutBuffer(enc)
		if err := u.store(i, enc, sctx, n, sealedLen); err != nil {
			u.cancel(err)
		}
	}()
	return n, end, nil
}

// segmentID is the catalog ID of segment number num of an upload batch.
func segmentID(batch [16]byte, num uint64) meta.SegmentID {
	var id meta.SegmentID
	copy(id[:], batch[:])
	binary.BigEndian.PutUint64(id[16:], num)
	return id
}

// store has the segment store encode the sealed segment held in enc and
// put its shards on peers, journaling them first.
func (u *upload) store(i int, enc []byte, sctx shard.SegmentContext, plainLen, sealedLen int64) error {
	g := u.g
	if err := u.ctx.Err(); err != nil {
		return context.Cause(u.ctx)
	}
	p := u.code.Params
	seg := meta.Segment{
		ID: segmentID(u.batch, sctx.Segment), Object: sctx.Object, Number: sctx.Segment, Salt: sctx.Salt,
		WrappedKey: u.wrapped, PlainSize: plainLen, SealedSize: sealedLen,
		K: p.K, N: p.N, BlockSize: p.BlockSize, Refs: 1,
	}
	created, journaled := g.now().UnixNano(), false
	shards, failed, err := g.store.Put(u.ctx, seg.ID, u.code, enc, sealedLen, func(pending []meta.PendingShard) error {
		if err := g.writeJournal(meta.Journal{Segment: seg.ID, Created: created, Shards: pending}); err != nil {
			return err
		}
		if !journaled {
			journaled = true
			u.mu.Lock()
			u.journal = append(u.journal, seg.ID)
			u.mu.Unlock()
		}
		return nil
	})
	if shards == nil {
		shards = make([]meta.SegmentShard, p.N)
	}
	seg.Shards = shards
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failed = append(u.failed, failed...)
	u.segs[i] = seg
	return err
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
