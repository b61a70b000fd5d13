package s3api

// Unsigned headers: nothing the signature does not cover is obeyed.
//
// A SigV4 signature covers the headers named in SignedHeaders (or
// X-Amz-SignedHeaders in a presigned URL) and nothing else, so anyone who
// holds a presigned URL, or replays a signed request, may add headers
// freely. S3 therefore requires every x-amz-* header present in a request
// to be signed, and refuses the request otherwise: 403 AccessDenied, "There
// were headers present in the request which were not signed", with a
// HeadersNotSigned element naming them. Without that rule an unsigned
// x-amz-copy-source added to a presigned upload turns it into a copy of
// any object of the owner's into that key, and unsigned x-amz-meta-*,
// checksum, storage-class, tagging or ACL headers change what is stored.
//
// The rule is S3's, on the prefix, not a list of the headers handlers read
// today: every x-amz-* header, so one a handler learns to read later is
// covered too. Headers without that prefix (User-Agent, Accept-Encoding,
// amz-sdk-*, X-Amzn-Trace-Id, Expect, Content-Length; Content-Type, which
// minio-go leaves unsigned) are outside it, as they are for S3.
//
// A header left out of SignedHeaders is accepted when its value is bound
// by the signature another way, so it cannot say anything the signer did
// not sign:
//
//   - x-amz-content-sha256 equal to the payload hash the signature covers
//     (the last line of the canonical request). Header-signed requests
//     must send it and S3 does not insist it be in SignedHeaders; on a
//     presigned URL it is the hash the client signed or it does not match.
//   - x-amz-date equal to the signing time in the string to sign (the
//     header of a header-signed request; SigV4 binds it there).
//   - a header with the same name and value as a query parameter: the
//     query string is signed whole, X-Amz-Signature aside (a presigned URL
//     may carry x-amz-* values as query parameters).
//
// x-amz-security-token has no exemption: the gateway issues no session
// tokens, and S3 requires the token signed.

import (
	"net/http"
	"slices"
	"strings"
)

// amzPrefix begins the names of the headers that must be signed.
const amzPrefix = "x-amz-"

// checkSignedHeaders refuses a request that carries an x-amz-* header its
// signature does not cover (see above). verify calls it once the signature
// has matched, before anything reads a header.
func checkSignedHeaders(r *http.Request, query []queryParam, s *sigV4Request) error {
	var unsigned []string
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if !strings.HasPrefix(lower, amzPrefix) {
			continue
		}
		if _, signed := slices.BinarySearch(s.signedHeaders, lower); signed {
			continue
		}
		if boundBySignature(lower, canonicalHeaderValue(vals), query, s) {
			continue
		}
		unsigned = append(unsigned, lower)
	}
	if len(unsigned) == 0 {
		return nil
	}
	slices.Sort(unsigned)
	e := *ErrHeadersNotSigned
	e.HeadersNotSigned = strings.Join(unsigned, ", ")
	return &e
}

// boundBySignature reports whether the x-amz-* header name (lower case)
// with the canonical value, though not in SignedHeaders, has a value the
// signature binds: the three exemptions above.
func boundBySignature(name, value string, query []queryParam, s *sigV4Request) bool {
	switch {
	case name == "x-amz-content-sha256" && value == s.payloadHash:
		return true
	case name == "x-amz-date" && value == s.amzDate:
		return true
	}
	for _, p := range query {
		if p.key != "X-Amz-Signature" && strings.EqualFold(p.key, name) && p.value == value {
			return true
		}
	}
	return false
}
