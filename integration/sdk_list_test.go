package integration

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// listKeys returns the 10,000 keys of testList10000: 20 "directories"
// of 500 objects, in byte order.
func listKeys() []string {
	keys := make([]string, 0, 10000)
	for d := range 20 {
		for f := range 500 {
			keys = append(keys, fmt.Sprintf("list/d%02d/f%04d", d, f))
		}
	}
	return keys
}

// concurrently calls fn for every key from workers goroutines and fails
// the test with the first error.
func concurrently(t *testing.T, keys []string, workers int, fn func(key string) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	work := make(chan string)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for k := range work {
				if err := fn(k); err != nil {
					errs <- fmt.Errorf("%s: %w", k, err)
					cancel()
					return
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// dirContent is what every object of directory d of testList10000 holds.
func dirContent(key string) []byte { return []byte("content of " + key[:len("list/d00/")]) }

// listV2 pages through a listing and returns the keys and common
// prefixes, checking each page's size.
func listV2(t *testing.T, c *s3.Client, in *s3.ListObjectsV2Input, pageSize int) (keys, prefixes []string, pages int) {
	t.Helper()
	in.MaxKeys = aws.Int32(int32(pageSize))
	for pages = 1; pages <= 10001; pages++ {
		out, err := c.ListObjectsV2(t.Context(), in)
		if err != nil {
			t.Fatalf("list page %d: %v", pages, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		n := len(out.Contents) + len(out.CommonPrefixes)
		if !aws.ToBool(out.IsTruncated) {
			return keys, prefixes, pages
		}
		if n != pageSize {
			t.Fatalf("truncated page %d has %d entries, want %d", pages, n, pageSize)
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	t.Fatal("listing never ends")
	return nil, nil, 0
}

func testList10000(t *testing.T, s *sdkSuite) {
	c := s.c
	b := createBucket(t, c, "sdk-list")
	keys := listKeys()
	// One object per directory goes through the whole data path; the other
	// 9,980 are server-side copies of it, which write catalog records only
	// (a copy shares the source's segments), so 10,000 keys cost seconds.
	var sources, copies []string
	for i, k := range keys {
		if i%500 == 0 {
			sources = append(sources, k)
		} else {
			copies = append(copies, k)
		}
	}
	concurrently(t, sources, 8, func(k string) error {
		_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
			Bucket: aws.String(b), Key: aws.String(k), Body: bytes.NewReader(dirContent(k)),
		})
		return err
	})
	concurrently(t, copies, 32, func(k string) error {
		_, err := c.CopyObject(t.Context(), &s3.CopyObjectInput{
			Bucket: aws.String(b), Key: aws.String(k), CopySource: aws.String(b + "/" + k[:len("list/d00/")] + "f0000"),
		})
		return err
	})

	got, prefixes, pages := listV2(t, c, &s3.ListObjectsV2Input{Bucket: aws.String(b)}, 1000)
	if !slices.Equal(got, keys) || len(prefixes) != 0 || pages != 10 {
		t.Fatalf("full listing: %d keys (in order: %v), %d prefixes, %d pages; want 10000 keys in 10 pages",
			len(got), slices.IsSorted(got), len(prefixes), pages)
	}
	_, prefixes, _ = listV2(t, c, &s3.ListObjectsV2Input{Bucket: aws.String(b), Delimiter: aws.String("/")}, 1000)
	if !slices.Equal(prefixes, []string{"list/"}) {
		t.Fatalf("top-level prefixes %v", prefixes)
	}
	var dirs []string
	for d := range 20 {
		dirs = append(dirs, fmt.Sprintf("list/d%02d/", d))
	}
	got, prefixes, pages = listV2(t, c, &s3.ListObjectsV2Input{
		Bucket: aws.String(b), Prefix: aws.String("list/"), Delimiter: aws.String("/"),
	}, 7)
	if len(got) != 0 || !slices.Equal(prefixes, dirs) || pages != 3 {
		t.Fatalf("directories by 7: %d keys, prefixes %v, %d pages", len(got), prefixes, pages)
	}
	got, prefixes, _ = listV2(t, c, &s3.ListObjectsV2Input{
		Bucket: aws.String(b), Prefix: aws.String("list/d07/"), Delimiter: aws.String("/"),
	}, 1000)
	if !slices.Equal(got, keys[7*500:8*500]) || len(prefixes) != 0 {
		t.Fatalf("list/d07/: %d keys, %d prefixes", len(got), len(prefixes))
	}
	got, _, _ = listV2(t, c, &s3.ListObjectsV2Input{Bucket: aws.String(b), StartAfter: aws.String("list/d19/f0495")}, 1000)
	if !slices.Equal(got, keys[len(keys)-4:]) {
		t.Fatalf("start-after: %v", got)
	}
	testListV1(t, c, b, keys)

	for _, k := range []string{keys[0], keys[4999], keys[5000], keys[9999]} {
		body, _ := getObject(t, c, b, k, "")
		sameBytes(t, k, body, dirContent(k))
	}
	deleteAll(t, c, b, keys)
}

// deleteAll removes keys with DeleteObjects, 1,000 at a time, then the
// bucket, which must be empty.
func deleteAll(t *testing.T, c *s3.Client, b string, keys []string) {
	for batch := range slices.Chunk(keys, 1000) {
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := c.DeleteObjects(t.Context(), &s3.DeleteObjectsInput{
			Bucket: aws.String(b), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil || len(out.Errors) != 0 {
			t.Fatalf("delete objects: %v %v", err, out)
		}
	}
	if _, err := c.DeleteBucket(t.Context(), &s3.DeleteBucketInput{Bucket: aws.String(b)}); err != nil {
		t.Fatalf("delete bucket after deleting its %d keys: %v", len(keys), err)
	}
}

// testListV1 pages through d10..d19 with ListObjects v1 and markers.
func testListV1(t *testing.T, c *s3.Client, b string, keys []string) {
	var got []string
	in := &s3.ListObjectsInput{Bucket: aws.String(b), Prefix: aws.String("list/d1"), MaxKeys: aws.Int32(1000)}
	for page := 1; ; page++ {
		if page > 6 {
			t.Fatal("v1 listing of 5000 keys by 1000 takes more than 5 pages")
		}
		out, err := c.ListObjects(t.Context(), in)
		if err != nil {
			t.Fatalf("list v1 page %d: %v", page, err)
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.Marker = aws.String(got[len(got)-1])
	}
	if !slices.Equal(got, keys[5000:]) {
		t.Fatalf("v1 listing: %d keys, want 5000", len(got))
	}
}
