package segstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"ishtar/meta"
	"ishtar/shard"
)

// Segment is a segment ready to be read: its record checked and its key
// unwrapped (see Open).
type Segment struct {
	rec       meta.Segment
	p         shard.Params
	shardSize int64
	blocks    int
	cipher    *shard.SegmentCipher
}

// Params returns the segment's erasure-coding parameters.
func (v *Segment) Params() shard.Params { return v.p }

// Open checks a segment's record and unwraps its key with the owner's.
func (s *Store) Open(rec meta.Segment) (*Segment, error) {
	p := shard.Params{K: rec.K, N: rec.N, BlockSize: rec.BlockSize}
	if err := p.Validate(); err != nil || len(rec.Shards) != p.N || rec.PlainSize < 0 ||
		rec.SealedSize != shard.SealedSize(rec.PlainSize, max(1, rec.BlockSize)) {
		return nil, fmt.Errorf("segstore: segment %x: inconsistent record (params %+v, %d shards): %w", rec.ID, p, len(rec.Shards), meta.ErrCorrupt)
	}
	dk, err := s.cfg.Owner.Wrap.Unwrap(rec.WrappedKey)
	if err != nil {
		return nil, fmt.Errorf("segstore: segment %x: %w", rec.ID, err)
	}
	sctx := shard.SegmentContext{Object: rec.Object, Segment: rec.Number, Salt: rec.Salt}
	return &Segment{rec: rec, p: p, shardSize: shard.ShardSize(p, rec.SealedSize),
		blocks: shard.BlockCount(rec.PlainSize, p.BlockSize), cipher: shard.NewSegmentCipher(dk, sctx, p.BlockSize)}, nil
}

// ReadRange returns n > 0 plaintext bytes of the segment from off, and
// the buffer they sit in (for PutBuffer). It fetches only the sealed
// blocks that hold them, from the data shards, and falls back on verified
// parity (see fetch); fewer than K good shards is ErrUnavailable, never a
// wrong byte.
func (s *Store) ReadRange(ctx context.Context, v *Segment, off, n int64) ([]byte, []byte, error) {
	B := int64(v.p.BlockSize)
	full := B + shard.Overhead
	b0, b1 := off/B, (off+n-1)/B
	s0, s1 := b0*full, min(v.rec.SealedSize, (b1+1)*full)
	f := s.newFetch(ctx, v, s0, s1)
	defer f.finish()
	plainBuf := s.bufs.get(int(min((b1-b0+1)*B, v.rec.PlainSize-b0*B)))
	open := func() ([]byte, error) { return v.cipher.OpenBlocks(plainBuf[:0], f.win, int(b0), v.blocks) }
	err := f.run(true)
	var plain []byte
	if err == nil {
		if plain, err = open(); err != nil {
			// Some peer served bytes that are not the shard: read again
			// from whole shards, each verified against its ID.
			s.st.aeadFailures.Add(1)
			s.cfg.Log.Warn("segstore: shard data failed authentication, reading verified shards", "segment", fmt.Sprintf("%x", v.rec.ID))
			if err = f.run(false); err == nil {
				if plain, err = open(); err != nil {
					err = fmt.Errorf("%w: verified shards of segment %x do not open: %w", ErrUnavailable, v.rec.ID, err)
				}
			}
		}
	}
	if err != nil {
		s.bufs.put(plainBuf)
		return nil, nil, err
	}
	start := off - b0*B
	return plain[start : start+n], plainBuf, nil
}

// span is the part [a, b) of data shard idx that a read needs; it sits in
// the window at idx*S + a - s0.
type span struct {
	idx  int
	a, b int64
}

// fetchResult is the outcome of one shard request.
type fetchResult struct {
	fast bool // a data-shard range (j is a span index), else a whole shard (j is its index)
	j    int
	data []byte // whole shard, verified
	err  error
}

// fetch gathers the sealed window [s0, s1) of a segment. Data-shard ranges
// are fetched into the window directly; a failed, refused or late one
// (HedgeAfter) starts fetches of whole shards, each verified against its
// ID, and the missing ranges are rebuilt by Reed-Solomon from any K. The
// AEAD authenticates whatever came from data shards unverified; if it
// rejects the window, run(false) rebuilds it from verified shards only.
type fetch struct {
	s     *Store
	v     *Segment
	peers map[shard.PublicKey]PeerInfo
	s0    int64
	win   []byte
	spans []span
	res   chan fetchResult
	ctx   context.Context
	stop  context.CancelFunc

	mu       sync.Mutex  // guards win against fetches of spans, closed and progress
	closed   []bool      // span j may no longer be written by its fetch
	progress []time.Time // when span j last received bytes (or started)

	fastOK    []bool // span j arrived
	fastPeer  []PeerInfo
	fastState []int8 // 0 not started, 1 in flight, 2 done
	whole     [][]byte
	launched  []bool // whole shard idx requested
	failed    []bool // whole shard idx failed
	inflight  int
	extra     int // whole shards to ask beyond the need, after slow answers
}

