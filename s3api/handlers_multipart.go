package s3api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

func (h *handler) createMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	if err := checkObjectHeaders(r.Header); err != nil {
		return err
	}
	meta, err := readObjectMeta(r.Header)
	if err != nil {
		return err
	}
	alg := strings.ToUpper(r.Header.Get("X-Amz-Checksum-Algorithm"))
	switch alg {
	case "", "CRC32", "CRC32C", "SHA1", "SHA256":
	default:
		return ErrInvalidArgument.WithMessage("Unsupported checksum algorithm " + alg + ".")
	}
	id, err := h.b.CreateMultipartUpload(r.Context(), CreateMultipartUploadInput{
		Bucket: bucket, Key: key, Meta: meta, ChecksumAlgorithm: alg,
	})
	if err != nil {
		return err
	}
	if alg != "" {
		w.Header().Set("X-Amz-Checksum-Algorithm", alg)
	}
	return writeXML(w, http.StatusOK, initiateResult{Bucket: bucket, Key: key, UploadID: id})
}

func (h *handler) uploadPart(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	partNumber, err := parsePartNumber(q.Get("partNumber"))
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
	part, err := h.b.UploadPart(r.Context(), UploadPartInput{
		Bucket: bucket, Key: key, UploadID: q.Get("uploadId"), PartNumber: partNumber,
		Body: body, Size: size, Checksum: checksumOf(p), ContentMD5: p.takeContentMD5(),
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", quoteETag(part.ETag))
	setChecksumHeader(w.Header(), checksumOf(p)())
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *handler) completeMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	body, err := readDocument(r, h.cfg.MaxXMLBodySize)
	if err != nil {
		return err
	}
	req, err := parseComplete(body)
	if err != nil {
		return err
	}
	parts := make([]CompletedPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = CompletedPart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	info, err := h.b.CompleteMultipartUpload(r.Context(), CompleteMultipartUploadInput{
		Bucket: bucket, Key: key, UploadID: r.URL.Query().Get("uploadId"), Parts: parts,
	})
	if err != nil {
		return err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	loc := url.URL{Scheme: scheme, Host: r.Host, Path: "/" + bucket + "/" + key}
	return writeXML(w, http.StatusOK, completeResult{
		Location: loc.String(), Bucket: bucket, Key: key, ETag: quoteETag(info.ETag),
	})
}

func (h *handler) abortMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	if err := h.b.AbortMultipartUpload(r.Context(), bucket, key, r.URL.Query().Get("uploadId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// exactReader yields exactly n bytes of r, then io.EOF; a source that ends
// early gives IncompleteBody instead of a short, silently stored part.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	k, err := e.r.Read(p)
	e.n -= int64(k)
	if errors.Is(err, io.EOF) {
		if e.n > 0 {
			return k, ErrIncompleteBody
		}
		err = nil
	}
	return k, err
}
