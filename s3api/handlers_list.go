package s3api

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// maxListKeys is the most entries one listing page holds; larger requested
// limits are capped to it, as S3 does.
const maxListKeys = 1000

// parseLimit reads a max-keys style parameter: absent means maxListKeys,
// values above it are capped, negative or non-numeric ones are
// InvalidArgument.
func parseLimit(q url.Values, name string) (int, error) {
	v, ok := q[name]
	if !ok || len(v) == 0 {
		return maxListKeys, nil
	}
	s := strings.TrimSpace(v[0])
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(s, "-") {
			return maxListKeys, nil // a huge positive value is simply capped
		}
		return 0, ErrInvalidArgument.WithMessage("Provided " + name + " is not an integer or within integer range.")
	}
	if n < 0 {
		return 0, ErrInvalidArgument.WithMessage(name + " must not be negative.")
	}
	return int(min(n, maxListKeys)), nil
}

// listEncoder encodes names in a listing when encoding-type=url is asked.
type listEncoder bool

func newListEncoder(q url.Values) (listEncoder, error) {
	switch v := q.Get("encoding-type"); {
	case v == "":
		return false, nil
	case strings.EqualFold(v, "url"):
		return true, nil
	}
	return false, ErrInvalidArgument.WithMessage("Invalid Encoding Method specified in Request.")
}

func (e listEncoder) enc(s string) string {
	if e {
		return awsURLEncode(s)
	}
	return s
}

func (e listEncoder) typ() string {
	if e {
		return "url"
	}
	return ""
}

func (e listEncoder) prefixes(cps []string) []prefixXML {
	out := make([]prefixXML, len(cps))
	for i, p := range cps {
		out[i] = prefixXML{Prefix: e.enc(p)}
	}
	return out
}

func (e listEncoder) objects(objs []ObjectInfo, o *ownerXML) []objectXML {
	out := make([]objectXML, len(objs))
	for i, ob := range objs {
		out[i] = objectXML{
			Key:          e.enc(ob.Key),
			LastModified: xmlTime(ob.LastModified),
			ETag:         quoteETag(ob.ETag),
			Size:         ob.Size,
			Owner:        o,
			StorageClass: "STANDARD",
		}
	}
	return out
}