func (s *Store) newFetch(ctx context.Context, v *Segment, s0, s1 int64) *fetch {
	f := &fetch{s: s, v: v, peers: s.PeerIndex(), s0: s0, win: s.bufs.get(int(s1 - s0))}
	f.ctx, f.stop = context.WithCancel(ctx)
	S := v.shardSize
	for i := s0 / S; i*S < s1; i++ {
		f.spans = append(f.spans, span{idx: int(i), a: max(s0, i*S) - i*S, b: min(s1, (i+1)*S) - i*S})
	}
	n := len(f.spans)
	f.closed, f.fastOK, f.fastState = make([]bool, n), make([]bool, n), make([]int8, n)
	f.progress, f.fastPeer = make([]time.Time, n), make([]PeerInfo, n)
	f.whole, f.launched, f.failed = make([][]byte, v.p.N), make([]bool, v.p.N), make([]bool, v.p.N)
	f.res = make(chan fetchResult, n+v.p.N)
	return f
}

// holder returns the peer holding shard idx, if it is known.
func (f *fetch) holder(idx int) (PeerInfo, bool) {
	sh := f.v.rec.Shards[idx]
	if !sh.Stored() {
		return PeerInfo{}, false
	}
	p, ok := f.peers[sh.Node]
	return p, ok
}

// run fills the window; trustFast says whether unverified data-shard
// ranges may be used (the first pass) or not (after an AEAD failure).
func (f *fetch) run(trustFast bool) error {
	hedging := !trustFast
	if trustFast {
		for j, sp := range f.spans {
			p, ok := f.holder(sp.idx)
			if !ok || f.s.health.avoid(p) {
				f.fastState[j] = 2
				hedging = true
				continue
			}
			f.fastState[j] = 1
			f.fastPeer[j] = p
			f.progress[j] = time.Now()
			f.inflight++
			go f.fetchSpan(j, p)
		}
	}
	timer := time.NewTimer(f.s.cfg.HedgeAfter)
	defer timer.Stop()
	for {
		if trustFast && f.allFast() {
			return nil
		}
		if done, err := f.rebuild(trustFast); done || err != nil {
			return err
		}
		if hedging {
			f.launchWhole(trustFast)
		}
		if f.inflight == 0 {
			return fmt.Errorf("%w: segment %x: fewer than %d of %d shards answered with good data",
				ErrUnavailable, f.v.rec.ID, f.v.p.K, f.v.p.N)
		}
		select {
		case r := <-f.res:
			f.inflight--
			if r.fast {
				f.fastState[r.j] = 2
				f.fastOK[r.j] = r.err == nil
				hedging = hedging || r.err != nil
			} else if r.err == nil {
				f.whole[r.j] = r.data
			} else {
				f.failed[r.j] = true
			}
		case <-timer.C:
			// Re-armed: while hedging, every further tick asks one more
			// whole shard, in case those asked are slow too.
			timer.Reset(f.s.cfg.HedgeAfter)
			if hedging {
				f.extra++
			} else if f.stalled() {
				f.s.st.hedges.Add(1)
				hedging = true
			}
		case <-f.ctx.Done():
			return context.Cause(f.ctx)
		}
	}
}

// stalled reports whether a span in flight received nothing for
// HedgeAfter; its peer is then counted as unreachable, so that the next
// reads go to parity at once. A transfer that keeps moving is not hedged.
func (f *fetch) stalled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	stalled := false
	for j, st := range f.fastState {
		if st == 1 && time.Since(f.progress[j]) >= f.s.cfg.HedgeAfter {
			stalled = true
			f.s.health.record(f.fastPeer[j], 0, fmt.Errorf("segstore: no data for %v", f.s.cfg.HedgeAfter))
		}
	}
	return stalled
}

func (f *fetch) allFast() bool {
	for _, ok := range f.fastOK {
		if !ok {
			return false
		}
	}
	return true
}

