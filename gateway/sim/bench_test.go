package sim

import (
	"context"
	"testing"
)

// BenchmarkRun simulates 1,000 nodes holding 100,000 segments for 30
// days with the default policy and network. The full scale of the
// issue (10,000 nodes, 1,000,000 segments, 365 days) is measured with
// the command line: see the package doc.
func BenchmarkRun(b *testing.B) {
	c := Defaults()
	c.Nodes, c.Segments, c.Days = 1000, 100000, 30
	for b.Loop() {
		r, err := Run(context.Background(), c)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Events), "events/op")
		b.ReportMetric(float64(r.Repairs), "repairs/op")
	}
}
