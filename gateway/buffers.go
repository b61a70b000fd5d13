package gateway

import (
	"math/bits"
	"sync"
)

// bufPool recycles the large buffers of segments in flight. Sizes are
// rounded up to one of eight classes per power of two (at most 12.5%
// waste); small buffers are left to the allocator.
type bufPool struct {
	pools sync.Map // class size -> *sync.Pool of []byte
}

const minPooled = 64 << 10

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
	if c <= minPooled {
		return make([]byte, n)
	}
	if v, ok := p.pools.Load(c); ok {
		if b, ok := v.(*sync.Pool).Get().([]byte); ok {
			return b[:n]
		}
	}
	return make([]byte, n, c)
}

// put recycles a buffer from get; b must not be used afterwards.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c <= minPooled || classSize(c) != c {
		return
	}
	v, ok := p.pools.Load(c)
	if !ok {
		v, _ = p.pools.LoadOrStore(c, new(sync.Pool))
	}
	v.(*sync.Pool).Put(b[:0]) //nolint:staticcheck // a slice header per put is fine for MiB buffers
}
