package s3api

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// benchBackend measures the handler, not a store: PUT bodies are hashed
// and dropped, GETs serve zeros, listings come from a pre-sorted index.
type benchBackend struct {
	*memBackend
	size  int64
	index []ObjectInfo
}

func (b *benchBackend) PutObject(ctx context.Context, in PutObjectInput) (PutObjectOutput, error) {
	h := md5.New()
	n, err := io.Copy(h, in.Body)
	if err != nil {
		return PutObjectOutput{}, err
	}
	if n != in.Size {
		return PutObjectOutput{}, ErrIncompleteBody
	}
	etag := hex.EncodeToString(h.Sum(nil))
	if err := CheckContentMD5(in.ContentMD5, etag); err != nil {
		return PutObjectOutput{}, err
	}
	return PutObjectOutput{ETag: etag, LastModified: time.Now()}, nil
}

func (b *benchBackend) GetObject(ctx context.Context, bucket, key string) (*Object, error) {
	info := ObjectInfo{Key: key, Size: b.size, ETag: "00000000000000000000000000000000", LastModified: time.Now()}
	open := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(zeros{}, n)), nil
	}
	return &Object{ObjectInfo: info, Open: open}, nil
}

func (b *benchBackend) ListObjects(ctx context.Context, in ListObjectsInput) (ListObjectsOutput, error) {
	return ListPage(NewSliceIterator(b.index), in)
}

func newBenchEnv(b *testing.B, size int64, keys int) *sdkEnv {
	bb := &benchBackend{memBackend: newMemBackend(), size: size}
	for i := 0; i < keys; i++ {
		bb.index = append(bb.index, ObjectInfo{Key: fmt.Sprintf("dir%02d/object-%07d", i%16, i), Size: 1000,
			ETag: "00000000000000000000000000000000", LastModified: time.Now()})
	}
	sort.Slice(bb.index, func(i, j int) bool { return bb.index[i].Key < bb.index[j].Key })
	if err := bb.CreateBucket(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	return newSDKEnv(b, sdkEnvOptions{plainHTTP: true, backend: bb})
}

// BenchmarkPutObject streams an UNSIGNED-PAYLOAD PUT through the handler
// over loopback; B/op shows that memory does not grow with the object.
// The content-md5 case sends Content-MD5: the body is hashed with MD5 once
// (by the Backend, for the ETag), not by the handler too.
func BenchmarkPutObject(b *testing.B) {
	for _, c := range []struct {
		size   int64
		digest bool
	}{{4 << 10, false}, {64 << 20, false}, {64 << 20, true}} {
		size := c.size
		name := fmt.Sprintf("%dKiB", size>>10)
		var digest string
		if c.digest {
			sum := md5.New()
			io.Copy(sum, io.LimitReader(zeros{}, size))
			digest = base64.StdEncoding.EncodeToString(sum.Sum(nil))
			name += "-content-md5"
		}
		b.Run(name, func(b *testing.B) {
			e := newBenchEnv(b, 0, 0)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				req, err := http.NewRequestWithContext(b.Context(), http.MethodPut, e.srv.URL+"/bench/obj", io.LimitReader(zeros{}, size))
				if err != nil {
					b.Fatal(err)
				}
				req.ContentLength = size
				req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
				if digest != "" {
					req.Header.Set("Content-Md5", digest)
				}
				opsSign(b, req, "UNSIGNED-PAYLOAD", e.region)
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}

// BenchmarkGetObject streams a GET through the handler over loopback.
func BenchmarkGetObject(b *testing.B) {
	for _, size := range []int64{4 << 10, 64 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			e := newBenchEnv(b, size, 0)
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				resp := e.rawBench(b, "/bench/obj")
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != size {
					b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}

// BenchmarkListObjectsV2 asks for pages of 1,000 keys out of 100,000, at
// varying start points, through the handler over loopback.
func BenchmarkListObjectsV2(b *testing.B) {
	const keys = 100_000
	e := newBenchEnv(b, 0, keys)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := fmt.Sprintf("dir%02d/object-%07d", i%16, (i*7919)%keys)
		i++
		resp := e.rawBench(b, "/bench?list-type=2&start-after="+start)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n < 1000 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}

func (e *sdkEnv) rawBench(b *testing.B, path string) *http.Response {
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", emptyHash)
	opsSign(b, req, emptyHash, e.region)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	return resp
}
