package s3api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

func quoteETag(etag string) string { return `"` + etag + `"` }

// copyBufPool holds the buffers GET copies object data through.
var copyBufPool = sync.Pool{New: func() any {
	b := make([]byte, 256<<10)
	return &b
}}

// checkObjectHeaders refuses headers asking for features this gateway
// does not have, so that none of them is silently dropped.
func checkObjectHeaders(h http.Header) error {
	if err := checkACL(h); err != nil {
		return err
	}
	if sc := h.Get("X-Amz-Storage-Class"); sc != "" && sc != "STANDARD" {
		return ErrInvalidStorageClass
	}
	for name := range h {
		n := strings.ToLower(name)
		switch {
		case strings.HasPrefix(n, "x-amz-server-side-encryption"),
			strings.HasPrefix(n, "x-amz-copy-source-server-side-encryption"):
			return ErrNotImplemented.WithMessage("Server-side encryption headers are not supported; all data is encrypted by the gateway.")
		case strings.HasPrefix(n, "x-amz-object-lock-"):
			return ErrNotImplemented.WithMessage("Object lock is not supported.")
		case n == "x-amz-tagging", n == "x-amz-website-redirect-location", n == "x-amz-write-offset-bytes":
			return ErrNotImplemented.WithMessage("The " + n + " header is not supported.")
		}
	}
	return nil
}

// uploadBody returns the body of an upload and its exact decoded size,
// or -1 when the client sent none (Transfer-Encoding: chunked without
// aws-chunked). Such a body streams like any other; past MaxObjectSize
// bytes it fails with EntityTooLarge instead of ending.
func (h *handler) uploadBody(p *payload) (io.Reader, int64, error) {
	switch {
	case p.Size > h.cfg.MaxObjectSize:
		return nil, 0, ErrEntityTooLarge
	case p.Size >= 0:
		return p.Body, p.Size, nil
	}
	return &limitedBody{r: p.Body, left: h.cfg.MaxObjectSize}, -1, nil
}

// limitedBody fails a body of unknown length that runs past its limit.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		l.left = -1
		return 0, ErrEntityTooLarge
	}
	l.left -= int64(n)
	return n, err
}

// uploadPayload returns the authenticated body of an upload.
func uploadPayload(r *http.Request) (*payload, error) {
	p := payloadFrom(r.Context())
	if p == nil || p.Body == nil {
		return nil, errors.New("s3api: no authenticated payload in request context")
	}
	return p, nil
}

func checksumOf(p *payload) func() Checksum {
	return func() Checksum {
		alg, v := p.checksum()
		return Checksum{Algorithm: alg, Value: v}
	}
}

func setChecksumHeader(h http.Header, c Checksum) {
	if c.Algorithm != "" && c.Value != "" {
		h.Set("X-Amz-Checksum-"+c.Algorithm, c.Value)
	}
}

