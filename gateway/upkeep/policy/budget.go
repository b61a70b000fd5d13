package policy

import "time"

// Budget is a token bucket of bytes, carried by the caller from one call
// to the next: the policy has no clock, the caller says how much time
// passed. Each call adds rate x elapsed, up to rate x BurstWindow, then
// spends while Tokens is positive; the last item may overdraw (a debt
// repaid before anything more is spent), so an item larger than the burst
// still goes, and over any period T no more than the starting Tokens +
// rate x T + one item is spent. The zero Budget is empty.
type Budget struct {
	Tokens float64 // bytes; negative: a debt
}

// refill adds rate x elapsed, capped at rate x window.
func (b Budget) refill(rate float64, window, elapsed time.Duration) Budget {
	if elapsed > 0 {
		// float64(...) keeps the product from being fused into an FMA, so
		// every platform computes the same bytes.
		b.Tokens += float64(rate * elapsed.Seconds())
	}
	if burst := float64(rate * window.Seconds()); b.Tokens > burst {
		b.Tokens = burst
	}
	return b
}

// AuditBudget returns b refilled for elapsed at the audit rate.
func (p Policy) AuditBudget(b Budget, elapsed time.Duration) Budget {
	return b.refill(p.c.AuditBytesPerSecond, p.c.BurstWindow, elapsed)
}

// RepairBudget returns b refilled for elapsed at the repair rate.
func (p Policy) RepairBudget(b Budget, elapsed time.Duration) Budget {
	return b.refill(p.c.RepairBytesPerSecond, p.c.BurstWindow, elapsed)
}
