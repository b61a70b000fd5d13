package s3api

import (
	"encoding/base64"
	"strings"
)

// ObjectIterator walks a bucket's objects in byte order of their keys, the
// way a Pebble iterator does. ListPage drives it.
type ObjectIterator interface {
	// SeekGE moves to the first object whose key is >= key and reports
	// whether there is one.
	SeekGE(key string) bool
	// Next moves to the following object and reports whether there is one.
	Next() bool
	// Object returns the current object; valid after SeekGE or Next
	// returned true.
	Object() ObjectInfo
	// Error reports a failure that ended the iteration early.
	Error() error
}

// ListPage computes one page of a listing from it, with the S3 semantics
// of Prefix, Delimiter, After and MaxKeys: keys under Prefix, after After,
// those that contain Delimiter after Prefix rolled up into one common prefix
// each, at most MaxKeys entries (objects plus common prefixes). A common
// prefix costs one SeekGE, however many keys it holds. in.Bucket is ignored.
func ListPage(it ObjectIterator, in ListObjectsInput) (ListObjectsOutput, error) {
	var out ListObjectsOutput
	if in.MaxKeys <= 0 {
		return out, it.Error()
	}
	start := in.Prefix
	if in.After != "" {
		after := in.After
		if cp, ok := commonPrefix(after, in.Prefix, in.Delimiter); ok && cp == after {
			after = prefixEnd(after)
			if after == "" {
				return out, it.Error() // nothing sorts after this prefix
			}
		} else {
			after += "\x00" // the smallest key greater than After
		}
		if after > start {
			start = after
		}
	}
	n := 0
	for ok := it.SeekGE(start); ok; {
		key := it.Object().Key
		if !strings.HasPrefix(key, in.Prefix) {
			break
		}
		if n == in.MaxKeys {
			out.IsTruncated = true
			break
		}
		n++
		if cp, isCP := commonPrefix(key, in.Prefix, in.Delimiter); isCP {
			out.CommonPrefixes = append(out.CommonPrefixes, cp)
			out.NextAfter = cp
			end := prefixEnd(cp)
			if end == "" {
				break
			}
			ok = it.SeekGE(end)
			continue
		}
		out.Objects = append(out.Objects, it.Object())
		out.NextAfter = key
		ok = it.Next()
	}
	return out, it.Error()
}

// commonPrefix returns the common prefix key rolls up into: prefix plus
// the rest of key up to and including the first delimiter.
func commonPrefix(key, prefix, delimiter string) (string, bool) {
	if delimiter == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delimiter)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delimiter)], true
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, or "" if there is none (p is all 0xff bytes).
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// awsURLEncode encodes s the way S3 does for encoding-type=url: unreserved
// characters (A-Z a-z 0-9 - _ . ~) and '/' are kept, every other byte is
// %XX with upper-case hex (space is %20, '+' is %2B).
func awsURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// encodeToken makes the opaque continuation token for a listing resuming
// after the key or common prefix last.
func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(last))
}

// decodeToken reverses encodeToken; a token it did not make is
// InvalidArgument.
func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || len(b) > MaxKeyLength {
		return "", ErrInvalidArgument.WithMessage("The continuation token provided is incorrect.")
	}
	return string(b), nil
}

// SliceIterator is an ObjectIterator over objects already sorted by key, for
// small in-memory indexes and tests.
type SliceIterator struct {
	objs []ObjectInfo
	i    int
}

// NewSliceIterator iterates objs, which must be sorted by key.
func NewSliceIterator(objs []ObjectInfo) *SliceIterator {
	return &SliceIterator{objs: objs, i: len(objs)}
}

// SeekGE implements ObjectIterator by binary search.
func (s *SliceIterator) SeekGE(key string) bool {
	lo, hi := 0, len(s.objs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.objs[m].Key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	s.i = lo
	return s.i < len(s.objs)
}

// Next implements ObjectIterator.
func (s *SliceIterator) Next() bool {
	if s.i < len(s.objs) {
		s.i++
	}
	return s.i < len(s.objs)
}

// Object implements ObjectIterator.
func (s *SliceIterator) Object() ObjectInfo { return s.objs[s.i] }

// Error implements ObjectIterator; a slice never fails.
func (s *SliceIterator) Error() error { return nil }