// missing returns the spans still to fill and the union [u0, u1) of their
// ranges within a shard.
func (f *fetch) missing(trustFast bool) (m []int, u0, u1 int64) {
	u0, u1 = f.v.shardSize, 0
	for j, sp := range f.spans {
		if trustFast && f.fastOK[j] {
			continue
		}
		m = append(m, j)
		u0, u1 = min(u0, sp.a), max(u1, sp.b)
	}
	return m, u0, u1
}

// sources returns, by shard index, the usable bytes [u0, u1) of every
// shard at hand: verified whole shards, and with trustFast the data-shard
// spans that cover the range.
func (f *fetch) sources(trustFast bool, u0, u1 int64) [][]byte {
	src := make([][]byte, f.v.p.N)
	for idx, w := range f.whole {
		if w != nil {
			src[idx] = w[u0:u1:u1]
		}
	}
	if trustFast {
		for j, sp := range f.spans {
			if f.fastOK[j] && src[sp.idx] == nil && sp.a <= u0 && sp.b >= u1 {
				at := sp.idx*int(f.v.shardSize) + int(sp.a) - int(f.s0)
				src[sp.idx] = f.win[at+int(u0-sp.a) : at+int(u1-sp.a) : at+int(u1-sp.a)]
			}
		}
	}
	return src
}

func count(src [][]byte) int {
	n := 0
	for _, s := range src {
		if s != nil {
			n++
		}
	}
	return n
}

