package s3api

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestConditionsPrecedence(t *testing.T) {
	const etag = "0123456789abcdef0123456789abcdef"
	mod := time.Date(2024, 5, 1, 12, 0, 0, 700e6, time.UTC) // sub-second part is ignored
	at := func(d time.Duration) string { return mod.Truncate(time.Second).Add(d).Format(http.TimeFormat) }
	before, same, after := at(-time.Hour), at(0), at(time.Hour)
	match, other := `"`+etag+`"`, `"ffffffffffffffffffffffffffffffff"`

	tests := []struct {
		name string
		c    conditions
		want error // nil, ErrNotModified or ErrPreconditionFailed
	}{
		{"none", conditions{}, nil},
		{"if-match hit", conditions{ifMatch: match}, nil},
		{"if-match unquoted", conditions{ifMatch: etag}, nil},
		{"if-match star", conditions{ifMatch: "*"}, nil},
		{"if-match list", conditions{ifMatch: other + ", " + match}, nil},
		{"if-match miss", conditions{ifMatch: other}, ErrPreconditionFailed},
		{"if-match weak never matches", conditions{ifMatch: "W/" + match}, ErrPreconditionFailed},
		{"if-unmodified-since later", conditions{ifUnmodifiedSince: after}, nil},
		{"if-unmodified-since same second", conditions{ifUnmodifiedSince: same}, nil},
		{"if-unmodified-since earlier", conditions{ifUnmodifiedSince: before}, ErrPreconditionFailed},
		{"if-unmodified-since garbage ignored", conditions{ifUnmodifiedSince: "yesterday"}, nil},
		// RFC 9110 13.2.2 step 2: If-Unmodified-Since only without If-Match.
		{"if-match true beats unmodified-since false", conditions{ifMatch: match, ifUnmodifiedSince: before}, nil},
		{"if-none-match hit", conditions{ifNoneMatch: match}, ErrNotModified},
		{"if-none-match weak hit", conditions{ifNoneMatch: "W/" + match}, ErrNotModified},
		{"if-none-match star", conditions{ifNoneMatch: "*"}, ErrNotModified},
		{"if-none-match miss", conditions{ifNoneMatch: other}, nil},
		{"if-modified-since earlier", conditions{ifModifiedSince: before}, nil},
		{"if-modified-since same second", conditions{ifModifiedSince: same}, ErrNotModified},
		{"if-modified-since later", conditions{ifModifiedSince: after}, ErrNotModified},
		// Step 4: If-Modified-Since only without If-None-Match.
		{"if-none-match miss beats modified-since", conditions{ifNoneMatch: other, ifModifiedSince: after}, nil},
		{"if-none-match hit with modified-since earlier", conditions{ifNoneMatch: match, ifModifiedSince: before}, ErrNotModified},
		// 412 checks come before 304 checks.
		{"if-match miss and none-match hit", conditions{ifMatch: other, ifNoneMatch: match}, ErrPreconditionFailed},
		{"unmodified-since fails before modified-since", conditions{ifUnmodifiedSince: before, ifModifiedSince: after}, ErrPreconditionFailed},
		{"if-match hit and none-match hit", conditions{ifMatch: match, ifNoneMatch: match}, ErrNotModified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.check(etag, mod, false)
			if !opsSameError(err, tt.want) {
				t.Errorf("GET: got %v, want %v", err, tt.want)
			}
			// A copy turns every failure into 412.
			want := tt.want
			if want != nil {
				want = ErrPreconditionFailed
			}
			if err := tt.c.check(etag, mod, true); !opsSameError(err, want) {
				t.Errorf("copy: got %v, want %v", err, want)
			}
		})
	}
}

func opsSameError(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

func TestReadConditions(t *testing.T) {
	h := http.Header{}
	h.Set("If-Match", "a")
	h.Set("X-Amz-Copy-Source-If-None-Match", "b")
	h.Set("X-Amz-Copy-Source-If-Modified-Since", "c")
	if got := readConditions(h); got != (conditions{ifMatch: "a"}) {
		t.Errorf("readConditions = %+v", got)
	}
	if got := readCopyConditions(h); got != (conditions{ifNoneMatch: "b", ifModifiedSince: "c"}) {
		t.Errorf("readCopyConditions = %+v", got)
	}
}
