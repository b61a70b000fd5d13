package s3api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
)

// Config tunes the handler. The zero value works: path-style addressing in
// region us-east-1 with the S3 limits.
type Config struct {
	// Region is the region signatures are scoped to and GetBucketLocation
	// reports. Default "us-east-1".
	Region string
	// BaseDomain enables virtual-host-style addressing: a request for
	// "bucket.BaseDomain" addresses "bucket". Empty: path style only.
	BaseDomain string
	// MaxObjectSize is the largest single PUT or part. Default MaxPutSize.
	MaxObjectSize int64
	// MaxXMLBodySize bounds request documents (Delete,
	// CompleteMultipartUpload, CreateBucketConfiguration). Default 4 MiB.
	MaxXMLBodySize int64
	// Now is the clock signatures are checked against. Default time.Now.
	Now func() time.Time
}

// legacyRegion is the default region, where S3 keeps some behaviour of
// its first years (CreateBucket on a bucket you own succeeds).
const legacyRegion = "us-east-1"

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = legacyRegion
	}
	if c.MaxObjectSize <= 0 {
		c.MaxObjectSize = MaxPutSize
	}
	if c.MaxXMLBodySize <= 0 {
		c.MaxXMLBodySize = maxXMLBody
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.BaseDomain = strings.ToLower(strings.TrimSuffix(c.BaseDomain, "."))
	return c
}

// handler serves the S3 API over a Backend.
type handler struct {
	b      Backend
	cfg    Config
	log    *slog.Logger
	verify *verifier
}

// NewHandler returns the S3 API over b. Every request is authenticated with
// SigV4 against creds before anything else happens.
func NewHandler(b Backend, creds Credentials, cfg Config, log *slog.Logger) http.Handler {
	cfg = cfg.withDefaults()
	h := &handler{b: b, cfg: cfg, log: log, verify: newVerifier(creds, cfg.Region, cfg.Now)}
	return h.requestID(h.authenticate(h.addressing(h.router())))
}

// handlerFunc is an S3 operation; a returned error becomes the response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// The path shapes of the three levels. Keys may hold any byte, new lines
// included, so the key pattern is (?s).
const (
	bucketPath = "/{bucket}"
	objectPath = "/{bucket}/{key:(?s:.+)}"
)

// route is one row of the routing table.
type route struct {
	method, path string
	query        []string // query parameters that select the route
	extra        []string // further parameters the operation understands
	copySource   bool     // selected by an x-amz-copy-source header
	fn           handlerFunc
}

// routes is the routing table. Rows are tried in order, so one that needs
// a query parameter or header comes before the plain one of the same
// method and path. A query parameter that is neither the row's nor generic
// (see genericParam) makes the request NotImplemented.
func (h *handler) routes() []route {
	const get, head, put, post, del = http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete
	return []route{
		{method: get, path: "/", fn: h.listBuckets},

		{method: get, path: bucketPath, query: []string{"location"}, fn: h.getBucketLocation},
		{method: get, path: bucketPath, query: []string{"uploads"}, fn: h.listMultipartUploads},
		{method: get, path: bucketPath, query: []string{"list-type"}, fn: h.listObjects},
		{method: get, path: bucketPath, fn: h.listObjects},
		{method: head, path: bucketPath, fn: h.headBucket},
		{method: put, path: bucketPath, fn: h.createBucket},
		{method: del, path: bucketPath, fn: h.deleteBucket},
		{method: post, path: bucketPath, query: []string{"delete"}, fn: h.deleteObjects},

		{method: get, path: objectPath, query: []string{"uploadId"}, fn: h.listParts},
		{method: get, path: objectPath, extra: []string{"partNumber"}, fn: h.getObject},
		{method: head, path: objectPath, extra: []string{"partNumber"}, fn: h.getObject},
		{method: put, path: objectPath, query: []string{"partNumber", "uploadId"}, copySource: true, fn: h.uploadPartCopy},
		{method: put, path: objectPath, query: []string{"partNumber", "uploadId"}, fn: h.uploadPart},
		{method: put, path: objectPath, copySource: true, fn: h.copyObject},
		{method: put, path: objectPath, fn: h.putObject},
		{method: post, path: objectPath, query: []string{"uploads"}, fn: h.createMultipartUpload},
		{method: post, path: objectPath, query: []string{"uploadId"}, fn: h.completeMultipartUpload},
		{method: del, path: objectPath, query: []string{"uploadId"}, fn: h.abortMultipartUpload},
		{method: del, path: objectPath, fn: h.deleteObject},
	}
}

// router builds the gorilla/mux router from the table.
func (h *handler) router() *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	for _, rt := range h.routes() {
		m := r.Path(rt.path).Methods(rt.method)
		for _, q := range rt.query {
			m = m.Queries(q, "")
		}
		if rt.copySource {
			m = m.HeadersRegexp("X-Amz-Copy-Source", ".")
		}
		m.Handler(h.wrap(slices.Concat(rt.query, rt.extra), rt.fn))
	}
	// mux's own choice between "method not allowed" and "not found"
	// depends on route order, so one fallback decides: an unknown method, or
	// any but GET on the service, is MethodNotAllowed; a known method with
	// a path and query no route takes (POST /bucket, a browser-form
	// upload) is NotImplemented.
	fallback := h.wrap(nil, func(_ http.ResponseWriter, r *http.Request) error {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
			if r.URL.Path != "/" {
				return ErrNotImplemented
			}
		}
		return ErrMethodNotAllowed
	})
	r.MethodNotAllowedHandler, r.NotFoundHandler = fallback, fallback
	return r
}

