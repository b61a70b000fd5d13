package policy

// WriteDecision says what to do with a segment whose upload stored some
// of its shards.
type WriteDecision struct {
	// Commit: at least MinAcks distinct shards are stored; the segment
	// may be committed. Otherwise the upload of it fails (and what was
	// stored is released).
	Commit bool
	// Degraded: committed with fewer than N shards.
	Degraded bool
	// Missing is N - stored: the shards left for repair to place once
	// committed. Repair places them when the segment reaches
	// RepairThreshold (at once with the defaults, where MinAcks =
	// RepairThreshold).
	Missing int
}

// Write decides on a segment of which stored distinct shards were
// acknowledged (receipts checked).
func (p Policy) Write(stored int) WriteDecision {
	stored = max(0, min(stored, p.c.N))
	d := WriteDecision{Missing: p.c.N - stored}
	if stored >= p.c.MinAcks {
		d.Commit = true
		d.Degraded = stored < p.c.N
	}
	return d
}
