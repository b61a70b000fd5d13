package segstore

import "testing"

func TestBufPool(t *testing.T) {
	for n, want := range map[int]int{1: 1, 64 << 10: 64 << 10, 16 << 20: 16 << 20, 16<<20 + 1: 18 << 20,
		(16<<20+4096)*5/3 + 1: 28 << 20} {
		if got := classSize(n); got != want {
			t.Errorf("classSize(%d) = %d, want %d", n, got, want)
		}
	}
	p := newBufPool(5 << 20)
	b := p.get(1 << 20)
	if len(b) != 1<<20 || cap(b) != classSize(1<<20) {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	p.put(b)
	p.put(make([]byte, 3<<20+5)) // not a class size: dropped
	p.put(make([]byte, 2<<20))   // a class size, but not the pool's: dropped
	c := p.get(1000 << 10)
	if cap(c) != classSize(1000<<10) || len(c) != 1000<<10 {
		t.Fatalf("reused buffer len %d cap %d", len(c), cap(c))
	}
	if isBig(b) && &c[0] != &b[0] {
		t.Fatal("a big buffer put back was not reused")
	}
	// Small buffers come from the allocator or a sync.Pool.
	s := p.get(100 << 10)
	s[len(s)-1] = 1
	p.put(s)
	// Idle big buffers beyond maxIdle are released.
	var bufs [][]byte
	for range 8 {
		x := p.get(1 << 20)
		x[0], x[len(x)-1] = 1, 2 // writable to the end
		bufs = append(bufs, x)
	}
	for _, x := range bufs {
		p.put(x)
	}
	p.put(c)
	if p.idle > 5<<20 {
		t.Fatalf("%d idle bytes kept, at most %d", p.idle, 5<<20)
	}
	p.releaseIdle()
	if p.idle != 0 || p.mapped.Load() != 0 {
		t.Fatalf("after releaseIdle: %d idle, %d mapped", p.idle, p.mapped.Load())
	}
}
