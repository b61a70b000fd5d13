package sim

import (
	"context"
	"math"
)

// Sample is one day of the time series.
type Sample struct {
	Day            int     `json:"day"`
	SegmentsLost   int64   `json:"segments_lost"`   // so far
	Availability   float64 `json:"availability"`    // of the day's reads
	RepairBytes    int64   `json:"repair_bytes"`    // so far
	UploadBytes    int64   `json:"upload_bytes"`    // so far
	NodesOnline    int     `json:"nodes_online"`    // at the end of the day
	RepairsPending int     `json:"repairs_pending"` // in flight at the end of the day
}

// Result is what a run (or several, Aggregate) measured.
type Result struct {
	Runs int `json:"runs"`

	// SegmentsStored counts every segment that was stored (the initial
	// ones and every upload); SegmentsLost those of them of which fewer
	// than K shards remained anywhere while stored.
	SegmentsStored int64 `json:"segments_stored"`
	SegmentsLost   int64 `json:"segments_lost"`
	// LossRate is SegmentsLost / SegmentsStored over the run.
	LossRate float64 `json:"loss_rate"`
	// DurabilityNines is -log10(LossRate); with no loss, the lower end of
	// its 95 % interval (DurabilityNinesBound says so): a run of S
	// segments cannot show more than about log10(S/3.8) nines.
	DurabilityNines      float64 `json:"durability_nines"`
	DurabilityNinesBound bool    `json:"durability_nines_is_lower_bound"`
	// NinesLow and NinesHigh are the 95 % Wilson interval of the nines
	// (NinesHigh is +Inf, written as -1 in JSON, with no loss).
	NinesLow  float64 `json:"durability_nines_low"`
	NinesHigh float64 `json:"durability_nines_high"`
	// Margins counts the segments by the least margin (shards that
	// exist, minus K) they fell to while stored: Margins[0] lost,
	// Margins[1] margin 0, Margins[m+1] margin m.
	Margins []int64 `json:"margins"`
	// ExtrapolatedNines extends the margin histogram geometrically down
	// to a loss: with fm the share of segments that fell to margin m or
	// less and j the lowest margin that at least 10 segments reached,
	// loss ~ fj x (fj / f(j+1))^(j+1). An estimate for settings whose
	// loss is too rare to observe, not a measurement (0: not enough
	// data).
	ExtrapolatedNines float64 `json:"extrapolated_nines"`

	// Availability is the share of sampled read attempts (a random
	// segment at a random instant) that found K shards online.
	Availability float64 `json:"availability"`
	Reads        int64   `json:"reads"`
	ReadsOK      int64   `json:"reads_ok"`

	// Traffic, bytes over the run: repair (K shards read and each made
	// shard written), uploads of the churn (N shards each), audits (each
	// record once per AuditInterval, policy.AuditCost).
	RepairBytes int64   `json:"repair_bytes"`
	UploadBytes int64   `json:"upload_bytes"`
	AuditBytes  float64 `json:"audit_bytes"`
	// Per byte stored (Segments x SegmentSize) per 30 days.
	RepairPerStoredMonth float64 `json:"repair_bytes_per_stored_byte_month"`
	ChurnPerStoredMonth  float64 `json:"churn_bytes_per_stored_byte_month"`
	AuditPerStoredMonth  float64 `json:"audit_bytes_per_stored_byte_month"`
	// RepairToChurn is RepairBytes / UploadBytes (0 without churn).
	RepairToChurn float64 `json:"repair_to_churn"`
	// LeaseRenewals counts shard leases renewed.
	LeaseRenewals float64 `json:"lease_renewals"`
	Expansion     float64 `json:"expansion"` // N / K

	Repairs          int64 `json:"repairs"`
	RepairWaits      int64 `json:"repair_waits"` // checks that found fewer than K readable
	ShardsFoundLost  int64 `json:"shards_found_lost"`
	UploadsFailed    int64 `json:"uploads_failed"`
	NodesJoined      int64 `json:"nodes_joined"`
	NodesDeparted    int64 `json:"nodes_departed"`
	DiskFailures     int64 `json:"disk_failures"`
	Droppers         int64 `json:"droppers"`
	PolicyMismatches int64 `json:"policy_mismatches"` // must be 0: see doc
	Events           int64 `json:"events"`

	WallSeconds float64  `json:"wall_seconds"`
	Series      []Sample `json:"series,omitempty"`
}

