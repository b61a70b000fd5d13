package s3api

// Presigned URLs: SigV4 carried in the query string (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Signature). The payload is UNSIGNED-PAYLOAD unless the client
// signed an x-amz-content-sha256 (as a query parameter or a header).

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// maxPresignExpiry is the longest X-Amz-Expires S3 accepts: seven days.
const maxPresignExpiry = 7 * 24 * time.Hour

// presignParams is a parsed presigned query.
type presignParams struct {
	scope         credentialScope
	signedHeaders []string
	signature     []byte
	date          time.Time
	amzDate       string
	expires       time.Duration
}

// parsePresign reads the X-Amz-* authentication parameters. Errors
// describe what is wrong; verify reports them as
// AuthorizationQueryParametersError.
func parsePresign(q []queryParam) (presignParams, error) {
	var vals [6]string
	names := [6]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"}
	var seen [6]bool
	for _, p := range q {
		for i, n := range names {
			if p.key != n {
				continue
			}
			if seen[i] {
				return presignParams{}, errors.New("s3api: query parameter " + n + " is repeated")
			}
			seen[i], vals[i] = true, p.value
		}
	}
	for i, n := range names {
		if !seen[i] {
			return presignParams{}, errors.New("s3api: query-string authentication requires the " + n + " parameter")
		}
	}
	if vals[0] != sigV4Algorithm {
		return presignParams{}, errors.New(`s3api: X-Amz-Algorithm only supports "` + sigV4Algorithm + `"`)
	}
	var pp presignParams
	var err error
	if pp.scope, err = parseCredential(vals[1]); err != nil {
		return presignParams{}, err
	}
	if pp.date, err = time.Parse(amzDateFormat, vals[2]); err != nil {
		return presignParams{}, errors.New(`s3api: X-Amz-Date must be in the ISO8601 long format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	pp.amzDate = vals[2]
	secs, err := strconv.ParseInt(vals[3], 10, 64)
	if err != nil {
		return presignParams{}, errors.New("s3api: X-Amz-Expires must be a number of seconds")
	}
	if secs > int64(maxPresignExpiry/time.Second) {
		return presignParams{}, errors.New("s3api: X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	pp.expires = time.Duration(max(secs, 0)) * time.Second
	if pp.scope.date != pp.date.Format(scopeDateFormat) {
		return presignParams{}, errors.New("s3api: invalid credential date; it is not the same as X-Amz-Date")
	}
	if pp.signedHeaders, err = parseSignedHeaders(vals[4]); err != nil {
		return presignParams{}, err
	}
	if pp.signature, err = parseSignature(vals[5]); err != nil {
		return presignParams{}, err
	}
	return pp, nil
}

// fromQuery reads a presigned-URL signature and checks its validity
// window: not before X-Amz-Date (less the clock skew), not after
// X-Amz-Date + X-Amz-Expires.
func (v *verifier) fromQuery(r *http.Request, q []queryParam) (*sigV4Request, error) {
	pp, err := parsePresign(q)
	if err != nil {
		return nil, ErrAuthorizationQueryParametersError.WithMessage(detail(err))
	}
	if pp.scope.service != serviceS3 {
		return nil, ErrAuthorizationQueryParametersError.WithMessage("Incorrect service " + strconv.Quote(pp.scope.service) + " in X-Amz-Credential. This endpoint belongs to \"s3\".")
	}
	now := v.now()
	if pp.date.Sub(now) > maxClockSkew {
		return nil, ErrAccessDenied.WithMessage("Request is not valid yet")
	}
	// A URL signed to live zero or fewer seconds has expired when it
	// arrives: S3 answers both the same way.
	if pp.expires <= 0 || now.Sub(pp.date) > pp.expires {
		return nil, ErrAccessDenied.WithMessage("Request has expired")
	}
	ph := unsignedPayload
	for _, p := range q {
		if p.key == "X-Amz-Content-Sha256" {
			ph = p.value
		}
	}
	if ph == unsignedPayload {
		if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
			ph = h
		}
	}
	return &sigV4Request{
		scope:         pp.scope,
		signedHeaders: pp.signedHeaders,
		signature:     pp.signature,
		amzDate:       pp.amzDate,
		payloadHash:   ph,
		presigned:     true,
	}, nil
}
