package s3api

import (
	"net/http"
	"strings"
)

// MaxUserMetadataSize is the S3 limit on user metadata: the bytes of every
// x-amz-meta-* name (without the prefix) and value together.
const MaxUserMetadataSize = 2 << 10

const metaPrefix = "x-amz-meta-"

// CheckUserMetadata returns MetadataTooLarge when m exceeds
// MaxUserMetadataSize.
func CheckUserMetadata(m map[string]string) error {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > MaxUserMetadataSize {
		return ErrMetadataTooLarge
	}
	return nil
}

// readObjectMeta collects the metadata a PUT, copy (REPLACE) or multipart
// create sets: the standard headers and x-amz-meta-*, whose names are kept
// in lower case and whose repeated values are joined with ",".
func readObjectMeta(h http.Header) (ObjectMeta, error) {
	m := ObjectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    stripAWSChunked(h.Values("Content-Encoding")),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	for name, vals := range h {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, metaPrefix) || len(lower) == len(metaPrefix) {
			continue
		}
		if m.User == nil {
			m.User = make(map[string]string)
		}
		m.User[lower[len(metaPrefix):]] = strings.Join(vals, ",")
	}
	return m, CheckUserMetadata(m.User)
}

// stripAWSChunked removes the aws-chunked coding, which only frames the
// request body, from a Content-Encoding list and keeps the rest exactly as
// sent ("deflate, gzip" stays "deflate, gzip"). Repeated header lines are
// joined with ", ", as HTTP combines them.
func stripAWSChunked(vals []string) string {
	v := strings.Join(vals, ", ")
	if !strings.Contains(strings.ToLower(v), "aws-chunked") {
		return v
	}
	var keep []string
	for _, c := range strings.Split(v, ",") {
		if !strings.EqualFold(strings.TrimSpace(c), "aws-chunked") {
			keep = append(keep, c)
		}
	}
	return strings.TrimSpace(strings.Join(keep, ","))
}

// writeObjectMeta sets the response headers of GET and HEAD for m, with the
// response-* query overrides applied. User metadata names go out in lower
// case, as S3 sends them.
func writeObjectMeta(h http.Header, m ObjectMeta, q map[string][]string) {
	set := func(name, val, override string) {
		if v, ok := q[override]; ok && len(v) > 0 {
			val = v[0]
		}
		if val != "" {
			h.Set(name, val)
		}
	}
	ct := m.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	set("Content-Type", ct, "response-content-type")
	set("Content-Encoding", m.ContentEncoding, "response-content-encoding")
	set("Content-Disposition", m.ContentDisposition, "response-content-disposition")
	set("Content-Language", m.ContentLanguage, "response-content-language")
	set("Cache-Control", m.CacheControl, "response-cache-control")
	set("Expires", m.Expires, "response-expires")
	for k, v := range m.User {
		h[metaPrefix+k] = []string{v}
	}
}
