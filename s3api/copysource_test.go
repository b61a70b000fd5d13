package s3api

import (
	"errors"
	"net/url"
	"testing"
)

func TestParseCopySource(t *testing.T) {
	tests := []struct {
		in          string
		bucket, key string
		code        string
	}{
		{in: "src/key", bucket: "src", key: "key"},
		{in: "/src/key", bucket: "src", key: "key"},
		{in: "src/dir/a%20b%2Bc+d", bucket: "src", key: "dir/a b+c+d"},
		{in: "src/%C3%A9%3Fq", bucket: "src", key: "é?q"},
		{in: "src/k?versionId=null", bucket: "src", key: "k"},
		{in: "src//double", bucket: "src", key: "/double"},
		{in: "src/k?versionId=abc", code: "NotImplemented"},
		{in: "src", code: "InvalidArgument"},
		{in: "src/", code: "InvalidArgument"},
		{in: "/", code: "InvalidArgument"},
		{in: "", code: "InvalidArgument"},
		{in: "src/%zz", code: "InvalidArgument"},
		{in: "Bad_Bucket/k", code: "InvalidBucketName"},
		{in: "src/%FF", code: "InvalidArgument"},
	}
	for _, tt := range tests {
		b, k, err := parseCopySource(tt.in)
		if tt.code != "" {
			var e *Error
			if !errors.As(err, &e) || e.Code != tt.code {
				t.Errorf("parseCopySource(%q) = %q %q %v, want %s", tt.in, b, k, err, tt.code)
			}
			continue
		}
		if err != nil || b != tt.bucket || k != tt.key {
			t.Errorf("parseCopySource(%q) = %q %q %v, want %q %q", tt.in, b, k, err, tt.bucket, tt.key)
		}
	}
}

func FuzzCopySource(f *testing.F) {
	for _, s := range []string{"src/key", "/src/a%20b", "src/k?versionId=null", "x/%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, k, err := parseCopySource(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			return
		}
		if checkBucket(b) != nil || checkKey(k) != nil {
			t.Fatalf("accepted bucket %q key %q", b, k)
		}
		// Round trip: the escaped form names the same object.
		b2, k2, err := parseCopySource(b + "/" + url.PathEscape(k))
		if err != nil || b2 != b || k2 != k {
			t.Fatalf("%q -> %q %q -> %q %q %v", s, b, k, b2, k2, err)
		}
	})
}
