package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"ishtar/gateway/segstore"
	"ishtar/node"
	"ishtar/shard"
)

// Fault is how a decorated store or peer misbehaves.
type Fault int

const (
	// FaultNone: honest.
	FaultNone Fault = iota
	// FaultFlip: every shard read has one bit flipped in each 512 bytes.
	FaultFlip
	// FaultTruncate: shard reads end at half the requested bytes.
	FaultTruncate
	// FaultSwap: a shard read returns the bytes of another shard.
	FaultSwap
	// FaultHang: shard reads (and, on a peer, every call) block until the
	// request is canceled or the fault is cleared.
	FaultHang
	// FaultRefuse: stores fail (a store answers insufficient_storage, a
	// peer's PutShard an error); reads stay honest.
	FaultRefuse
	// FaultDown: on a peer, every call fails as if the node were
	// unreachable; on a store, every shard is missing.
	FaultDown
)

func (f Fault) String() string {
	names := [...]string{"none", "flip", "truncate", "swap", "hang", "refuse", "down"}
	if int(f) < len(names) {
		return names[f]
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// faultState is a fault mode and the channel hung calls wait on.
type faultState struct {
	mu      sync.Mutex
	mode    Fault
	release chan struct{} // closed when the mode leaves FaultHang
}

func (s *faultState) set(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == FaultHang && f != FaultHang {
		close(s.release)
	}
	if f == FaultHang && s.mode != FaultHang {
		s.release = make(chan struct{})
	}
	s.mode = f
}

// get returns the mode and, for FaultHang, the release channel.
func (s *faultState) get() (Fault, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mode, s.release
}

// hang blocks until ctx ends or the hang is released.
func hang(ctx context.Context, release <-chan struct{}) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-release:
		return nil
	}
}

// FaultStore decorates a node's node.Store. Writes, deletes and walks go
// through unchanged (except under FaultRefuse); reads misbehave as set.
type FaultStore struct {
	state faultState
	mu    sync.Mutex
	inner node.Store
	opens atomic.Int64
}

var _ node.Store = (*FaultStore)(nil)

// Set changes the fault mode; FaultNone makes the store honest again.
func (f *FaultStore) Set(m Fault) { f.state.set(m) }

// Opens returns how many shard reads the store has served.
func (f *FaultStore) Opens() int64 { return f.opens.Load() }

func (f *FaultStore) setInner(st node.Store) {
	f.mu.Lock()
	f.inner = st
	f.mu.Unlock()
}

// Unwrap returns the decorated store (the node server looks through
// decorators for its InlineStore).
func (f *FaultStore) Unwrap() node.Store { return f.store() }

func (f *FaultStore) store() node.Store {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inner
}

func (f *FaultStore) Create(ctx context.Context, id shard.ID, size int64) (node.Writer, error) {
	if m, _ := f.state.get(); m == FaultRefuse {
		return nil, fmt.Errorf("integration: fault store refuses %s: %w", id, node.ErrInsufficientStorage)
	}
	return f.store().Create(ctx, id, size)
}

func (f *FaultStore) Open(ctx context.Context, id shard.ID) (node.Reader, error) {
	f.opens.Add(1)
	st := f.store()
	mode, release := f.state.get()
	switch mode {
	case FaultHang:
		if err := hang(ctx, release); err != nil {
			return nil, err
		}
	case FaultDown:
		return nil, fmt.Errorf("integration: fault store lost %s: %w", id, node.ErrNotFound)
	case FaultSwap:
		if other, ok := anotherShard(ctx, st, id); ok {
			id = other
		}
	}
	r, err := st.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	switch mode {
	case FaultFlip:
		return &flipReader{Reader: r}, nil
	case FaultTruncate:
		return &truncReader{Reader: r}, nil
	}
	return r, nil
}

// anotherShard returns any shard of st other than id.
func anotherShard(ctx context.Context, st node.Store, id shard.ID) (shard.ID, bool) {
	var other shard.ID
	errFound := errors.New("found")
	err := st.Walk(ctx, func(info node.Info) error {
		if info.ID != id {
			other = info.ID
			return errFound
		}
		return nil
	})
	return other, errors.Is(err, errFound)
}

func (f *FaultStore) Delete(ctx context.Context, id shard.ID) error {
	return f.store().Delete(ctx, id)
}

func (f *FaultStore) Stat(ctx context.Context, id shard.ID) (node.Info, error) {
	return f.store().Stat(ctx, id)
}

func (f *FaultStore) Walk(ctx context.Context, fn func(node.Info) error) error {
	return f.store().Walk(ctx, fn)
}

// flipBit reports whether the byte at offset off is corrupted: one in
// every 512.
func flipBit(off int64) bool { return off%512 == 7 }

// flipReader flips the low bit of every 512th byte it returns.
type flipReader struct {
	node.Reader
	pos int64
}

