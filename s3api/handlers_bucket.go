package s3api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// bucketOf returns the validated bucket of a routed request.
func bucketOf(r *http.Request) (string, error) {
	b := mux.Vars(r)["bucket"]
	return b, checkBucket(b)
}

// objectOf returns the validated bucket and key of a routed request.
func objectOf(r *http.Request) (bucket, key string, err error) {
	bucket, err = bucketOf(r)
	if err != nil {
		return "", "", err
	}
	key = mux.Vars(r)["key"]
	return bucket, key, checkKey(key)
}

// owner is the Owner of everything: the authenticated access key.
func owner(r *http.Request) ownerXML {
	var id string
	if p := payloadFrom(r.Context()); p != nil {
		id = p.AccessKey
	}
	return ownerXML{ID: id, DisplayName: id}
}

// readDocument returns the authenticated request body of a document-carrying
// request, at most limit bytes (see decodeXMLBody for errors).
func readDocument(r *http.Request, limit int64) ([]byte, error) {
	p := payloadFrom(r.Context())
	if p == nil || p.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(p.Body, limit+1))
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("s3api: read request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, ErrMalformedXML.WithMessage("The XML you provided was larger than the maximum allowed size.")
	}
	return b, nil
}

func (h *handler) listBuckets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	maxBuckets := 10000
	if v := q.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return ErrInvalidArgument.WithMessage("max-buckets must be an integer from 1 to 10000.")
		}
		maxBuckets = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		var err error
		if after, err = decodeToken(tok); err != nil {
			return err
		}
	}
	prefix := q.Get("prefix")
	buckets, err := h.b.ListBuckets(r.Context())
	if err != nil {
		return err
	}
	res := listBucketsResult{Owner: owner(r), Prefix: prefix, Buckets: []bucketXML{}}
	if region := q.Get("bucket-region"); region != "" && region != h.cfg.Region {
		return writeXML(w, http.StatusOK, res)
	}
	for _, b := range buckets {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if len(res.Buckets) == maxBuckets {
			res.ContinuationToken = encodeToken(res.Buckets[len(res.Buckets)-1].Name)
			break
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: xmlTime(b.Created)})
	}
	return writeXML(w, http.StatusOK, res)
}

func (h *handler) headBucket(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	if err := h.b.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	w.Header().Set("X-Amz-Bucket-Region", h.cfg.Region)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *handler) getBucketLocation(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	if err := h.b.HeadBucket(r.Context(), bucket); err != nil {
		return err
	}
	loc := h.cfg.Region
	if loc == "us-east-1" {
		loc = "" // S3 reports the original region as an empty constraint
	}
	return writeXML(w, http.StatusOK, locationResult{Location: loc})
}

func (h *handler) createBucket(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	if err := checkACL(r.Header); err != nil {
		return err
	}
	if v := r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled"); strings.EqualFold(v, "true") {
		return ErrNotImplemented.WithMessage("Object lock is not supported.")
	}
	body, err := readDocument(r, h.cfg.MaxXMLBodySize)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		cfg, err := parseCreateBucket(body)
		if err != nil {
			return err
		}
		if cfg.LocationConstraint != "" && cfg.LocationConstraint != h.cfg.Region {
			return ErrInvalidLocationConstraint.WithMessage(
				"The specified location constraint is not valid; this endpoint serves " + h.cfg.Region + ".")
		}
	}
	err = h.b.CreateBucket(r.Context(), bucket)
	if errors.Is(err, ErrBucketAlreadyOwnedByYou) && h.cfg.Region == legacyRegion {
		// S3's us-east-1 legacy: creating a bucket you already own there
		// succeeds and changes nothing (its objects stay).
		err = nil
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/"+bucket)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (h *handler) deleteBucket(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	if err := h.b.DeleteBucket(r.Context(), bucket); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkACL accepts the canned ACLs that mean "only the owner", which is
// what every bucket and object here is, and refuses any other ACL.
func checkACL(h http.Header) error {
	switch strings.ToLower(h.Get("X-Amz-Acl")) {
	case "", "private", "bucket-owner-full-control", "bucket-owner-read":
	default:
		return ErrNotImplemented.WithMessage("Only the private canned ACL is supported.")
	}
	for name := range h {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-grant-") {
			return ErrNotImplemented.WithMessage("ACL grants are not supported.")
		}
	}
	return nil
}
