package s3api

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

const (
	// MinPartSize is the smallest size of any part but the last one of a
	// completed multipart upload.
	MinPartSize = 5 << 20
	// MaxPartNumber is the highest part number.
	MaxPartNumber = 10000
	// MaxPutSize is the largest single PUT or part S3 accepts (5 GiB).
	MaxPutSize = 5 << 30
)

// CompleteParts checks the part list of a CompleteMultipartUpload request
// against the parts stored for the upload (in any order) and returns the
// chosen parts in order with the object's ETag (unquoted). Errors:
// InvalidPartOrder if the numbers do not strictly ascend, InvalidPart if a
// part is missing or its ETag differs, EntityTooSmall if a part other than
// the last is under MinPartSize, MalformedXML for an empty list.
func CompleteParts(requested []CompletedPart, stored []PartInfo) ([]PartInfo, string, error) {
	if len(requested) == 0 {
		return nil, "", ErrMalformedXML.WithMessage("You must specify at least one part.")
	}
	for i, p := range requested {
		if p.PartNumber < 1 || p.PartNumber > MaxPartNumber {
			return nil, "", ErrInvalidPart
		}
		if i > 0 && p.PartNumber <= requested[i-1].PartNumber {
			return nil, "", ErrInvalidPartOrder
		}
	}
	byNumber := make(map[int]PartInfo, len(stored))
	for _, p := range stored {
		byNumber[p.PartNumber] = p
	}
	chosen := make([]PartInfo, 0, len(requested))
	for _, r := range requested {
		p, ok := byNumber[r.PartNumber]
		if !ok || !strings.EqualFold(strings.Trim(r.ETag, `"`), p.ETag) {
			return nil, "", ErrInvalidPart.WithMessage(fmt.Sprintf(
				"Part %d could not be found or its entity tag did not match.", r.PartNumber))
		}
		chosen = append(chosen, p)
	}
	for _, p := range chosen[:len(chosen)-1] {
		if p.Size < MinPartSize {
			return nil, "", ErrEntityTooSmall.WithMessage(fmt.Sprintf(
				"Part %d is %d bytes; every part but the last must be at least %d bytes.",
				p.PartNumber, p.Size, MinPartSize))
		}
	}
	etag, err := MultipartETag(chosen)
	if err != nil {
		return nil, "", err
	}
	return chosen, etag, nil
}

// MultipartETag returns the ETag S3 gives a multipart object: the hex MD5
// of the concatenated binary MD5s of its parts, a dash, and the part count.
func MultipartETag(parts []PartInfo) (string, error) {
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(p.ETag)
		if err != nil || len(sum) != md5.Size {
			return "", fmt.Errorf("s3api: part %d has ETag %q, not a hex MD5", p.PartNumber, p.ETag)
		}
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}
