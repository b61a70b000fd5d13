package segstore

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// bufPool recycles the large buffers of segments in flight. Sizes are
// rounded up to one of eight classes per power of two (at most 12.5%
// waste); small buffers are left to the allocator.
//
// Buffers of a MiB or more (segments, shards, read windows) live outside
// the Go heap where the platform allows it (mmap on Unix) and are kept on
// free lists rather than in a sync.Pool. On the heap, every segment
// buffer the GC dropped from a sync.Pool was allocated again, and with
// tens of MiB live the heap grew to twice that before each collection:
// the resident set of one streamed upload was about 2.5 times the
// segments in flight. Off the heap and reused, it is about the segments in
// flight. Idle buffers beyond maxIdle bytes are released at once, and all
// of them once the pool has not been used for idleRelease.
type bufPool struct {
	small sync.Map // class size -> *sync.Pool of []byte, below bigBuf

	mu      sync.Mutex
	free    map[int][][]byte // class size -> idle big buffers
	idle    int64            // bytes in free
	maxIdle int64            // most idle bytes kept; 0: none
	timer   *time.Timer      // releases idle buffers after idleRelease
	mapped  atomic.Int64     // bytes of big buffers in use or idle
}

const (
	minPooled   = 64 << 10
	bigBuf      = 1 << 20
	idleRelease = 30 * time.Second
)

// newBufPool returns a pool keeping at most maxIdle bytes of idle big
// buffers.
func newBufPool(maxIdle int64) *bufPool {
	return &bufPool{free: make(map[int][][]byte), maxIdle: maxIdle}
}

// classSize rounds n up to its size class.
func classSize(n int) int {
	if n <= minPooled {
		return n
	}
	step := 1 << max(0, bits.Len(uint(n))-4)
	return (n + step - 1) &^ (step - 1)
}

// get returns a buffer of length n; its contents are undefined.
func (p *bufPool) get(n int) []byte {
	c := classSize(n)
	switch {
	case c <= minPooled:
		return make([]byte, n)
	case c < bigBuf:
		if v, ok := p.small.Load(c); ok {
			if b, ok := v.(*sync.Pool).Get().([]byte); ok {
				return b[:n]
			}
		}
		return make([]byte, n, c)
	}
	p.mu.Lock()
	if l := p.free[c]; len(l) > 0 {
		b := l[len(l)-1]
		p.free[c] = l[:len(l)-1]
		p.idle -= int64(c)
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	b := allocBig(c)
	if isBig(b) {
		p.mapped.Add(int64(c))
	}
	return b[:n]
}

// put recycles a buffer from get; b must not be used afterwards.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c <= minPooled || classSize(c) != c {
		return
	}
	if c < bigBuf {
		v, ok := p.small.Load(c)
		if !ok {
			v, _ = p.small.LoadOrStore(c, new(sync.Pool))
		}
		v.(*sync.Pool).Put(b[:0]) //nolint:staticcheck // a slice header per put is fine for large buffers
		return
	}
	b = b[:c]
	if !isBig(b) {
		return // a heap buffer (or a platform without mmap): the GC has it
	}
	p.mu.Lock()
	if p.idle+int64(c) > p.maxIdle {
		p.mu.Unlock()
		p.mapped.Add(-int64(c))
		freeBig(b)
		return
	}
	p.free[c] = append(p.free[c], b)
	p.idle += int64(c)
	if p.timer == nil {
		p.timer = time.AfterFunc(idleRelease, p.releaseIdle)
	} else {
		p.timer.Reset(idleRelease)
	}
	p.mu.Unlock()
}

// releaseIdle gives every idle big buffer back to the system.
func (p *bufPool) releaseIdle() {
	p.mu.Lock()
	free := p.free
	p.free, p.idle = make(map[int][][]byte), 0
	p.mu.Unlock()
	for _, l := range free {
		for _, b := range l {
			p.mapped.Add(-int64(cap(b)))
			freeBig(b)
		}
	}
}