// rebuild fills the missing spans when it can: from verified whole data
// shards as they are, else by Reed-Solomon from K sources.
func (f *fetch) rebuild(trustFast bool) (bool, error) {
	m, u0, u1 := f.missing(trustFast)
	if len(m) == 0 {
		return true, nil
	}
	var rs []int
	for _, j := range m {
		if f.whole[f.spans[j].idx] == nil {
			rs = append(rs, j)
		}
	}
	src := f.sources(trustFast, u0, u1)
	if len(rs) > 0 && count(src) < f.v.p.K {
		return false, nil
	}
	var out []byte
	L := u1 - u0
	if len(rs) > 0 {
		buf := f.s.bufs.get(int(int64(f.v.p.K) * L))
		defer f.s.bufs.put(buf)
		var err error
		if out, err = shard.ReconstructInto(f.v.p, buf, src, int64(f.v.p.K)*L); err != nil {
			return false, fmt.Errorf("segstore: segment %x: %w", f.v.rec.ID, err)
		}
		f.s.st.reconstructions.Add(1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range m {
		sp := f.spans[j]
		f.closed[j] = true
		at := int64(sp.idx)*f.v.shardSize + sp.a - f.s0
		dst := f.win[at : at+sp.b-sp.a]
		var good []byte
		if w := f.whole[sp.idx]; w != nil {
			good = w[sp.a:sp.b]
		} else {
			base := int64(sp.idx)*L - u0
			good = out[base+sp.a : base+sp.b]
		}
		if !trustFast && f.fastOK[j] && !bytes.Equal(dst, good) {
			// Rebuilt from verified shards only: the range its peer sent
			// was false.
			f.s.Lied(f.fastPeer[j].ID, fmt.Errorf("%w: range [%d, %d) of shard %d of segment %x",
				shard.ErrCorrupt, sp.a, sp.b, sp.idx, f.v.rec.ID))
		}
		copy(dst, good)
	}
	return true, nil
}

// launchWhole requests whole shards: in the first pass as many as may
// still be needed for K sources, in the fallback every one not yet asked.
// Peers that are in back-off or busy come last, and before them peers
// that lied lately.
func (f *fetch) launchWhole(trustFast bool) {
	need := f.v.p.N
	var have [][]byte // sources at hand already, by shard index
	if trustFast {
		_, u0, u1 := f.missing(true)
		have = f.sources(true, u0, u1)
		need = f.v.p.K - count(have) + f.extra
		for idx, l := range f.launched {
			if l && f.whole[idx] == nil && !f.failed[idx] {
				need-- // in flight
			}
		}
	}
	type cand struct {
		idx  int
		rank int
		p    PeerInfo
	}
	var cands []cand
	for idx := range f.v.p.N {
		p, ok := f.holder(idx)
		if f.launched[idx] || !ok || (have != nil && have[idx] != nil) {
			continue // asked, unknown, or its range is here: the whole shard adds nothing
		}
		rank := 0
		for j, sp := range f.spans {
			if sp.idx == idx && !f.fastOK[j] {
				rank = 1 // its range failed or is late already
			}
		}
		if f.s.health.reputation(p.ID) < 1/(1+suspectAt) {
			rank += 2 // it lied lately: honest peers first
		}
		if f.s.health.avoid(p) {
			rank += 4
		}
		cands = append(cands, cand{idx, rank, p})
	}
	// The most reliable holders first, within a rank.
	sort.SliceStable(cands, func(a, b int) bool {
		ca, cb := cands[a], cands[b]
		return ca.rank < cb.rank || (ca.rank == cb.rank && ca.p.Uptime > cb.p.Uptime)
	})
	for _, c := range cands {
		if need <= 0 {
			return
		}
		f.launched[c.idx] = true
		f.inflight++
		need--
		go f.fetchWhole(c.idx, c.p)
	}
}

// fetchSpan fetches span j from peer p straight into the window.
func (f *fetch) fetchSpan(j int, p PeerInfo) {
	sp := f.spans[j]
	at := int64(sp.idx)*f.v.shardSize + sp.a - f.s0
	w := &winWriter{f: f, j: j, off: at}
	err := f.s.getShard(f.ctx, p, f.v.rec.Shards[sp.idx].ID, sp.a, sp.b-sp.a, w)
	f.res <- fetchResult{fast: true, j: j, err: err}
}

// fetchWhole fetches whole shard idx from p and verifies it.
func (f *fetch) fetchWhole(idx int, p PeerInfo) {
	buf, err := f.s.FetchShard(f.ctx, p, shard.ID(f.v.rec.Shards[idx].ID), f.v.shardSize, f.v.p.BlockSize)
	f.res <- fetchResult{j: idx, data: buf, err: err}
}

// FetchShard fetches whole shard id, size bytes in leaves of blockSize,
// from peer p and verifies it against its ID: a shard that does not match
// counts as a lie of p. The bytes sit in a buffer of Buffer, for
// PutBuffer.
func (s *Store) FetchShard(ctx context.Context, p PeerInfo, id shard.ID, size int64, blockSize int) ([]byte, error) {
	buf := s.bufs.get(int(size))
	err := s.getShard(ctx, p, id, 0, size, &sliceWriter{b: buf[:0]})
	if err == nil {
		if err = shard.Verify(id, buf, blockSize); err != nil {
			s.Lied(p.ID, err)
		}
	}
	if err != nil {
		s.bufs.put(buf)
		return nil, err
	}
	return buf, nil
}

// finish stops the fetches still running and recycles the buffers once
// they have answered.
func (f *fetch) finish() {
	f.stop()
	f.mu.Lock()
	for j := range f.closed {
		f.closed[j] = true
	}
	f.mu.Unlock()
	for idx, w := range f.whole {
		if w != nil {
			f.s.bufs.put(w)
			f.whole[idx] = nil
		}
	}
	s, win, res, n := f.s, f.win, f.res, f.inflight
	go func() {
		for range n {
			if r := <-res; r.data != nil {
				s.bufs.put(r.data)
			}
		}
		s.bufs.put(win)
	}()
}

// winWriter writes a span into the window unless the fetch gave it up.
type winWriter struct {
	f   *fetch
	j   int
	off int64
}

var errGivenUp = errors.New("segstore: shard range no longer needed")

func (w *winWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if w.f.closed[w.j] {
		return 0, errGivenUp
	}
	n := copy(w.f.win[w.off:], p)
	w.off += int64(n)
	w.f.progress[w.j] = time.Now()
	return n, nil
}

// sliceWriter appends into a buffer of fixed capacity.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		return 0, errors.New("segstore: peer sent more than asked")
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

var copyBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

// getShard copies exactly n bytes of shard id from off, as served by p,
// to w: fewer is an error (a truncating peer).
func (s *Store) getShard(ctx context.Context, p PeerInfo, id shard.ID, off, n int64, w io.Writer) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	rc, err := p.Peer.GetShard(rctx, id, off, n)
	if err == nil {
		buf := copyBufs.Get().(*[64 << 10]byte)
		var got int64
		got, err = io.CopyBuffer(w, io.LimitReader(rc, n), buf[:])
		copyBufs.Put(buf)
		_ = rc.Close() // the bytes are all here, or err says why not
		if err == nil && got < n {
			err = fmt.Errorf("short read: %d of %d bytes: %w", got, n, io.ErrUnexpectedEOF)
		}
	}
	if errors.Is(err, errGivenUp) {
		return err
	}
	s.observe(ctx, p, 0, err)
	if err != nil {
		return fmt.Errorf("segstore: get shard %s [%d, +%d) from %s: %w", id, off, n, p.ID, err)
	}
	s.st.shardsIn.Add(1)
	return nil
}
