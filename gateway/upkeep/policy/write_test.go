package policy

import "testing"

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		k, n, minAcks, stored int
		want                  WriteDecision
	}{
		{3, 5, 4, 5, WriteDecision{Commit: true}},
		{3, 5, 4, 4, WriteDecision{Commit: true, Degraded: true, Missing: 1}},
		{3, 5, 4, 3, WriteDecision{Missing: 2}},
		{3, 5, 4, 0, WriteDecision{Missing: 5}},
		{3, 5, 4, -1, WriteDecision{Missing: 5}},
		{3, 5, 4, 9, WriteDecision{Commit: true}},
		{3, 5, 3, 3, WriteDecision{Commit: true, Degraded: true, Missing: 2}},
		{3, 5, 3, 2, WriteDecision{Missing: 3}},
		{3, 5, 5, 4, WriteDecision{Missing: 1}},
		{3, 5, 5, 5, WriteDecision{Commit: true}},
		{10, 16, 12, 12, WriteDecision{Commit: true, Degraded: true, Missing: 4}},
		{10, 16, 12, 11, WriteDecision{Missing: 5}},
	} {
		c := DefaultsFor(tc.k, tc.n)
		c.MinAcks = tc.minAcks
		if got := mustNew(t, c).Write(tc.stored); got != tc.want {
			t.Errorf("%d of %d, min acks %d, stored %d: %+v, want %+v", tc.k, tc.n, tc.minAcks, tc.stored, got, tc.want)
		}
	}
}
