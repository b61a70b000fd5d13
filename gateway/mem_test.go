package gateway

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"ishtar/s3api"
)

// zeroReader yields n zero bytes: a large body that costs no memory.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), z.n)]
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// BenchmarkPutObjectMemory streams one 1 GiB object with the default
// segment size and reports the peak of the heap in use plus the segment
// buffers mapped outside it, which must stay bounded by segment size x
// concurrency, not by object size. The unknown-size case is the same body
// sent without a length (Transfer-Encoding: chunked, Size -1).
func BenchmarkPutObjectMemory(b *testing.B) {
	b.Run("known-size", func(b *testing.B) { benchPutMemory(b, false) })
	b.Run("unknown-size", func(b *testing.B) { benchPutMemory(b, true) })
}

func benchPutMemory(b *testing.B, unknown bool) {
	const size = 1 << 30
	declared := int64(size)
	if unknown {
		declared = -1
	}
	g := benchGateway(b, false, nil)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var max uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				peak <- max
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if use := m.HeapInuse + uint64(g.store.MappedBytes()); use > max {
					max = use
				}
			}
		}
	}()
	b.SetBytes(size)
	for b.Loop() {
		if _, err := g.PutObject(context.Background(), s3api.PutObjectInput{Bucket: "b", Key: "big",
			Body: &zeroReader{n: size}, Size: declared, Checksum: noChecksum}); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	p := <-peak
	b.ReportMetric(float64(p-min(p, base.HeapInuse))/(1<<20), "peak-heap-MiB")
}
