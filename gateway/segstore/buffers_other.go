//go:build !unix

package segstore

// Without mmap, big buffers are heap buffers the GC frees; the pool does
// not keep them.

func allocBig(n int) []byte { return make([]byte, n) }
func isBig([]byte) bool     { return false }
func freeBig([]byte)        {}
