package gateway

import (
	"context"
	"fmt"
	"io"

	"ishtar/meta"
)

// piece is the part of one segment a read needs.
type piece struct {
	seg    meta.Segment
	off, n int64
}

// plan cuts the object range [off, off+n) into pieces of segments.
func plan(segs []meta.Segment, off, n int64) []piece {
	var out []piece
	var start int64
	for _, s := range segs {
		end := start + s.PlainSize
		if end > off && start < off+n {
			a := max(off, start) - start
			b := min(off+n, end) - start
			out = append(out, piece{seg: s, off: a, n: b - a})
		}
		start = end
	}
	return out
}

// chunk is the plaintext of one piece, and what to give back once read.
type chunk struct {
	data   []byte
	buf    []byte
	weight int64
	err    error
}

// open returns a reader of n bytes of the object from off. It reads the
// first piece before returning, so a read that cannot start fails with an
// error the client sees as a status; later pieces are fetched one ahead
// of the reader, and an error there ends the body early.
func (g *Gateway) open(ctx context.Context, segs []meta.Segment, off, n int64) (io.ReadCloser, error) {
	var size int64
	for _, s := range segs {
		size += s.PlainSize
	}
	if off < 0 || n < 0 || off+n > size {
		return nil, fmt.Errorf("gateway: range %d+%d outside %d bytes", off, n, size)
	}
	if n == 0 {
		return io.NopCloser(eofReader{}), nil
	}
	pieces := plan(segs, off, n)
	r := &objectReader{g: g}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.cur = g.readPiece(r.ctx, pieces[0])
	if r.cur.err != nil {
		r.cancel()
		return nil, r.cur.err
	}
	if len(pieces) > 1 {
		r.next = make(chan chunk, 1)
		go r.produce(pieces[1:])
	}
	return r, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readPiece fetches and decrypts one piece, holding memory for it from
// the gateway's semaphore until the chunk is freed.
func (g *Gateway) readPiece(ctx context.Context, pc piece) chunk {
	v, err := g.store.Open(pc.seg)
	if err != nil {
		return chunk{err: err}
	}
	weight := g.weight(v.Params(), pc.n)
	if err := g.sem.acquire(ctx, weight); err != nil {
		return chunk{err: err}
	}
	data, buf, err := g.store.ReadRange(ctx, v, pc.off, pc.n)
	if err != nil {
		g.sem.release(weight)
		return chunk{err: err}
	}
	g.st.bytesOut.Add(pc.n)
	return chunk{data: data, buf: buf, weight: weight}
}

func (g *Gateway) free(c *chunk) {
	if c.buf != nil {
		g.store.PutBuffer(c.buf)
		g.sem.release(c.weight)
	}
	*c = chunk{}
}

// objectReader streams the pieces of a read in order.
type objectReader struct {
	g      *Gateway
	ctx    context.Context
	cancel context.CancelFunc
	cur    chunk
	next   chan chunk // nil once drained
	err    error
}

func (r *objectReader) produce(pieces []piece) {
	defer close(r.next)
	for _, pc := range pieces {
		c := r.g.readPiece(r.ctx, pc)
		select {
		case r.next <- c:
		case <-r.ctx.Done():
			r.g.free(&c)
			return
		}
		if c.err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (r *objectReader) Read(p []byte) (int, error) {
	for len(r.cur.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.g.free(&r.cur)
		if r.next == nil {
			return 0, io.EOF
		}
		c, ok := <-r.next
		if !ok {
			r.next = nil
			return 0, io.EOF
		}
		if c.err != nil {
			r.err = c.err
			return 0, r.err
		}
		r.cur = c
	}
	n := copy(p, r.cur.data)
	r.cur.data = r.cur.data[n:]
	return n, nil
}

// Close stops the prefetch and gives back the memory.
func (r *objectReader) Close() error {
	r.cancel()
	r.g.free(&r.cur)
	if r.next != nil {
		for c := range r.next {
			r.g.free(&c)
		}
		r.next = nil
	}
	if r.err == nil {
		r.err = fmt.Errorf("gateway: read after close: %w", io.ErrClosedPipe)
	}
	return nil
}
