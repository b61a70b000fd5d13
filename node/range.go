package node

import (
	"strconv"
	"strings"
)

// parseRange interprets a Range header against a resource of size bytes
// (size > 0). Only one "bytes" range is supported. It returns the offset
// and length to send and whether the answer is partial.
func parseRange(h string, size int64) (off, n int64, partial bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false, errorf(ErrBadRequest, "unsupported Range %.64q: one bytes range only", h)
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false, errorf(ErrBadRequest, "malformed Range %.64q", h)
	}
	if first == "" { // suffix: the last N bytes
		k, err := parseNonNeg(last)
		if err != nil {
			return 0, 0, false, errorf(ErrBadRequest, "malformed Range %.64q", h)
		}
		if k == 0 {
			return 0, 0, false, errorf(ErrRangeNotSatisfiable, "empty suffix range")
		}
		k = min(k, size)
		return size - k, k, true, nil
	}
	a, err := parseNonNeg(first)
	if err != nil {
		return 0, 0, false, errorf(ErrBadRequest, "malformed Range %.64q", h)
	}
	b := size - 1
	if last != "" {
		if b, err = parseNonNeg(last); err != nil || b < a {
			return 0, 0, false, errorf(ErrBadRequest, "malformed Range %.64q", h)
		}
	}
	if a >= size {
		return 0, 0, false, errorf(ErrRangeNotSatisfiable, "range starts at %d of %d bytes", a, size)
	}
	b = min(b, size-1)
	return a, b - a + 1, true, nil
}

func parseNonNeg(s string) (int64, error) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}
