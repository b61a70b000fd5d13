package main

import (
	"strings"
	"testing"

	"ishtar/cmd/ishtar/daemon"
	"ishtar/gateway/upkeep"
)

// The survey's counts name n when every segment has one code, and list
// the codes when they differ.
func TestPrintSurveyCodes(t *testing.T) {
	for _, tc := range []struct {
		codes map[string]int64
		segs  map[int]int64
		want  []string
		not   []string
	}{
		{map[string]int64{"3/5": 3}, map[int]int64{5: 3},
			[]string{"Segments: 3\n  5 of 5 shards healthy: 3\n"}, []string{"Codes"}},
		{map[string]int64{"3/5": 2, "10/30": 1}, map[int]int64{5: 2, 30: 1},
			[]string{"Segments: 3\n  30 shards healthy: 1\n  5 shards healthy: 2\n", "Codes (k/n):   10/30: 1, 3/5: 2 segments; new ones get 10/30\n"}, nil},
	} {
		var st daemon.Status
		st.Survey = upkeep.Survey{K: 10, N: 30, Codes: tc.codes, Segments: tc.segs, Objects: map[int]int64{}}
		var b strings.Builder
		printSurvey(&b, st)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("codes %v: output lacks %q:\n%s", tc.codes, w, b.String())
			}
		}
		for _, w := range tc.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("codes %v: output has %q:\n%s", tc.codes, w, b.String())
			}
		}
	}
}
