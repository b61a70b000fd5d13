package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ishtar/gateway"
)

// sdkSuite is the state the aws-sdk-go-v2 subtests share: one network,
// one client, and the objects stored so far with their contents.
type sdkSuite struct {
	n       *Net
	c       *s3.Client
	bucket  string
	objects map[string][]byte
}

// sizeKey names the object of the given size stored by testSizes.
func sizeKey(size int) string { return fmt.Sprintf("sizes/%d", size) }

// objectSizes are the sizes issue 4 asks for: empty, tiny, one block,
// multipart-sized, around one 16 MiB segment, and many segments.
var objectSizes = []int{0, 1, 4 * KiB, 5 * MiB, 16*MiB - 1, 16 * MiB, 16*MiB + 1, 100 * MiB}

// TestSDK drives the in-process network with aws-sdk-go-v2 at its default
// settings (CRC32 checksums in aws-chunked trailers, over TLS): every
// operation of the S3 API on objects that really become shards on peers.
// One network serves every subtest; they run in order and later ones read
// what earlier ones stored.
func TestSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node S3 suite skipped in -short mode")
	}
	Run(t, Config{Nodes: 6, Gateway: quickRelease}, func(t *testing.T, n *Net) {
		s := &sdkSuite{n: n, c: n.S3(t), objects: make(map[string][]byte)}
		s.bucket = createBucket(t, s.c, "sdk")
		for _, st := range []struct {
			name string
			fn   func(*testing.T, *sdkSuite)
		}{
			{"Buckets", testBuckets},
			{"Sizes", testSizes},
			{"Ranges", testRanges},
			{"Metadata", testMetadata},
			{"Keys", testKeys},
			{"Checksums", testChecksums},
			{"Conditional", testConditional},
			{"Overwrite", testOverwrite},
			{"Delete", testDelete},
			{"Copy", testCopy},
			{"Multipart", testMultipart},
			{"MultipartErrors", testMultipartErrors},
			{"Presigned", testPresigned},
			{"Release", testRelease},
			{"Inline", testInline},
			{"List10000", testList10000},
			{"Settled", func(t *testing.T, s *sdkSuite) { s.n.Settle(t) }},
		} {
			t.Run(st.name, func(t *testing.T) { st.fn(t, s) })
		}
	})
}

// quickRelease makes released shards leave their peers after 3 s instead
// of a minute, so tests can watch the stores shrink, while reads started
// before an overwrite (testOverwrite) still have the time to finish.
func quickRelease(c *gateway.Config) { c.ReleaseDelay = 3 * time.Second }

// stored returns an object testSizes stored, or skips the test if that
// failed.
func (s *sdkSuite) stored(t *testing.T, key string) []byte {
	t.Helper()
	b, ok := s.objects[key]
	if !ok {
		t.Skipf("object %s was not stored by an earlier subtest", key)
	}
	return b
}

func testBuckets(t *testing.T, s *sdkSuite) {
	ctx, c := t.Context(), s.c
	name := createBucket(t, c, "buckets-1")
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("head bucket: %v", err)
	}
	// S3's us-east-1 legacy: creating a bucket you own again succeeds.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create own bucket again: %v", err)
	}

	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatalf("list buckets: %v", err)
	}
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if fmt.Sprint(names) != fmt.Sprint([]string{name, s.bucket}) {
		t.Fatalf("buckets %v, want [%s %s]", names, name, s.bucket)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(name)})
	if err != nil {
		t.Fatalf("get bucket location: %v", err)
	}
	if loc.LocationConstraint != "" && loc.LocationConstraint != "us-east-1" {
		t.Fatalf("location %q", loc.LocationConstraint)
	}

	putObject(t, c, name, "k", []byte("x"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	wantCode(t, err, "BucketNotEmpty")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String("k")}); err != nil {
		t.Fatalf("delete object: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("delete bucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	wantStatus(t, err, 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(name), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")
}

func testSizes(t *testing.T, s *sdkSuite) {
	for i, size := range objectSizes {
		data := randBytes(size, uint64(i+1))
		key := sizeKey(size)
		putObject(t, s.c, s.bucket, key, data)
		head, err := s.c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("head %s: %v", key, err)
		}
		if aws.ToInt64(head.ContentLength) != int64(size) || aws.ToString(head.ETag) != quoted(md5hex(data)) {
			t.Fatalf("head %s: length %d ETag %s, want %d %s", key, aws.ToInt64(head.ContentLength),
				aws.ToString(head.ETag), size, quoted(md5hex(data)))
		}
		got, out := getObject(t, s.c, s.bucket, key, "")
		sameBytes(t, key, got, data)
		if aws.ToString(out.ETag) != quoted(md5hex(data)) {
			t.Fatalf("get %s: ETag %s", key, aws.ToString(out.ETag))
		}
		s.objects[key] = data
	}
}

func testRanges(t *testing.T, s *sdkSuite) {
	big := s.stored(t, sizeKey(100*MiB))
	const seg = 16 * MiB
	for _, r := range []struct {
		rng         string
		first, last int // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=0-99", 0, 99},
		{"bytes=65530-65545", 65530, 65545}, // across an AEAD block
		{fmt.Sprintf("bytes=%d-%d", seg-10, seg+9), seg - 10, seg + 9},
		{fmt.Sprintf("bytes=%d-%d", seg-1, seg), seg - 1, seg},
		{fmt.Sprintf("bytes=%d-%d", seg, seg), seg, seg},
		{fmt.Sprintf("bytes=%d-%d", seg-1, 2*seg), seg - 1, 2 * seg}, // three segments
		{fmt.Sprintf("bytes=%d-%d", 3*seg+12345, 5*seg+54321), 3*seg + 12345, 5*seg + 54321},
		{fmt.Sprintf("bytes=%d-", 6*seg-3), 6*seg - 3, len(big) - 1}, // open-ended into the last segment
		{"bytes=-100", len(big) - 100, len(big) - 1},
		{fmt.Sprintf("bytes=-%d", 4*seg+7), len(big) - 4*seg - 7, len(big) - 1},
		{fmt.Sprintf("bytes=%d-%d", len(big)-1, len(big)+1000), len(big) - 1, len(big) - 1},
	} {
		got, out := getObject(t, s.c, s.bucket, sizeKey(100*MiB), r.rng)
		sameBytes(t, r.rng, got, big[r.first:r.last+1])
		want := fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, len(big))
		if aws.ToString(out.ContentRange) != want {
			t.Fatalf("%s: Content-Range %q, want %q", r.rng, aws.ToString(out.ContentRange), want)
		}
	}
	// The one byte of the second segment of a 16 MiB + 1 object.
	odd := s.stored(t, sizeKey(seg+1))
	got, _ := getObject(t, s.c, s.bucket, sizeKey(seg+1), "bytes=-2")
	sameBytes(t, "last two bytes", got, odd[seg-1:])

	_, err := s.c.GetObject(t.Context(), &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(sizeKey(100 * MiB)),
		Range: aws.String(fmt.Sprintf("bytes=%d-", len(big))),
	})
	wantCode(t, err, "InvalidRange")
	_, err = s.c.GetObject(t.Context(), &s3.GetObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(sizeKey(0)), Range: aws.String("bytes=0-0"),
	})
	wantCode(t, err, "InvalidRange")
}
