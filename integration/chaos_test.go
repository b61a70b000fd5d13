package integration

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"ishtar/gateway"
	"ishtar/meta"
	"ishtar/shard"
)

// chaosObject is an object the chaos tests read back, whole and by range.
type chaosObject struct {
	key  string
	data []byte
}

// chaosObjects stores objects of 1 B to three segments and returns them.
func chaosObjects(t *testing.T, c *s3.Client, bucket string) []chaosObject {
	t.Helper()
	var objs []chaosObject
	for i, size := range []int{1, 4 * KiB, 5 * MiB, 33 * MiB} {
		o := chaosObject{key: fmt.Sprintf("chaos/%d", size), data: randBytes(size, uint64(900+i))}
		putObject(t, c, bucket, o.key, o.data)
		objs = append(objs, o)
	}
	return objs
}

// ranges are the byte ranges checked on each object besides the whole.
func (o chaosObject) ranges() [][2]int {
	n := len(o.data)
	rs := [][2]int{{n - 1, n - 1}}
	if n > 16*MiB {
		rs = append(rs, [2]int{16*MiB - 100, 16*MiB + 100}, [2]int{n/2 + 3, n - 2})
	} else if n > 1 {
		rs = append(rs, [2]int{n / 3, n/2 + 1})
	}
	return rs
}

// readExact reads o whole and by ranges and fails on any error or any
// byte that differs.
func readExact(t *testing.T, c *s3.Client, bucket string, o chaosObject) {
	t.Helper()
	got, _ := getObject(t, c, bucket, o.key, "")
	sameBytes(t, o.key, got, o.data)
	for _, r := range o.ranges() {
		got, _ := getObject(t, c, bucket, o.key, fmt.Sprintf("bytes=%d-%d", r[0], r[1]))
		sameBytes(t, fmt.Sprint(o.key, " ", r), got, o.data[r[0]:r[1]+1])
	}
}

// TestChaos stores objects on five storage nodes, then makes up to n-k
// of them lie, truncate, hang or vanish, and checks that clients get
// every byte right or a clean S3 error, never wrong bytes.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node chaos test skipped in -short mode")
	}
	Run(t, Config{Nodes: 6}, func(t *testing.T, n *Net) {
		c := n.S3(t)
		b := createBucket(t, c, "chaos")
		objs := chaosObjects(t, c, b)
		// Every storage node is faulty in some subtest, so every data
		// shard of every segment is read from a faulty node at least once;
		// one subtest has a single faulty node (one that holds a data
		// shard: placement may give a node only parity of the four
		// segments), the others n-k of them.
		sets := [][]int{{dataHolder(t, n)}, {1, 2}, {3, 4}, {5, 1}}
		for _, f := range []Fault{FaultFlip, FaultTruncate, FaultSwap, FaultHang, FaultDown} {
			for _, bad := range sets {
				t.Run(fmt.Sprintf("store-%s-%v", f, bad), func(t *testing.T) {
					var before int64
					for _, i := range bad {
						before += n.Node(i).Store.Opens()
						n.Node(i).Store.Set(f)
						defer n.Node(i).Store.Set(FaultNone)
					}
					for _, o := range objs {
						readExact(t, c, b, o)
					}
					var after int64
					for _, i := range bad {
						after += n.Node(i).Store.Opens()
					}
					if after == before {
						t.Fatalf("no shard was read from the faulty nodes %v: the fault was not exercised", bad)
					}
				})
			}
		}
		for _, f := range []Fault{FaultFlip, FaultTruncate, FaultHang, FaultDown} {
			for _, bad := range sets {
				t.Run(fmt.Sprintf("peer-%s-%v", f, bad), func(t *testing.T) {
					var before int64
					for _, i := range bad {
						before += n.Node(i).Peer.Gets()
						n.Node(i).Peer.Set(f)
						defer n.Node(i).Peer.Set(FaultNone)
					}
					for _, o := range objs {
						readExact(t, c, b, o)
					}
					var after int64
					for _, i := range bad {
						after += n.Node(i).Peer.Gets()
					}
					if after == before {
						t.Fatalf("no shard was asked of the faulty peers %v: the fault was not exercised", bad)
					}
				})
			}
		}
		t.Run("churn", func(t *testing.T) { testChurn(t, n, c, b, objs) })
		// The shards a failed upload left on the reachable nodes are
		// released: the nodes end up holding what the catalog references.
		t.Run("settled", func(t *testing.T) { n.Settle(t) })
	})
}

// dataHolder returns the index of a storage node that holds a data shard
// (index below k) of a segment of the catalog: node 3 if it does.
func dataHolder(t *testing.T, n *Net) int {
	t.Helper()
	segs, err := n.Node(0).daemon().Catalog().Segments(meta.SegmentID{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := -1
	for _, seg := range segs {
		for i := range seg.K {
			for _, nd := range n.Nodes()[1:] {
				if nd.ID == shard.PublicKey(seg.Shards[i].Node) && (found < 0 || nd.Index == 3) {
					found = nd.Index
				}
			}
		}
	}
	if found < 0 {
		t.Fatal("no storage node holds a data shard")
	}
	return found
}

// testChurn stops two storage nodes while reads are in flight (every read
// stays byte-exact), a third (clean S3 errors, no bytes), then brings
// them back (reads work again).
func testChurn(t *testing.T, n *Net, c *s3.Client, b string, objs []chaosObject) {
	started := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for round := range 3 {
				for _, o := range objs {
					got, err := getBytes(t, c, b, o.key)
					once.Do(func() { close(started) })
					if err != nil {
						errs <- fmt.Errorf("reader %d round %d %s: %w", w, round, o.key, err)
						return
					}
					if string(got) != string(o.data) {
						errs <- fmt.Errorf("reader %d round %d %s: wrong bytes", w, round, o.key)
						return
					}
				}
			}
		})
	}
	<-started
	n.StopNode(t, 1)
	n.StopNode(t, 3)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, o := range objs {
		readExact(t, c, b, o)
	}

	n.StopNode(t, 5)
	for _, o := range objs {
		if len(o.data) <= gateway.DefaultInlineMax {
			readExact(t, c, b, o) // inline: in the catalog, no peer needed
			continue
		}
		got, err := getBytes(t, c, b, o.key)
		if err == nil {
			t.Fatalf("%s read with only two of five shards reachable: %d bytes", o.key, len(got))
		}
		if len(got) > 0 {
			t.Fatalf("%s: %d bytes sent before the error: %v", o.key, len(got), err)
		}
		wantCode(t, err, "ServiceUnavailable", "SlowDown")
	}
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String("chaos/unplaceable"), Body: bytes.NewReader(randBytes(100*KiB, 950)),
	})
	wantCode(t, err, "ServiceUnavailable", "SlowDown")
	_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("chaos/unplaceable")})
	wantStatus(t, err, 404)

	for _, i := range []int{1, 3, 5} {
		n.StartNode(t, i)
	}
	for _, o := range objs {
		readExact(t, c, b, o)
	}
}

// errMidBody marks a read that failed after the response had started.
var errMidBody = errors.New("body failed after the response started")

// getBytes reads a whole object; an error after the headers is wrapped
// in errMidBody with whatever bytes came.
func getBytes(t *testing.T, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return b, fmt.Errorf("%w: %w", errMidBody, err)
	}
	return b, nil
}