func (r *flipReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	flip(p[:n], r.pos)
	r.pos += int64(n)
	return n, err
}

func (r *flipReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.Reader.ReadAt(p, off)
	flip(p[:n], off)
	return n, err
}

func (r *flipReader) Seek(off int64, whence int) (int64, error) {
	pos, err := r.Reader.Seek(off, whence)
	if err == nil {
		r.pos = pos
	}
	return pos, err
}

func flip(p []byte, off int64) {
	for i := range p {
		if flipBit(off + int64(i)) {
			p[i] ^= 1
		}
	}
}

// truncReader ends every read from a seek position at half of what
// remains of the shard from there, while still claiming the full size.
type truncReader struct {
	node.Reader
	left int64 // bytes still served, once init
	init bool
}

func (r *truncReader) Read(p []byte) (int, error) {
	if !r.init {
		r.init, r.left = true, r.Size()/2
	}
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.Reader.Read(p)
	r.left -= int64(n)
	return n, err
}

func (r *truncReader) ReadAt(p []byte, off int64) (int, error) {
	half := r.Size() / 2
	if off >= half {
		return 0, io.EOF
	}
	if int64(len(p)) > half-off {
		n, err := r.Reader.ReadAt(p[:half-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return r.Reader.ReadAt(p, off)
}

func (r *truncReader) Seek(off int64, whence int) (int64, error) {
	pos, err := r.Reader.Seek(off, whence)
	if err == nil {
		r.init, r.left = true, (r.Size()-pos)/2
	}
	return pos, err
}

// FaultPeer decorates the gateway's client of one storage node.
type FaultPeer struct {
	state faultState
	mu    sync.Mutex
	in    segstore.Peer // set when the gateway's directory meets the node
	gets  atomic.Int64
	puts  atomic.Int64
}

func (p *FaultPeer) setInner(in segstore.Peer) {
	p.mu.Lock()
	p.in = in
	p.mu.Unlock()
}

func (p *FaultPeer) inner() segstore.Peer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.in
}

var _ segstore.Peer = (*FaultPeer)(nil)

// errUnreachable is what a FaultDown peer answers.
var errUnreachable = errors.New("integration: fault peer unreachable")

// Set changes the fault mode; FaultNone makes the peer honest again.
// FaultSwap acts as FaultFlip on a peer.
func (p *FaultPeer) Set(m Fault) { p.state.set(m) }

// Gets and Puts return how many shard reads and stores the gateway sent.
func (p *FaultPeer) Gets() int64 { return p.gets.Load() }
func (p *FaultPeer) Puts() int64 { return p.puts.Load() }

func (p *FaultPeer) PutShard(ctx context.Context, id shard.ID, body io.Reader, size int64, g shard.Grant) (shard.Receipt, error) {
	p.puts.Add(1)
	switch mode, release := p.state.get(); mode {
	case FaultDown:
		return shard.Receipt{}, errUnreachable
	case FaultRefuse:
		return shard.Receipt{}, fmt.Errorf("integration: fault peer refuses %s: %w", id, node.ErrInsufficientStorage)
	case FaultHang:
		if err := hang(ctx, release); err != nil {
			return shard.Receipt{}, err
		}
	}
	return p.inner().PutShard(ctx, id, body, size, g)
}

func (p *FaultPeer) GetShard(ctx context.Context, id shard.ID, off, n int64) (io.ReadCloser, error) {
	p.gets.Add(1)
	mode, release := p.state.get()
	switch mode {
	case FaultDown:
		return nil, errUnreachable
	case FaultHang:
		if err := hang(ctx, release); err != nil {
			return nil, err
		}
	}
	rc, err := p.inner().GetShard(ctx, id, off, n)
	if err != nil {
		return nil, err
	}
	switch mode {
	case FaultFlip, FaultSwap:
		return &flipReadCloser{rc: rc, pos: off}, nil
	case FaultTruncate:
		return &truncReadCloser{rc: rc, left: max(n, 0) / 2}, nil
	}
	return rc, nil
}

func (p *FaultPeer) DeleteShard(ctx context.Context, id shard.ID, g shard.Grant) error {
	switch mode, release := p.state.get(); mode {
	case FaultDown:
		return errUnreachable
	case FaultHang:
		if err := hang(ctx, release); err != nil {
			return err
		}
	}
	return p.inner().DeleteShard(ctx, id, g)
}

type flipReadCloser struct {
	rc  io.ReadCloser
	pos int64
}

func (r *flipReadCloser) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	flip(p[:n], r.pos)
	r.pos += int64(n)
	return n, err
}

func (r *flipReadCloser) Close() error { return r.rc.Close() }

// truncReadCloser ends the body early without an error.
type truncReadCloser struct {
	rc   io.ReadCloser
	left int64
}

func (r *truncReadCloser) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	return n, err
}

func (r *truncReadCloser) Close() error { return r.rc.Close() }
