package main

import (
	"math"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"1048576", 1 << 20},
		{"512MiB", 512 << 20},
		{"10GiB", 10 << 30},
		{"10gib", 10 << 30},
		{"10 GiB", 10 << 30},
		{" 3TiB ", 3 << 40},
		{"1KiB", 1024},
		{"64k", 64 << 10},
		{"2M", 2 << 20},
		{"1G", 1 << 30},
		{"1KB", 1000},
		{"1kb", 1000},
		{"5MB", 5_000_000},
		{"2GB", 2_000_000_000},
		{"1TB", 1_000_000_000_000},
		{"100B", 100},
		{"1.5GiB", 3 << 29},
		{"0.5KiB", 512},
		{"1.0001KiB", 1024}, // rounds down
		{"8191PiB", 8191 << 50},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tc := range good {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	bad := []string{
		"", " ", "GiB", "-1", "-1GiB", "+5", "10XB", "ten", "1e9", "0x10", "1_000",
		"NaN", "Inf", "1..5MiB", "8192PiB", "9223372036854775808", "1 2 GiB", "10GiBs",
	}
	for _, in := range bad {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestSizeTextRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, 1000, 1023, 1024, 1536, 10 << 30, 68 << 20, 3<<40 + 1, math.MaxInt64, 1 << 62} {
		s := sizeText(n)
		got, err := parseSize(s)
		if err != nil || got != n {
			t.Errorf("parseSize(sizeText(%d) = %q) = %d, %v", n, s, got, err)
		}
	}
	if got := sizeText(10 << 30); got != "10GiB" {
		t.Errorf("sizeText(10GiB) = %q", got)
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"}, {10 << 30, "10 GiB"}, {5 << 40, "5 TiB"}} {
		if got := formatSize(tc.n); got != tc.want {
			t.Errorf("formatSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
