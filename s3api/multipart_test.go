package s3api

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func opsMD5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCompleteParts(t *testing.T) {
	stored := []PartInfo{
		{PartNumber: 3, Size: 10, ETag: opsMD5Hex("c")},
		{PartNumber: 1, Size: MinPartSize, ETag: opsMD5Hex("a")},
		{PartNumber: 2, Size: MinPartSize - 1, ETag: opsMD5Hex("b")},
		{PartNumber: 4, Size: MinPartSize, ETag: opsMD5Hex("d")},
	}
	q := func(s string) string { return `"` + opsMD5Hex(s) + `"` }
	tests := []struct {
		name  string
		parts []CompletedPart
		want  error
	}{
		{"one small part", []CompletedPart{{3, q("c")}}, nil},
		{"big then small last", []CompletedPart{{1, q("a")}, {3, q("c")}}, nil},
		{"skipping numbers", []CompletedPart{{1, q("a")}, {4, q("d")}, {3, q("c")}}, ErrInvalidPartOrder},
		{"unquoted etag", []CompletedPart{{1, opsMD5Hex("a")}, {4, opsMD5Hex("d")}}, nil},
		{"upper-case etag", []CompletedPart{{1, strings.ToUpper(opsMD5Hex("a"))}}, nil},
		{"descending", []CompletedPart{{4, q("d")}, {1, q("a")}}, ErrInvalidPartOrder},
		{"duplicate", []CompletedPart{{1, q("a")}, {1, q("a")}}, ErrInvalidPartOrder},
		{"missing part", []CompletedPart{{1, q("a")}, {5, q("e")}}, ErrInvalidPart},
		{"wrong etag", []CompletedPart{{1, q("x")}}, ErrInvalidPart},
		{"part number zero", []CompletedPart{{0, q("a")}}, ErrInvalidPart},
		{"small part not last", []CompletedPart{{2, q("b")}, {3, q("c")}}, ErrEntityTooSmall},
		{"empty", nil, ErrMalformedXML},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chosen, etag, err := CompleteParts(tt.parts, stored)
			if !opsSameError(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if len(chosen) != len(tt.parts) {
				t.Fatalf("chose %d parts, want %d", len(chosen), len(tt.parts))
			}
			for i, p := range chosen {
				if p.PartNumber != tt.parts[i].PartNumber {
					t.Errorf("part %d is number %d, want %d", i, p.PartNumber, tt.parts[i].PartNumber)
				}
			}
			want, _ := MultipartETag(chosen)
			if etag != want {
				t.Errorf("etag %q, want %q", etag, want)
			}
		})
	}
}

func TestMultipartETag(t *testing.T) {
	// The S3 rule: md5 of the concatenated binary part MD5s, "-", count.
	a, b := md5.Sum([]byte("part one")), md5.Sum([]byte("part two"))
	want := md5.Sum(append(a[:], b[:]...))
	got, err := MultipartETag([]PartInfo{
		{PartNumber: 1, ETag: hex.EncodeToString(a[:])},
		{PartNumber: 2, ETag: hex.EncodeToString(b[:])},
	})
	if err != nil || got != hex.EncodeToString(want[:])+"-2" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := MultipartETag([]PartInfo{{PartNumber: 1, ETag: "not-hex"}}); err == nil {
		t.Fatal("accepted a non-MD5 part ETag")
	}
}

func TestUserMetadata(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Meta-Mtime", "1700000000")
	h.Add("X-Amz-Meta-Multi", "a")
	h.Add("X-Amz-Meta-Multi", "b")
	h["x-amz-meta-lower"] = []string{"v"}
	h.Set("Content-Type", "text/plain")
	h.Add("Content-Encoding", "aws-chunked")
	h.Add("Content-Encoding", "gzip, AWS-CHUNKED ,br")
	m, err := readObjectMeta(h)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"mtime": "1700000000", "multi": "a,b", "lower": "v"}
	if len(m.User) != len(want) {
		t.Fatalf("user metadata %v, want %v", m.User, want)
	}
	for k, v := range want {
		if m.User[k] != v {
			t.Errorf("%s = %q, want %q", k, m.User[k], v)
		}
	}
	if m.ContentType != "text/plain" || m.ContentEncoding != "gzip,br" {
		t.Errorf("standard headers %+v", m)
	}

	big := http.Header{}
	big.Set("X-Amz-Meta-A", strings.Repeat("v", MaxUserMetadataSize-1))
	if _, err := readObjectMeta(big); err != nil {
		t.Errorf("exactly the limit: %v", err)
	}
	big.Set("X-Amz-Meta-Ab", strings.Repeat("v", MaxUserMetadataSize-1))
	if _, err := readObjectMeta(big); !errors.Is(err, ErrMetadataTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestWriteObjectMeta(t *testing.T) {
	h := http.Header{}
	m := ObjectMeta{ContentType: "text/plain", CacheControl: "no-cache", User: map[string]string{"mtime": "1"}}
	writeObjectMeta(h, m, map[string][]string{"response-content-type": {"image/png"}, "response-expires": {"Thu, 01 Dec 1994 16:00:00 GMT"}})
	if h.Get("Content-Type") != "image/png" || h.Get("Cache-Control") != "no-cache" ||
		h.Get("Expires") != "Thu, 01 Dec 1994 16:00:00 GMT" || h.Get("Content-Encoding") != "" {
		t.Errorf("headers %v", h)
	}
	if v := h["x-amz-meta-mtime"]; len(v) != 1 || v[0] != "1" {
		t.Errorf("user metadata not sent in lower case: %v", h)
	}
	h = http.Header{}
	writeObjectMeta(h, ObjectMeta{}, nil)
	if h.Get("Content-Type") != "binary/octet-stream" {
		t.Errorf("default content type %q", h.Get("Content-Type"))
	}
}
