package s3api

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// parseCopySource parses x-amz-copy-source: "bucket/key" or "/bucket/key",
// URL-encoded, optionally followed by "?versionId=...", which only the
// current ("null") version may name.
func parseCopySource(v string) (bucket, key string, err error) {
	raw, query, _ := strings.Cut(v, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return "", "", ErrInvalidCopySource
		}
		if id, ok := q["versionId"]; ok && (len(id) != 1 || id[0] != "null") {
			return "", "", ErrNotImplemented.WithMessage("Versioning is not supported; the copy source cannot name a version.")
		}
	}
	src, err := url.PathUnescape(raw)
	if err != nil {
		return "", "", ErrInvalidCopySource
	}
	src = strings.TrimPrefix(src, "/")
	bucket, key, found := strings.Cut(src, "/")
	if !found || bucket == "" || key == "" {
		return "", "", ErrInvalidCopySource
	}
	if err := checkBucket(bucket); err != nil {
		return "", "", err
	}
	if !utf8.ValidString(key) {
		// A header, not the URI: S3 calls a bad copy source InvalidArgument.
		return "", "", ErrInvalidCopySource.WithMessage("Copy Source key must be valid UTF-8.")
	}
	if err := checkKey(key); err != nil {
		return "", "", err
	}
	return bucket, key, nil
}

func (h *handler) copyObject(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	if err := checkObjectHeaders(r.Header); err != nil {
		return err
	}
	in := CopyObjectInput{SrcBucket: srcBucket, SrcKey: srcKey, Bucket: bucket, Key: key}
	switch r.Header.Get("X-Amz-Metadata-Directive") {
	case "", "COPY":
		if srcBucket == bucket && srcKey == key {
			return ErrInvalidRequest.WithMessage("This copy request is illegal because it is trying to copy an " +
				"object to itself without changing the object's metadata, storage class, website redirect " +
				"location or encryption attributes.")
		}
	case "REPLACE":
		m, err := readObjectMeta(r.Header)
		if err != nil {
			return err
		}
		in.Meta = &m
	default:
		return ErrInvalidArgument.WithMessage("Unknown metadata directive.")
	}
	cond := readCopyConditions(r.Header)
	in.Check = func(src ObjectInfo) error { return cond.check(src.ETag, src.LastModified, true) }
	info, err := h.b.CopyObject(r.Context(), in)
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, copyObjectResult{
		LastModified: xmlTime(info.LastModified), ETag: quoteETag(info.ETag),
	})
}

// uploadPartCopy copies a byte range of an object into a part. It reads
// the source through the Backend's GetObject and stores it with UploadPart,
// so a Backend needs nothing extra for it.
func (h *handler) uploadPartCopy(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	partNumber, err := parsePartNumber(q.Get("partNumber"))
	if err != nil {
		return err
	}
	srcBucket, srcKey, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	src, err := h.b.GetObject(r.Context(), srcBucket, srcKey)
	if err != nil {
		return err
	}
	if err := readCopyConditions(r.Header).check(src.ETag, src.LastModified, true); err != nil {
		return err
	}
	offset, length := int64(0), src.Size
	if v := r.Header.Get("X-Amz-Copy-Source-Range"); v != "" {
		if offset, length, err = parseCopySourceRange(v, src.Size); err != nil {
			return err
		}
	}
	if length > h.cfg.MaxObjectSize {
		return ErrEntityTooLarge
	}
	var body io.Reader = strings.NewReader("")
	if length > 0 {
		rc, err := src.Open(r.Context(), offset, length)
		if err != nil {
			return err
		}
		defer rc.Close()
		body = &exactReader{r: rc, n: length}
	}
	part, err := h.b.UploadPart(r.Context(), UploadPartInput{
		Bucket: bucket, Key: key, UploadID: q.Get("uploadId"), PartNumber: partNumber,
		Body: body, Size: length, Checksum: func() Checksum { return Checksum{} },
	})
	if err != nil {
		return err
	}
	return writeXML(w, http.StatusOK, copyPartResult{
		LastModified: xmlTime(part.LastModified), ETag: quoteETag(part.ETag),
	})
}
