package daemon

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Labels are a fixed set whatever the request: route templates, never a
// shard ID, owner or path of the caller's choosing.
func TestNodeRoute(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for path, want := range map[string]string{
		"/v1/info":                    "/v1/info",
		"/v1/peers":                   "/v1/peers",
		"/v1/shards/" + id:            "/v1/shards/{id}",
		"/v1/shards/" + id + "/proof": "/v1/shards/{id}/proof",
		"/v1/shards/" + id + "/renew": "/v1/shards/{id}/renew",
		"/v1/roots/" + id:             "/v1/roots/{owner}",
		"/v1/op/status":               "/v1/op/{name}",
		"/v1/shards/":                 "other",
		"/v1/shards//proof":           "other",
		"/v1/shards/" + id + "/x":     "other",
		"/secret-object-name":         "other",
		"/":                           "other",
		"":                            "other",
	} {
		if got := nodeRoute(path); got != want {
			t.Errorf("nodeRoute(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestS3Operation(t *testing.T) {
	for _, tc := range []struct {
		method, target, host, copySource, domain, want string
	}{
		{"GET", "/", "", "", "", "ListBuckets"},
		{"PUT", "/b", "", "", "", "CreateBucket"},
		{"PUT", "/b/", "", "", "", "CreateBucket"},
		{"HEAD", "/b", "", "", "", "HeadBucket"},
		{"DELETE", "/b", "", "", "", "DeleteBucket"},
		{"GET", "/b?location", "", "", "", "GetBucketLocation"},
		{"GET", "/b?uploads", "", "", "", "ListMultipartUploads"},
		{"GET", "/b?list-type=2&prefix=a", "", "", "", "ListObjectsV2"},
		{"GET", "/b?prefix=a", "", "", "", "ListObjects"},
		{"GET", "/b", "", "", "", "ListObjects"},
		{"GET", "/b?versioning", "", "", "", "Other"},
		{"POST", "/b?delete", "", "", "", "DeleteObjects"},
		{"PUT", "/b/k/e/y", "", "", "", "PutObject"},
		{"PUT", "/b/k", "", "/src/k", "", "CopyObject"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", "", "", "", "UploadPart"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", "", "/src/k", "", "UploadPartCopy"},
		{"GET", "/b/k", "", "", "", "GetObject"},
		{"GET", "/b/k?uploadId=u", "", "", "", "ListParts"},
		{"HEAD", "/b/k", "", "", "", "HeadObject"},
		{"DELETE", "/b/k", "", "", "", "DeleteObject"},
		{"DELETE", "/b/k?uploadId=u", "", "", "", "AbortMultipartUpload"},
		{"POST", "/b/k?uploads", "", "", "", "CreateMultipartUpload"},
		{"POST", "/b/k?uploadId=u", "", "", "", "CompleteMultipartUpload"},
		{"POST", "/b/k", "", "", "", "Other"},
		{"PATCH", "/b/k", "", "", "", "Other"},
		// Virtual-host style: the bucket is in the host name.
		{"GET", "/", "b.s3.local:9000", "", "s3.local", "ListObjects"},
		{"GET", "/k", "b.s3.local", "", "s3.local", "GetObject"},
		{"PUT", "/", "b.S3.Local", "", "s3.local", "CreateBucket"},
		{"GET", "/", "s3.local", "", "s3.local", "ListBuckets"},
	} {
		r := httptest.NewRequest(tc.method, "http://127.0.0.1"+tc.target, nil)
		if tc.host != "" {
			r.Host = tc.host
		}
		if tc.copySource != "" {
			r.Header.Set("X-Amz-Copy-Source", tc.copySource)
		}
		if got := s3Operation(r, tc.domain); got != tc.want {
			t.Errorf("%s %s (host %q): %q, want %q", tc.method, tc.target, tc.host, got, tc.want)
		}
	}
}

// The cost the metrics middleware adds to a request: go test -run '^$'
// -bench Middleware ./cmd/ishtar/daemon/
func BenchmarkMiddleware(b *testing.B) {
	m := &metrics{}
	d := &Daemon{}
	*m = *newMetrics(d)
	body := make([]byte, 4096)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(body)
	})
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, bc := range []struct {
		name string
		h    http.Handler
		path string
	}{{"bare", h, "/v1/shards/" + id}, {"node", m.node(h), "/v1/shards/" + id}, {"s3", m.s3(h, ""), "/bucket/some/key"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, bc.path, bytes.NewReader(body))
				bc.h.ServeHTTP(discardWriter{}, r)
			}
		})
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}
