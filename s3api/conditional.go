package s3api

import (
	"net/http"
	"strings"
	"time"
)

// conditions are the four conditional request headers (RFC 9110 section
// 13.1), from a GET/HEAD or, with the x-amz-copy-source- prefix, a copy.
type conditions struct {
	ifMatch, ifNoneMatch               string
	ifModifiedSince, ifUnmodifiedSince string
}

func readConditions(h http.Header) conditions {
	return conditions{
		ifMatch:           h.Get("If-Match"),
		ifNoneMatch:       h.Get("If-None-Match"),
		ifModifiedSince:   h.Get("If-Modified-Since"),
		ifUnmodifiedSince: h.Get("If-Unmodified-Since"),
	}
}

func readCopyConditions(h http.Header) conditions {
	return conditions{
		ifMatch:           h.Get("X-Amz-Copy-Source-If-Match"),
		ifNoneMatch:       h.Get("X-Amz-Copy-Source-If-None-Match"),
		ifModifiedSince:   h.Get("X-Amz-Copy-Source-If-Modified-Since"),
		ifUnmodifiedSince: h.Get("X-Amz-Copy-Source-If-Unmodified-Since"),
	}
}

// check evaluates the conditions against an object with the given unquoted
// ETag and modification time, in the order of RFC 9110 section 13.2.2:
// If-Match, else If-Unmodified-Since; then If-None-Match, else
// If-Modified-Since. It returns nil to proceed, ErrPreconditionFailed, or
// ErrNotModified. For a copy (copy true) every failure is
// ErrPreconditionFailed, as S3 does for x-amz-copy-source-if-*.
func (c conditions) check(etag string, modified time.Time, copy bool) error {
	modified = modified.Truncate(time.Second) // header dates have seconds only
	notModified := ErrNotModified
	if copy {
		notModified = ErrPreconditionFailed
	}
	if c.ifMatch != "" {
		if !etagListMatches(c.ifMatch, etag, false) {
			return ErrPreconditionFailed
		}
	} else if t, ok := parseHTTPTime(c.ifUnmodifiedSince); ok && modified.After(t) {
		return ErrPreconditionFailed
	}
	if c.ifNoneMatch != "" {
		if etagListMatches(c.ifNoneMatch, etag, true) {
			return notModified
		}
	} else if t, ok := parseHTTPTime(c.ifModifiedSince); ok && !modified.After(t) {
		return notModified
	}
	return nil
}

// etagListMatches reports whether the comma-separated entity-tag list h
// ("*" or quoted tags; S3 also takes them unquoted) matches etag. Weak
// comparison ignores a W/ prefix; strong comparison never matches one.
func etagListMatches(h, etag string, weak bool) bool {
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// parseHTTPTime parses an HTTP date; an invalid date makes its header be
// ignored, as RFC 9110 asks.
func parseHTTPTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
