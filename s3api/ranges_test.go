package s3api

import (
	"errors"
	"math"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 100
	tests := []struct {
		h           string
		ignored     bool  // serve the whole object with 200
		unsatisfied bool  // 416
		off, n      int64 // when neither
	}{
		{h: "", ignored: true},
		{h: "bytes=0-0", off: 0, n: 1},
		{h: "bytes=0-99", off: 0, n: 100},
		{h: "bytes=0-1000", off: 0, n: 100},
		{h: "bytes=10-19", off: 10, n: 10},
		{h: "bytes=99-", off: 99, n: 1},
		{h: "bytes=50-", off: 50, n: 50},
		{h: "bytes=-1", off: 99, n: 1},
		{h: "bytes=-30", off: 70, n: 30},
		{h: "bytes=-100", off: 0, n: 100},
		{h: "bytes=-500", off: 0, n: 100},
		{h: "Bytes=1-2", off: 1, n: 2},
		{h: " bytes= 3 - 4 ", off: 3, n: 2},
		{h: "bytes=100-", unsatisfied: true},
		{h: "bytes=100-200", unsatisfied: true},
		{h: "bytes=-0", unsatisfied: true},
		{h: "bytes=99999999999999999999-", unsatisfied: true},
		{h: "bytes=0-99999999999999999999", off: 0, n: 100},
		{h: "bytes=5-2", ignored: true},
		{h: "bytes=0-1,3-4", ignored: true},
		{h: "bytes=-", ignored: true},
		{h: "bytes=a-b", ignored: true},
		{h: "bytes=1", ignored: true},
		{h: "bytes=+1-2", ignored: true},
		{h: "bytes=--1", ignored: true},
		{h: "items=0-1", ignored: true},
		{h: "bytes 0-1", ignored: true},
	}
	for _, tt := range tests {
		spec, ok := parseRange(tt.h)
		if ok == tt.ignored {
			t.Errorf("parseRange(%q) ok = %v, want %v", tt.h, ok, !tt.ignored)
			continue
		}
		if !ok {
			continue
		}
		off, n, err := spec.resolve(size)
		if tt.unsatisfied {
			if !errors.Is(err, ErrInvalidRange) {
				t.Errorf("%q: err = %v, want InvalidRange", tt.h, err)
			}
			continue
		}
		if err != nil || off != tt.off || n != tt.n {
			t.Errorf("%q: got %d+%d %v, want %d+%d", tt.h, off, n, err, tt.off, tt.n)
		}
	}
}

func TestRangeOnEmptyObject(t *testing.T) {
	for _, h := range []string{"bytes=0-", "bytes=0-0", "bytes=-1"} {
		spec, ok := parseRange(h)
		if !ok {
			t.Fatalf("%q not parsed", h)
		}
		if _, _, err := spec.resolve(0); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("%q on 0 bytes: err = %v, want InvalidRange", h, err)
		}
	}
}

func TestParseDigitsSaturates(t *testing.T) {
	n, ok := parseDigits("123456789012345678901234567890")
	if !ok || n != math.MaxInt64 {
		t.Fatalf("got %d %v", n, ok)
	}
}

func TestCopySourceRange(t *testing.T) {
	tests := []struct {
		h      string
		size   int64
		code   string
		off, n int64
	}{
		{h: "bytes=0-9", size: 10, off: 0, n: 10},
		{h: "bytes=3-5", size: 10, off: 3, n: 3},
		{h: "bytes=0-10", size: 10, code: "InvalidRange"},
		{h: "bytes=10-12", size: 10, code: "InvalidRange"},
		{h: "bytes=3-", size: 10, code: "InvalidArgument"},
		{h: "bytes=-3", size: 10, code: "InvalidArgument"},
		{h: "bytes=5-3", size: 10, code: "InvalidArgument"},
		{h: "junk", size: 10, code: "InvalidArgument"},
	}
	for _, tt := range tests {
		off, n, err := parseCopySourceRange(tt.h, tt.size)
		if tt.code != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("%q: err = %v, want %s", tt.h, err, tt.code)
			}
			continue
		}
		if err != nil || off != tt.off || n != tt.n {
			t.Errorf("%q: got %d+%d %v, want %d+%d", tt.h, off, n, err, tt.off, tt.n)
		}
	}
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=7-", "bytes=1-2,3-4", "Bytes= 1 - 2", "bytes=99999999999999999999-"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		spec, ok := parseRange(h)
		if !ok {
			return
		}
		// Round trip: the canonical form parses to the same range.
		again, ok := parseRange(spec.String())
		if !ok || again != spec {
			t.Fatalf("%q -> %q -> %+v %v, want %+v", h, spec.String(), again, ok, spec)
		}
		off, n, err := spec.resolve(size)
		if err != nil {
			if !errors.Is(err, ErrInvalidRange) {
				t.Fatalf("resolve error %v", err)
			}
			return
		}
		if off < 0 || n <= 0 || off+n > size || off+n < off {
			t.Fatalf("%q on %d bytes: %d+%d outside the object", h, size, off, n)
		}
	})
}
