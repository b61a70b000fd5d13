package integration

import (
	"fmt"
	"testing"
)

// BenchmarkPutUnderAttack measures the owner's 1 MiB PUTs (one client, on
// a devnet process) with no attack and with the capacity-hostage attack of
// TestAdversarial running against every node (160 stalled largest-shard
// uploads per node from a stranger's address block), as puts/s:
//
//	go test -run '^$' -bench PutUnderAttack -benchtime 100x ./integration/
func BenchmarkPutUnderAttack(b *testing.B) {
	d := startDevnet(b)
	c := NewS3Client(d.Endpoint, d.AccessKey, d.SecretKey, nil)
	bucket := createBucket(b, c, "attack-bench")
	var nodes []string
	for _, a := range d.state(b).Nodes {
		nodes = append(nodes, "http://"+a)
	}
	data := randBytes(MiB, 77)
	puts := func(b *testing.B) {
		i := 0
		for b.Loop() {
			putObject(b, c, bucket, fmt.Sprintf("%s/%d", b.Name(), i), data)
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "puts/s")
	}
	putObject(b, c, bucket, "warm-up", data)
	b.Run("quiet", puts)
	b.Run("hostage", func(b *testing.B) {
		stop := startHostage(b, nodes)
		defer stop()
		puts(b)
	})
	b.Run("quiet-after", puts)
}
