package node

import (
	"errors"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 100
	tests := []struct {
		h       string
		off, n  int64
		partial bool
		err     *Error
	}{
		{h: "", off: 0, n: size},
		{h: "bytes=0-", off: 0, n: size, partial: true},
		{h: "bytes=0-0", off: 0, n: 1, partial: true},
		{h: "bytes=10-19", off: 10, n: 10, partial: true},
		{h: "bytes=90-500", off: 90, n: 10, partial: true},
		{h: "bytes=99-", off: 99, n: 1, partial: true},
		{h: "bytes=-1", off: 99, n: 1, partial: true},
		{h: "bytes=-500", off: 0, n: size, partial: true},
		{h: "bytes=100-", err: ErrRangeNotSatisfiable},
		{h: "bytes=100-200", err: ErrRangeNotSatisfiable},
		{h: "bytes=-0", err: ErrRangeNotSatisfiable},
		{h: "bytes=5-4", err: ErrBadRequest},
		{h: "bytes=0-1,3-4", err: ErrBadRequest},
		{h: "items=0-1", err: ErrBadRequest},
		{h: "bytes=+1-2", err: ErrBadRequest},
		{h: "bytes=1--2", err: ErrBadRequest},
		{h: "bytes=x-", err: ErrBadRequest},
		{h: "bytes=-", err: ErrBadRequest},
		{h: "bytes=99999999999999999999-", err: ErrBadRequest},
	}
	for _, tt := range tests {
		off, n, partial, err := parseRange(tt.h, size)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: error %v, want %s", tt.h, err, tt.err.Code)
			}
			continue
		}
		if err != nil || off != tt.off || n != tt.n || partial != tt.partial {
			t.Errorf("%q = %d, %d, %v, %v; want %d, %d, %v", tt.h, off, n, partial, err, tt.off, tt.n, tt.partial)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"", "bytes=0-", "bytes=-5", "bytes=3-9", "bytes=1-2,3-4"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size <= 0 {
			return
		}
		off, n, _, err := parseRange(h, size)
		if err != nil {
			return
		}
		if off < 0 || n <= 0 || off+n > size {
			t.Fatalf("%q of %d: range %d+%d outside the resource", h, size, off, n)
		}
	})
}

func FuzzDecodeGrant(f *testing.F) {
	f.Add("eyJvcCI6MX0")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := decodeGrant(s)
		if err != nil {
			return
		}
		if _, err := encodeGrant(g); err != nil {
			t.Fatal(err)
		}
	})
}
