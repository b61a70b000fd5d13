package s3api

// Client-side SigV4: signing requests the way AWS SDKs do, for Ishtar's
// own tools (ishtar upload, download, list), which use no SDK. It builds
// the canonical request with the same functions the verifier uses, so the
// two sides agree by construction; the tests also check AWS's published
// example signature.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// UnsignedPayload is the payload hash of a body that is sent unhashed.
const UnsignedPayload = unsignedPayload

// EmptyPayloadHash is the payload hash of an empty body.
const EmptyPayloadHash = emptySHA256

// Signer signs S3 requests with AWS Signature Version 4 in the
// Authorization header.
type Signer struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string           // default "us-east-1"
	Now             func() time.Time // default time.Now
}

// Sign signs r in place. payloadHash is the lowercase hex SHA-256 of the
// body, EmptyPayloadHash, or UnsignedPayload. Sign sets X-Amz-Date,
// X-Amz-Content-Sha256 and Authorization, and signs Host, Content-MD5,
// Content-Type, Range and every X-Amz-* header present, so set those
// first. r.URL.Path is the decoded path; Sign sets r.URL.RawPath to its
// SigV4 encoding so that the request line is what was signed.
func (s *Signer) Sign(r *http.Request, payloadHash string) error {
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return errors.New("s3api: sign: no access key ID or secret")
	}
	region := s.Region
	if region == "" {
		region = "us-east-1"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	amzDate := t.Format(amzDateFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	r.Header.Del("Authorization")
	if r.URL.Path == "" {
		r.URL.Path = "/"
	}
	r.URL.RawPath = uriEncode(r.URL.Path, false)
	query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("s3api: sign: query %q: %w", r.URL.RawQuery, err)
	}

	names := []string{"host"}
	for k := range r.Header {
		lk := strings.ToLower(k)
		if lk == "content-md5" || lk == "content-type" || lk == "range" || strings.HasPrefix(lk, "x-amz-") {
			names = append(names, lk)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	headers := make([]string, len(names))
	for i, n := range names {
		headers[i] = n + ":" + canonicalHeaderValue(requestHeaderValues(r, n))
	}
	signed := strings.Join(names, ";")
	creq := canonicalRequest{
		method:        r.Method,
		uri:           r.URL.RawPath,
		query:         canonicalQueryString(query, ""),
		headers:       headers,
		signedHeaders: signed,
		payloadHash:   payloadHash,
	}
	scope := credentialScope{accessKey: s.AccessKeyID, date: t.Format(scopeDateFormat), region: region, service: serviceS3}
	key := deriveSigningKey(s.SecretAccessKey, scope.date, scope.region, scope.service)
	sig := hmacSHA256(key, stringToSign(amzDate, scope, creq.String()))
	r.Header.Set("Authorization", sigV4Algorithm+" Credential="+s.AccessKeyID+"/"+scope.String()+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(sig))
	return nil
}
