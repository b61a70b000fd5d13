package s3api

import (
	"math"
	"strconv"
	"strings"
)

// rangeSpec is one byte range of a Range header (RFC 9110 section 14.1.2).
type rangeSpec struct {
	suffix bool  // bytes=-N: the last N bytes, N in first
	first  int64 // first byte, or N for a suffix range
	last   int64 // last byte included, -1 when open-ended (bytes=N-)
}

// parseRange parses a Range header holding a single byte range. ok is false
// when the header must be ignored and the whole object served: absent,
// syntactically invalid, another unit, or several ranges (S3 answers 200
// with the full object for those).
func parseRange(h string) (spec rangeSpec, ok bool) {
	h = strings.TrimSpace(h)
	const unit = "bytes="
	if len(h) < len(unit) || !strings.EqualFold(h[:len(unit)], unit) {
		return rangeSpec{}, false
	}
	set := h[len(unit):]
	if strings.Contains(set, ",") {
		return rangeSpec{}, false
	}
	a, b, found := strings.Cut(set, "-")
	if !found {
		return rangeSpec{}, false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" {
		n, ok := parseDigits(b)
		if !ok {
			return rangeSpec{}, false
		}
		return rangeSpec{suffix: true, first: n, last: -1}, true
	}
	first, ok := parseDigits(a)
	if !ok {
		return rangeSpec{}, false
	}
	if b == "" {
		return rangeSpec{first: first, last: -1}, true
	}
	last, ok := parseDigits(b)
	if !ok || last < first {
		return rangeSpec{}, false
	}
	return rangeSpec{first: first, last: last}, true
}

// parseDigits parses a non-empty run of ASCII digits; values too large for
// an int64 saturate, which is beyond any object size anyway.
func parseDigits(s string) (int64, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // only a range error is possible here
	}
	return n, true
}

// resolve applies the range to an object of size bytes and returns the
// offset and length to serve, or ErrInvalidRange when no byte of the object
// is in the range.
func (r rangeSpec) resolve(size int64) (offset, length int64, err error) {
	if r.suffix {
		if r.first == 0 || size == 0 {
			return 0, 0, ErrInvalidRange
		}
		n := min(r.first, size)
		return size - n, n, nil
	}
	if r.first >= size {
		return 0, 0, ErrInvalidRange
	}
	last := size - 1
	if r.last >= 0 && r.last < last {
		last = r.last
	}
	return r.first, last - r.first + 1, nil
}

// String formats the range as a Range header value.
func (r rangeSpec) String() string {
	switch {
	case r.suffix:
		return "bytes=-" + strconv.FormatInt(r.first, 10)
	case r.last < 0:
		return "bytes=" + strconv.FormatInt(r.first, 10) + "-"
	}
	return "bytes=" + strconv.FormatInt(r.first, 10) + "-" + strconv.FormatInt(r.last, 10)
}

// parseCopySourceRange parses x-amz-copy-source-range, which S3 requires in
// the exact form bytes=first-last, and resolves it against the source size.
func parseCopySourceRange(h string, size int64) (offset, length int64, err error) {
	r, ok := parseRange(h)
	if !ok || r.suffix || r.last < 0 {
		return 0, 0, ErrInvalidArgument.WithMessage("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	}
	if r.last >= size {
		return 0, 0, ErrInvalidRange
	}
	return r.resolve(size)
}
