//go:build unix

package segstore

import (
	"sync"
	"syscall"
	"unsafe"
)

// Big buffers are anonymous private mappings: outside the Go heap, so
// they neither count towards the GC's heap goal nor wait for a collection
// to be freed. The registry tells them apart from heap buffers.
var mappings struct {
	sync.Mutex
	base map[uintptr]int // first byte -> length
}

// allocBig returns n bytes of mapped memory, or of heap memory if mapping
// fails.
func allocBig(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]byte, n)
	}
	mappings.Lock()
	if mappings.base == nil {
		mappings.base = make(map[uintptr]int)
	}
	mappings.base[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = n
	mappings.Unlock()
	return b
}

// isBig reports whether b (resliced to its capacity) is a mapping of
// allocBig.
func isBig(b []byte) bool {
	mappings.Lock()
	n, ok := mappings.base[uintptr(unsafe.Pointer(unsafe.SliceData(b)))]
	mappings.Unlock()
	return ok && n == cap(b)
}

// freeBig unmaps a buffer of allocBig; nothing may refer to it any more.
func freeBig(b []byte) {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	mappings.Lock()
	_, ok := mappings.base[p]
	delete(mappings.base, p)
	mappings.Unlock()
	if ok {
		_ = syscall.Munmap(b[:cap(b)])
	}
}
