package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes parseSize accepts, longest first so that
// "GiB" is tried before "B". Binary units are powers of 1024, decimal ones
// powers of 1000.
var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40}, {"pib", 1 << 50},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"pb", 1e15},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// parseSize reads a byte count: "1048576", "512MiB", "10GiB", "1.5 GB",
// "64k". Case does not matter; K/M/G/T alone are binary. Fractions round
// down to whole bytes. Negative sizes and sizes over 2^63-1 are errors.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	if t == "" || strings.ContainsAny(t, "+-eEnN_xXpP") {
		return 0, fmt.Errorf("invalid size %q (want bytes or a number with KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if mult == 1 {
			return n, nil
		}
		if float64(n)*mult >= math.MaxInt64 {
			return 0, fmt.Errorf("size %q too large", s)
		}
		if m := int64(mult); float64(m) == mult && n <= math.MaxInt64/m {
			return n * m, nil // exact for whole numbers
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q (want bytes or a number with KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	v := f * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q too large", s)
	}
	return int64(v), nil
}

// formatSize writes n bytes the way people read them: "10 GiB",
// "1.5 MiB", "512 B".
func formatSize(n int64) string {
	const units = "KMGTPE"
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, i := float64(n)/1024, 0
	for (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[i:i+1] + "iB"
}

// sizeText writes n exactly, in the largest binary unit that divides it:
// "10GiB", "1536KiB", "1000". parseSize reads it back to n.
func sizeText(n int64) string {
	if n <= 0 {
		return strconv.FormatInt(n, 10)
	}
	for _, u := range []struct {
		s    string
		bits uint
	}{{"PiB", 50}, {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n&(1<<u.bits-1) == 0 {
			return strconv.FormatInt(n>>u.bits, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
