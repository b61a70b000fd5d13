package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"ishtar/integration"
)

const (
	bigSize   = 64 << 20
	smallSize = 4 << 10
)

// client returns the aws-sdk-go-v2 client of the tests (default checksum
// behaviour, path style, no retries) for a target.
func client(t target) *s3.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return integration.NewS3Client(t.endpoint, t.ak, t.sk, &http.Client{Transport: tr, Timeout: 10 * time.Minute})
}

// bucket creates a bucket unless it exists.
func bucket(ctx context.Context, c *s3.Client, name string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "BucketAlreadyOwnedByYou" {
		return nil
	}
	return err
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns
// the wall time and the first error.
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, worker, i int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, w, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return 0, err
	}
	return time.Since(start), ctx.Err()
}

// randomBuffers returns n buffers of size pseudo-random bytes.
func randomBuffers(n, size int) [][]byte {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
		var seed [32]byte
		seed[0] = byte(i)
		_, _ = rand.NewChaCha8(seed).Read(bufs[i])
	}
	return bufs
}

func put(ctx context.Context, c *s3.Client, b, key string, data []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// get reads an object to the end and checks its length.
func get(ctx context.Context, c *s3.Client, b, key string, size int64) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	n, err := io.Copy(io.Discard, out.Body)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if n != size {
		return fmt.Errorf("get %s: %d bytes, want %d", key, n, size)
	}
	return nil
}

func bigKey(i int) string   { return fmt.Sprintf("big/%04d", i) }
func smallKey(i int) string { return fmt.Sprintf("small/%06d", i) }

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

func putBig(ctx context.Context, t target, o options) (float64, error) {
	c := client(t)
	if err := bucket(ctx, c, "bench"); err != nil {
		return 0, err
	}
	bufs := randomBuffers(o.bigClients, bigSize)
	d, err := parallel(ctx, o.bigObjects, o.bigClients, func(ctx context.Context, w, i int) error {
		return put(ctx, c, "bench", bigKey(i), bufs[w])
	})
	return mbps(int64(o.bigObjects)*bigSize, d), err
}

func getBig(ctx context.Context, t target, o options) (float64, error) {
	c := client(t)
	d, err := parallel(ctx, o.bigObjects, o.bigClients, func(ctx context.Context, _, i int) error {
		return get(ctx, c, "bench", bigKey(i), bigSize)
	})
	return mbps(int64(o.bigObjects)*bigSize, d), err
}

func putSmall(ctx context.Context, t target, o options) (float64, error) {
	c := client(t)
	if err := bucket(ctx, c, "bench"); err != nil {
		return 0, err
	}
	bufs := randomBuffers(o.smallClients, smallSize)
	d, err := parallel(ctx, o.smallObjects, o.smallClients, func(ctx context.Context, w, i int) error {
		return put(ctx, c, "bench", smallKey(i), bufs[w])
	})
	return float64(o.smallObjects) / d.Seconds(), err
}

func getSmall(ctx context.Context, t target, o options) (float64, error) {
	c := client(t)
	d, err := parallel(ctx, o.smallObjects, o.smallClients, func(ctx context.Context, _, i int) error {
		return get(ctx, c, "bench", smallKey(i), smallSize)
	})
	return float64(o.smallObjects) / d.Seconds(), err
}

// listKeys fills a bucket with o.listKeys copies of an empty object (not
// timed; a copy is a catalog record), then lists it whole in pages of
// 1,000 three times and returns the median time of one whole listing.
func listKeys(ctx context.Context, t target, o options) (float64, error) {
	c := client(t)
	if err := bucket(ctx, c, "list"); err != nil {
		return 0, err
	}
	key := func(i int) string { return fmt.Sprintf("dir%02d/key%06d", i%20, i) }
	if err := put(ctx, c, "list", key(0), nil); err != nil {
		return 0, err
	}
	if _, err := parallel(ctx, o.listKeys-1, 32, func(ctx context.Context, _, i int) error {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String("list"), Key: aws.String(key(i + 1)), CopySource: aws.String("list/" + key(0)),
		})
		return err
	}); err != nil {
		return 0, err
	}
	var times []time.Duration
	for range 3 {
		start := time.Now()
		n, err := listAll(ctx, c, "list")
		if err != nil {
			return 0, err
		}
		if n != o.listKeys {
			return 0, fmt.Errorf("listed %d keys, want %d", n, o.listKeys)
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return float64(times[1].Microseconds()) / 1000, nil
}

// listAll walks a bucket with ListObjectsV2 in pages of 1,000.
func listAll(ctx context.Context, c *s3.Client, b string) (int, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(b), MaxKeys: aws.Int32(1000)}
	n := 0
	for page := 0; page < 1<<20; page++ {
		out, err := c.ListObjectsV2(ctx, in)
		if err != nil {
			return n, fmt.Errorf("list page %d: %w", page, err)
		}
		n += len(out.Contents)
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return n, errors.New("listing never ends")
}

// streamPut uploads size generated bytes from a reader that is read once
// (UNSIGNED-PAYLOAD, no request checksum), so the client holds no more
// than a buffer of it.
func streamPut(ctx context.Context, c *s3.Client, b, key string, size int64) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String(key), Body: newGenerator(size), ContentLength: aws.Int64(size),
	}, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	})
	if err != nil {
		return fmt.Errorf("put %s (%d bytes, streamed): %w", key, size, err)
	}
	return nil
}

// generator yields size bytes: a 1 MiB random block over and over.
type generator struct {
	block []byte
	left  int64
	off   int
}

func newGenerator(size int64) *generator {
	return &generator{block: randomBuffers(1, 1<<20)[0], left: size}
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), g.left)], g.block[g.off:])
	g.off = (g.off + n) % len(g.block)
	g.left -= int64(n)
	return n, nil
}