// listObjects serves ListObjects (v1) and, with list-type=2, ListObjectsV2.
func (h *handler) listObjects(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	v2 := false
	switch q.Get("list-type") {
	case "", "1":
	case "2":
		v2 = true
	default:
		return ErrInvalidArgument.WithMessage("Invalid list-type.")
	}
	maxKeys, err := parseLimit(q, "max-keys")
	if err != nil {
		return err
	}
	e, err := newListEncoder(q)
	if err != nil {
		return err
	}
	in := ListObjectsInput{Bucket: bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	// An empty continuation-token is no token, as in S3.
	token := q.Get("continuation-token")
	switch {
	case !v2:
		in.After = q.Get("marker")
	case token != "":
		if in.After, err = decodeToken(token); err != nil {
			return err
		}
	default:
		in.After = q.Get("start-after")
	}
	out, err := h.b.ListObjects(r.Context(), in)
	if err != nil {
		return err
	}
	own := owner(r)
	if !v2 {
		res := listV1Result{
			Name: bucket, Prefix: e.enc(in.Prefix), Marker: e.enc(in.After), MaxKeys: maxKeys,
			Delimiter: e.enc(in.Delimiter), EncodingType: e.typ(), IsTruncated: out.IsTruncated,
			Contents: e.objects(out.Objects, &own), CommonPrefixes: e.prefixes(out.CommonPrefixes),
		}
		if out.IsTruncated && in.Delimiter != "" {
			res.NextMarker = e.enc(out.NextAfter)
		}
		return writeXML(w, http.StatusOK, res)
	}
	var o *ownerXML
	if q.Get("fetch-owner") == "true" {
		o = &own
	}
	res := listV2Result{
		Name: bucket, Prefix: e.enc(in.Prefix), MaxKeys: maxKeys,
		KeyCount:  len(out.Objects) + len(out.CommonPrefixes),
		Delimiter: e.enc(in.Delimiter), EncodingType: e.typ(), IsTruncated: out.IsTruncated,
		StartAfter: e.enc(q.Get("start-after")),
		Contents:   e.objects(out.Objects, o), CommonPrefixes: e.prefixes(out.CommonPrefixes),
	}
	res.ContinuationToken = token
	if out.IsTruncated {
		res.NextContinuationToken = encodeToken(out.NextAfter)
	}
	return writeXML(w, http.StatusOK, res)
}

func (h *handler) listMultipartUploads(w http.ResponseWriter, r *http.Request) error {
	bucket, err := bucketOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	maxUploads, err := parseLimit(q, "max-uploads")
	if err != nil {
		return err
	}
	e, err := newListEncoder(q)
	if err != nil {
		return err
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	keyMarker, idMarker := q.Get("key-marker"), q.Get("upload-id-marker")
	uploads, err := h.b.ListMultipartUploads(r.Context(), bucket, prefix)
	if err != nil {
		return err
	}
	page := pageUploads(uploads, prefix, delim, keyMarker, idMarker, maxUploads)
	own := owner(r)
	res := listUploadsResult{
		Bucket: bucket, KeyMarker: e.enc(keyMarker), UploadIDMarker: idMarker,
		Prefix: e.enc(prefix), Delimiter: e.enc(delim), MaxUploads: maxUploads,
		EncodingType: e.typ(), IsTruncated: page.truncated,
		CommonPrefixes: e.prefixes(page.prefixes),
	}
	if page.truncated {
		res.NextKeyMarker, res.NextUploadIDMarker = e.enc(page.nextKey), page.nextID
	}
	for _, u := range page.uploads {
		res.Uploads = append(res.Uploads, uploadXML{
			Key: e.enc(u.Key), UploadID: u.UploadID, Initiator: own, Owner: own,
			StorageClass: "STANDARD", Initiated: xmlTime(u.Initiated),
			ChecksumAlgorithm: u.ChecksumAlgorithm,
		})
	}
	return writeXML(w, http.StatusOK, res)
}

type uploadPage struct {
	uploads         []UploadInfo
	prefixes        []string
	truncated       bool
	nextKey, nextID string
}

// pageUploads applies the ListMultipartUploads parameters. Uploads are
// ordered by key, then by upload ID, so that upload-id-marker ("upload IDs
// greater than") and the listing order agree.
func pageUploads(all []UploadInfo, prefix, delim, keyMarker, idMarker string, limit int) uploadPage {
	sort.Slice(all, func(i, j int) bool {
		if all[i].Key != all[j].Key {
			return all[i].Key < all[j].Key
		}
		return all[i].UploadID < all[j].UploadID
	})
	var p uploadPage
	markerCP, markerIsCP := commonPrefix(keyMarker, prefix, delim)
	markerIsCP = markerIsCP && markerCP == keyMarker
	n := 0
	for _, u := range all {
		if !strings.HasPrefix(u.Key, prefix) {
			continue
		}
		if keyMarker != "" {
			switch {
			case markerIsCP && strings.HasPrefix(u.Key, keyMarker):
				continue
			case u.Key < keyMarker,
				u.Key == keyMarker && (idMarker == "" || u.UploadID <= idMarker):
				continue
			}
		}
		cp, isCP := commonPrefix(u.Key, prefix, delim)
		if isCP && len(p.prefixes) > 0 && p.prefixes[len(p.prefixes)-1] == cp {
			continue
		}
		if n == limit {
			p.truncated = limit > 0
			break
		}
		n++
		if isCP {
			p.prefixes = append(p.prefixes, cp)
			p.nextKey, p.nextID = cp, ""
			continue
		}
		p.uploads = append(p.uploads, u)
		p.nextKey, p.nextID = u.Key, u.UploadID
	}
	return p
}

func (h *handler) listParts(w http.ResponseWriter, r *http.Request) error {
	bucket, key, err := objectOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	maxParts, err := parseLimit(q, "max-parts")
	if err != nil {
		return err
	}
	marker := 0
	if v := q.Get("part-number-marker"); v != "" {
		if marker, err = strconv.Atoi(v); err != nil || marker < 0 {
			return ErrInvalidArgument.WithMessage("part-number-marker must be a non-negative integer.")
		}
	}
	uploadID := q.Get("uploadId")
	info, parts, err := h.b.ListParts(r.Context(), bucket, key, uploadID)
	if err != nil {
		return err
	}
	own := owner(r)
	res := listPartsResult{
		Bucket: bucket, Key: key, UploadID: uploadID, Initiator: own, Owner: own,
		StorageClass: "STANDARD", PartNumberMarker: marker, MaxParts: maxParts,
		ChecksumAlgorithm: info.ChecksumAlgorithm,
	}
	for _, p := range parts {
		if p.PartNumber <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = maxParts > 0
			break
		}
		x := partXML{PartNumber: p.PartNumber, LastModified: xmlTime(p.LastModified),
			ETag: quoteETag(p.ETag), Size: p.Size}
		x.setChecksum(p.Checksum)
		res.Parts = append(res.Parts, x)
		res.NextPartNumberMarker = p.PartNumber
	}
	return writeXML(w, http.StatusOK, res)
}