func (h *handler) putObject(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	if err := checkObjectHeaders(r.Header); err != nil {
		return err
	}
	if r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "" {
		return ErrNotImplemented.WithMessage("Conditional writes are not supported.")
	}
	meta, err := readObjectMeta(r.Header)
	if err != nil {
		return err
	}
	p, err := uploadPayload(r)
	if err != nil {
		return err
	}
	body, size, err := h.uploadBody(p)
	if err != nil {
		return err
	}
	out, err := h.b.PutObject(r.Context(), PutObjectInput{
		Bucket: bucket, Key: key, Meta: meta, Body: body, Size: size, Checksum: checksumOf(p),
		ContentMD5: p.takeContentMD5(),
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", quoteETag(out.ETag))
	setChecksumHeader(w.Header(), checksumOf(p)())
	w.WriteHeader(http.StatusOK)
	return nil
}

// getObject serves GetObject and HeadObject.
func (h *handler) getObject(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	partNumber := 0
	if v, ok := q["partNumber"]; ok {
		if partNumber, err = parsePartNumber(v[0]); err != nil {
			return err
		}
		if r.Header.Get("Range") != "" {
			return ErrInvalidRequest.WithMessage("Cannot specify both Range header and partNumber query parameter.")
		}
	}
	obj, err := h.b.GetObject(r.Context(), bucket, key)
	if err != nil {
		return err
	}
	hd := w.Header()
	if err := readConditions(r.Header).check(obj.ETag, obj.LastModified, false); err != nil {
		if errors.Is(err, ErrNotModified) {
			hd.Set("ETag", quoteETag(obj.ETag))
			hd.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return err
	}
	sel, err := selectBytes(obj, partNumber, r.Header.Get("Range"))
	if err != nil {
		if errors.Is(err, ErrInvalidRange) {
			hd.Set("Content-Range", "bytes */"+strconv.FormatInt(obj.Size, 10))
		}
		return err
	}
	var body io.ReadCloser
	if r.Method != http.MethodHead && sel.length > 0 {
		if body, err = obj.Open(r.Context(), sel.offset, sel.length); err != nil {
			return err
		}
		defer body.Close()
	}
	status := writeGetHeaders(hd, obj, sel, q, strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED"))
	w.WriteHeader(status)
	if body == nil {
		return nil
	}
	buf := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(buf)
	n, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{body}, *buf)
	if err != nil || n != sel.length {
		// The status is sent; all that is left is to abort the response so
		// the client sees a body cut short, never a complete-looking one.
		h.log.WarnContext(r.Context(), "s3api: object body cut short", "request_id",
			requestIDFrom(r.Context()), "bucket", bucket, "sent", n, "want", sel.length, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// writeGetHeaders sets the headers of a GET or HEAD answer serving sel of
// obj and returns its status.
func writeGetHeaders(hd http.Header, obj *Object, sel selection, q map[string][]string, checksumMode bool) int {
	writeObjectMeta(hd, obj.Meta, q)
	hd.Set("ETag", quoteETag(obj.ETag))
	hd.Set("Last-Modified", obj.LastModified.UTC().Format(http.TimeFormat))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Length", strconv.FormatInt(sel.length, 10))
	if sel.partsCount > 0 {
		hd.Set("X-Amz-Mp-Parts-Count", strconv.Itoa(sel.partsCount))
	}
	if !sel.partial {
		if checksumMode {
			setChecksumHeader(hd, obj.Checksum)
		}
		return http.StatusOK
	}
	hd.Set("Content-Range", "bytes "+strconv.FormatInt(sel.offset, 10)+"-"+
		strconv.FormatInt(sel.offset+sel.length-1, 10)+"/"+strconv.FormatInt(obj.Size, 10))
	return http.StatusPartialContent
}

// selection is the part of an object a GET serves.
type selection struct {
	offset, length int64
	partial        bool // 206 with Content-Range
	partsCount     int  // x-amz-mp-parts-count, when a part was asked for
}

// selectBytes resolves partNumber (if > 0) or the Range header against obj.
// As in S3, a single-PUT object is one part: part 1 is the whole object
// (200, no parts count); a part number beyond the object's parts is
// InvalidPart (400).
func selectBytes(obj *Object, partNumber int, rangeHeader string) (selection, error) {
	whole := selection{length: obj.Size}
	if partNumber > 0 {
		parts := len(obj.PartSizes)
		if partNumber > max(parts, 1) {
			return selection{}, ErrInvalidPart.WithMessage("The requested part number does not exist; the object has " +
				strconv.Itoa(max(parts, 1)) + " part(s).")
		}
		if parts == 0 {
			return whole, nil
		}
		var off int64
		for _, s := range obj.PartSizes[:partNumber-1] {
			off += s
		}
		return selection{offset: off, length: obj.PartSizes[partNumber-1], partial: true,
			partsCount: parts}, nil
	}
	spec, ok := parseRange(rangeHeader)
	if !ok {
		return whole, nil
	}
	off, n, err := spec.resolve(obj.Size)
	if err != nil {
		return selection{}, err
	}
	return selection{offset: off, length: n, partial: true}, nil
}

// parsePartNumber parses a partNumber parameter (1..MaxPartNumber).
func parsePartNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPartNumber {
		return 0, ErrInvalidArgument.WithMessage("Part number must be an integer between 1 and 10000, inclusive.")
	}
	return n, nil
}

func (h *handler) deleteObject(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	if err := h.b.DeleteObject(r.Context(), bucket, key); err != nil && !errors.Is(err, ErrNoSuchKey) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) deleteObjects(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	body, err := readDocument(r, h.cfg.MaxXMLBodySize)
	if err != nil {
		return err
	}
	req, err := parseDelete(body)
	if err != nil {
		return err
	}
	res := deleteResult{}
	results := make([]error, len(req.Objects))
	var keys []string
	var idx []int
	for i, o := range req.Objects {
		switch {
		case o.VersionID != "" && o.VersionID != "null":
			results[i] = ErrNotImplemented.WithMessage("Versioning is not supported.")
		default:
			results[i] = checkKey(o.Key)
		}
		if results[i] == nil {
			keys, idx = append(keys, o.Key), append(idx, i)
		}
	}
	if len(keys) > 0 {
		errs, err := h.b.DeleteObjects(r.Context(), bucket, keys)
		if err != nil {
			return err
		}
		if len(errs) != len(keys) {
			return errors.New("s3api: backend DeleteObjects returned a wrong number of results")
		}
		for j, e := range errs {
			if !errors.Is(e, ErrNoSuchKey) {
				results[idx[j]] = e
			}
		}
	}
	for i, o := range req.Objects {
		if results[i] == nil {
			if !req.Quiet {
				res.Deleted = append(res.Deleted, deletedXML{Key: o.Key})
			}
			continue
		}
		var e *Error
		if !errors.As(results[i], &e) {
			h.log.ErrorContext(r.Context(), "s3api: delete object", "request_id",
				requestIDFrom(r.Context()), "bucket", bucket, "err", results[i])
			e = ErrInternalError
		}
		res.Errors = append(res.Errors, deleteErrorXML{Key: o.Key, Code: e.Code, Message: e.Message})
	}
	return writeXML(w, http.StatusOK, res)
}