// z95 is the normal quantile of a two-sided 95 % interval.
const z95 = 1.959964

// wilson returns the 95 % Wilson score interval of x successes in n.
func wilson(x, n float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := x / n
	z2 := z95 * z95
	mid := (p + z2/(2*n)) / (1 + z2/n)
	half := z95 / (1 + z2/n) * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	return max(0, mid-half), min(1, mid+half)
}

func nines(p float64) float64 {
	if p <= 0 {
		return math.Inf(1)
	}
	return -math.Log10(p)
}

// summarize derives the rates from the counts.
func (r *Result) summarize(c Config, margins []int64) {
	if r.Runs == 0 {
		r.Runs = 1
	}
	if margins != nil {
		r.Margins = margins
	}
	r.LossRate = float64(r.SegmentsLost) / float64(max(r.SegmentsStored, 1))
	lo, hi := wilson(float64(r.SegmentsLost), float64(r.SegmentsStored))
	r.NinesLow, r.NinesHigh = nines(hi), nines(lo)
	r.DurabilityNines, r.DurabilityNinesBound = nines(r.LossRate), false
	if r.SegmentsLost == 0 {
		r.DurabilityNines, r.DurabilityNinesBound = r.NinesLow, true
		r.NinesHigh = -1
	}
	r.ExtrapolatedNines = extrapolate(r.Margins)
	if r.Reads > 0 {
		r.Availability = float64(r.ReadsOK) / float64(r.Reads)
	}
	stored := float64(c.Segments) * float64(c.SegmentSize) * float64(r.Runs)
	months := c.Days / 30
	r.RepairPerStoredMonth = float64(r.RepairBytes) / stored / months
	r.ChurnPerStoredMonth = float64(r.UploadBytes) / stored / months
	r.AuditPerStoredMonth = r.AuditBytes / stored / months
	r.RepairToChurn = 0
	if r.UploadBytes > 0 {
		r.RepairToChurn = float64(r.RepairBytes) / float64(r.UploadBytes)
	}
	r.Expansion = float64(c.Policy.N) / float64(c.Policy.K)
}

// RunSeeds runs c with runs consecutive seeds from c.Seed and pools the
// results: counts add up, the interval of the nines is that of the
// pooled loss, and the series is the first run's.
func RunSeeds(ctx context.Context, c Config, runs int) (Result, error) {
	var all Result
	for i := range max(runs, 1) {
		ci := c
		ci.Seed = c.Seed + uint64(i)
		r, err := Run(ctx, ci)
		if err != nil {
			return Result{}, err
		}
		if i == 0 {
			all = r
			continue
		}
		all.add(r)
	}
	all.Runs = max(runs, 1)
	all.summarize(c, nil)
	return all, nil
}

func (r *Result) add(o Result) {
	r.SegmentsStored += o.SegmentsStored
	r.SegmentsLost += o.SegmentsLost
	for i := range r.Margins {
		r.Margins[i] += o.Margins[i]
	}
	r.Reads += o.Reads
	r.ReadsOK += o.ReadsOK
	r.RepairBytes += o.RepairBytes
	r.UploadBytes += o.UploadBytes
	r.AuditBytes += o.AuditBytes
	r.LeaseRenewals += o.LeaseRenewals
	r.Repairs += o.Repairs
	r.RepairWaits += o.RepairWaits
	r.ShardsFoundLost += o.ShardsFoundLost
	r.UploadsFailed += o.UploadsFailed
	r.NodesJoined += o.NodesJoined
	r.NodesDeparted += o.NodesDeparted
	r.DiskFailures += o.DiskFailures
	r.Droppers += o.Droppers
	r.PolicyMismatches += o.PolicyMismatches
	r.Events += o.Events
	r.WallSeconds += o.WallSeconds
}

// extrapolate estimates the nines from a margin histogram (see
// Result.ExtrapolatedNines).
func extrapolate(margins []int64) float64 {
	var total float64
	for _, m := range margins {
		total += float64(m)
	}
	if total == 0 {
		return 0
	}
	// cum[i]: segments whose least margin was i-1 or less.
	var cum float64
	for i := 0; i+1 < len(margins); i++ {
		cum += float64(margins[i])
		if cum < 10 {
			continue
		}
		fj := cum / total
		fj1 := (cum + float64(margins[i+1])) / total
		return nines(fj * math.Pow(fj/fj1, float64(i)))
	}
	return 0
}