// genericParam reports whether a query parameter is one that no operation
// is selected by: the options of listings, response-* overrides, the
// presigned-URL parameters and the SDK's x-id.
func genericParam(k string) bool {
	switch k {
	case "prefix", "delimiter", "marker", "max-keys", "encoding-type",
		"continuation-token", "start-after", "fetch-owner",
		"key-marker", "upload-id-marker", "max-uploads",
		"max-parts", "part-number-marker", "max-buckets", "bucket-region",
		"response-content-type", "response-content-language", "response-expires",
		"response-cache-control", "response-content-disposition",
		"response-content-encoding", "x-id":
		return true
	}
	return len(k) > 6 && strings.EqualFold(k[:6], "x-amz-")
}

// wrap adapts an operation: it refuses query parameters the operation does
// not understand (an unsupported subresource such as ?acl must never get a
// wrong success) and turns a returned error into the error response.
func (h *handler) wrap(params []string, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkParams(r, params)
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	})
}

func checkParams(r *http.Request, params []string) error {
	for k := range r.URL.Query() {
		if genericParam(k) || slices.Contains(params, k) {
			continue
		}
		return ErrNotImplemented.WithMessage("The " + k + " subresource or parameter is not supported.")
	}
	return nil
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	payloadKey
	bodyKey
)

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// payloadFrom returns the authenticated body stored by authenticate.
func payloadFrom(ctx context.Context) *payload {
	p, _ := ctx.Value(payloadKey).(*payload)
	return p
}

// requestID gives every response x-amz-request-id and x-amz-id-2 headers
// and the request context the ID, for logs and error documents.
func (h *handler) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [24]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		id := strings.ToUpper(hex.EncodeToString(b[:8]))
		hd := w.Header()
		hd.Set("X-Amz-Request-Id", id)
		hd.Set("X-Amz-Id-2", base64.StdEncoding.EncodeToString(b[8:]))
		hd.Set("Server", "Ishtar")
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		if r.Body != nil && r.Body != http.NoBody {
			wb := &watchedBody{ReadCloser: r.Body}
			r.Body = wb
			ctx = context.WithValue(ctx, bodyKey, wb)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// watchedBody remembers whether reading the request body failed in the
// transport: the client went away mid-upload.
type watchedBody struct {
	io.ReadCloser
	failed atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
	}
	return n, err
}

// clientGone reports whether r's client went away: its connection failed
// while the body was read, or the request's context ended.
func clientGone(r *http.Request) bool {
	if r.Context().Err() != nil {
		return true
	}
	wb, _ := r.Context().Value(bodyKey).(*watchedBody)
	return wb != nil && wb.failed.Load()
}

// authenticate verifies the request signature as received, before any
// rewriting, and stores the authenticated payload for the operations.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := h.verify.verify(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			// net/http sends "100 Continue" on the first read of the body,
			// and an empty body is never read: answer it here, or botocore
			// mistakes the final response for the interim one and stalls.
			w.WriteHeader(http.StatusContinue)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), payloadKey, p)))
	})
}

// addressing turns a virtual-host-style request into its path-style form
// and routes "/bucket/" as "/bucket".
func (h *handler) addressing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bucket, ok := h.hostBucket(r.Host); ok {
			u := *r.URL
			u.Path = "/" + bucket + r.URL.Path
			if r.URL.Path == "/" {
				u.Path = "/" + bucket
			}
			u.RawPath = ""
			r2 := r.Clone(r.Context())
			r2.URL = &u
			r = r2
		}
		if p := r.URL.Path; len(p) > 2 && strings.IndexByte(p[1:], '/') == len(p)-2 {
			u := *r.URL
			u.Path = p[:len(p)-1]
			u.RawPath = ""
			r2 := r.Clone(r.Context())
			r2.URL = &u
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// hostBucket returns the bucket a virtual-host-style Host names.
func (h *handler) hostBucket(host string) (string, bool) {
	if h.cfg.BaseDomain == "" {
		return "", false
	}
	if hst, _, err := net.SplitHostPort(host); err == nil {
		host = hst
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	bucket, ok := strings.CutSuffix(host, "."+h.cfg.BaseDomain)
	if !ok || bucket == "" {
		return "", false
	}
	return bucket, true
}

// writeError sends err as an S3 error document (HEAD: status only). An
// error that is not an *Error becomes InternalError, logged as an error
// unless the client went away (then it is no fault of the server's).
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	id := requestIDFrom(r.Context())
	var e *Error
	switch {
	case errors.As(err, &e):
		h.log.DebugContext(r.Context(), "s3api: request failed", "request_id", id,
			"method", r.Method, "path", r.URL.Path, "code", e.Code)
	case clientGone(r):
		// Not the server's failure: nobody is left to answer.
		h.log.DebugContext(r.Context(), "s3api: client went away", "request_id", id,
			"method", r.Method, "path", r.URL.Path, "err", err)
		e = ErrInternalError
	default:
		h.log.ErrorContext(r.Context(), "s3api: internal error", "request_id", id,
			"method", r.Method, "path", r.URL.Path, "err", err)
		e = ErrInternalError
	}
	if r.Method == http.MethodHead || e.Status == http.StatusNotModified {
		w.WriteHeader(e.Status)
		return
	}
	resource := e.Resource
	if resource == "" {
		resource = r.URL.Path
	}
	doc := errorXML{Code: e.Code, Message: e.Message, HeadersNotSigned: e.HeadersNotSigned,
		Resource: resource, RequestID: id}
	if werr := writeXML(w, e.Status, doc); werr != nil {
		h.log.DebugContext(r.Context(), "s3api: write error response", "request_id", id, "err", werr)
	}
}
