package s3api

// Request authentication: SigV4 in the Authorization header or in a
// presigned query, and the body in every x-amz-content-sha256 mode.
//
// Region: the gateway accepts whatever region the client signed with
// (clients default to us-east-1, some to "auto" or their own setting). The
// region is part of the signing key and of the string to sign, so a
// signature still binds it; refusing a mismatch would only break clients
// configured for another region. The service must be "s3".

import (
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// verifier authenticates requests with AWS Signature Version 4.
type verifier struct {
	creds  Credentials
	region string // the gateway's region; signatures for others are accepted (see above)
	now    func() time.Time
	keys   signingKeyCache
}

// newVerifier builds the request authenticator. region is the gateway's
// region (e.g. "us-east-1"); now is the clock (time.Now in production).
func newVerifier(creds Credentials, region string, now func() time.Time) *verifier {
	return &verifier{creds: creds, region: region, now: now}
}

// payload is an authenticated request body.
type payload struct {
	AccessKey string
	// Body yields the decoded object bytes (aws-chunked framing removed).
	// Every integrity check (x-amz-content-sha256 hash, chunk signatures,
	// trailing checksum, Content-MD5, x-amz-checksum-* header, length) is
	// settled when the data ends: on failure Body returns the *Error
	// (XAmzContentSHA256Mismatch, SignatureDoesNotMatch, BadDigest,
	// IncompleteBody...) INSTEAD of io.EOF, so a Backend that reads to EOF
	// before committing never stores a bad body. Never nil.
	Body io.Reader
	// Size is the decoded payload length (x-amz-decoded-content-length for
	// aws-chunked, else Content-Length), or -1 if unknown.
	Size int64

	ckAlgo, ckValue string
	verified        *verifiedBody // Body
}

// takeContentMD5 returns the Content-MD5 digest of the request (nil if
// none) and leaves its check to the caller; see verifiedBody.
func (p *payload) takeContentMD5() []byte {
	if p.verified == nil {
		return nil
	}
	return p.verified.takeContentMD5()
}

// checksum returns the verified x-amz-checksum-* algorithm ("CRC32",
// "CRC32C", "CRC64NVME", "SHA1", "SHA256", or "" if none) and base64
// value; valid only after Body has returned io.EOF.
func (p *payload) checksum() (algorithm, value string) {
	return p.ckAlgo, p.ckValue
}

// sigV4Request is what either form of SigV4 (header or query) claims.
type sigV4Request struct {
	scope         credentialScope
	signedHeaders []string
	signature     []byte
	amzDate       string // the timestamp as it appears in the string to sign
	payloadHash   string // the last line of the canonical request
	presigned     bool
}

// verify authenticates r AS RECEIVED (raw request path and query, Host
// header; call it before any routing rewrites) in any SigV4 form: header,
// presigned query, and every x-amz-content-sha256 mode. A request with an
// x-amz-* header its signature does not cover is refused (unsigned.go), so
// no handler ever reads one. Errors are *Error.
func (v *verifier) verify(r *http.Request) (*payload, error) {
	query, qerr := parseQuery(r.URL.RawQuery)
	authz := r.Header.Values("Authorization")
	presigned := hasParam(query, "X-Amz-Algorithm") || hasParam(query, "X-Amz-Signature") || hasParam(query, "X-Amz-Credential")
	var s *sigV4Request
	var err error
	switch {
	case len(authz) > 0 && presigned:
		return nil, ErrInvalidArgument.WithMessage("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case len(authz) > 1:
		return nil, ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; it must appear once.")
	case len(authz) == 1:
		s, err = v.fromHeader(r, authz[0])
	case presigned:
		s, err = v.fromQuery(r, query)
	case hasParam(query, "AWSAccessKeyId") && hasParam(query, "Signature"):
		return nil, ErrInvalidRequest.WithMessage(detail(errNotSigV4))
	default:
		return nil, ErrAccessDenied
	}
	if err != nil {
		return nil, err
	}
	if qerr != nil {
		return nil, ErrInvalidArgument.WithMessage("The query string is not correctly encoded.")
	}
	secret, ok := v.creds.SecretKey(s.scope.accessKey)
	if !ok {
		return nil, ErrInvalidAccessKeyID
	}
	key := v.keys.get(secret, s.scope)
	if !signatureMatches(r, query, s, key) {
		return nil, ErrSignatureDoesNotMatch
	}
	if err := checkSignedHeaders(r, query, s); err != nil {
		return nil, err
	}
	return newPayload(r, s, key)
}

func hasParam(ps []queryParam, key string) bool {
	for _, p := range ps {
		if p.key == key {
			return true
		}
	}
	return false
}

// detail turns an internal error into a client-facing message.
func detail(err error) string {
	m := strings.TrimPrefix(err.Error(), "s3api: ")
	if m == "" {
		return m
	}
	return strings.ToUpper(m[:1]) + m[1:] + "."
}

// fromHeader reads an Authorization-header signature.
func (v *verifier) fromHeader(r *http.Request, authz string) (*sigV4Request, error) {
	a, err := parseAuthorization(authz)
	if errors.Is(err, errNotSigV4) {
		return nil, ErrInvalidRequest.WithMessage(detail(err))
	}
	if err != nil {
		return nil, ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed: " + detail(err))
	}
	if a.scope.service != serviceS3 {
		return nil, ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; incorrect service " + strconv.Quote(a.scope.service) + ". This endpoint belongs to \"s3\".")
	}
	t, amzDate, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if a.scope.date != t.Format(scopeDateFormat) {
		return nil, ErrAuthorizationHeaderMalformed.WithMessage("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	if d := v.now().Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return nil, ErrRequestTimeTooSkewed
	}
	ph := r.Header.Get("X-Amz-Content-Sha256")
	if ph == "" {
		return nil, ErrInvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256.")
	}
	return &sigV4Request{
		scope:         a.scope,
		signedHeaders: a.signedHeaders,
		signature:     a.signature,
		amzDate:       amzDate,
		payloadHash:   ph,
	}, nil
}

// requestTime is the signing time: X-Amz-Date when present (a Date header
// beside it, valid or not, is then ignored), else Date.
func requestTime(r *http.Request) (time.Time, string, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFormat, v)
		if err != nil {
			return time.Time{}, "", ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header.")
		}
		return t, v, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := parseDate(v)
		if err != nil {
			return time.Time{}, "", ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header.")
		}
		return t.UTC(), t.UTC().Format(amzDateFormat), nil
	}
	return time.Time{}, "", ErrAccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header.")
}

// parseDate reads a Date header: the HTTP formats, and RFC 1123 with a
// numeric zone ("-0000"), which botocore sends (Python's formatdate).
func parseDate(v string) (time.Time, error) {
	t, err := http.ParseTime(v)
	if err != nil {
		t, err = time.Parse(time.RFC1123Z, v)
	}
	return t, err
}

// signatureMatches recomputes the signature in constant time for each
// canonical form the request may have been signed in (see
// canonicalRequests) and reports whether one matches.
func signatureMatches(r *http.Request, query []queryParam, s *sigV4Request, key []byte) bool {
	ok := false
	for _, c := range canonicalRequests(r, query, s) {
		sig := hmacSHA256(key, stringToSign(s.amzDate, s.scope, c.String()))
		if hmac.Equal(sig, s.signature) {
			ok = true
		}
	}
	return ok
}

// canonicalRequests returns the canonical request of r, first with the
// path exactly as sent, then with the path re-encoded the AWS way (for
// clients that send, e.g., a raw '!' or '$' but sign it as %21, %24). If
// Expect is signed but net/http kept no copy, both spellings real clients
// send are tried. All forms decode to the same request, so accepting any
// of them accepts nothing the client did not sign.
func canonicalRequests(r *http.Request, query []queryParam, s *sigV4Request) []canonicalRequest {
	skip := ""
	if s.presigned {
		skip = "X-Amz-Signature"
	}
	base := canonicalRequest{
		method:        r.Method,
		query:         canonicalQueryString(query, skip),
		signedHeaders: strings.Join(s.signedHeaders, ";"),
		payloadHash:   s.payloadHash,
	}
	headers := make([]string, len(s.signedHeaders))
	expectAt := -1
	for i, name := range s.signedHeaders {
		vals := requestHeaderValues(r, name)
		if name == "expect" && len(vals) == 0 {
			vals, expectAt = []string{"100-continue"}, i
		}
		headers[i] = name + ":" + canonicalHeaderValue(vals)
	}
	headerSets := [][]string{headers}
	if expectAt >= 0 {
		alt := append([]string(nil), headers...)
		alt[expectAt] = "expect:100-Continue"
		headerSets = append(headerSets, alt)
	}
	var out []canonicalRequest
	for _, uri := range canonicalURIs(r) {
		for _, hs := range headerSets {
			c := base
			c.uri, c.headers = uri, hs
			out = append(out, c)
		}
	}
	return out
}

// canonicalURIs returns the request path as sent and, if different, its
// AWS re-encoding. S3 does not normalise paths or encode them twice.
func canonicalURIs(r *http.Request) []string {
	raw := rawPath(r)
	out := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil {
		if enc := uriEncode(dec, false); enc != raw {
			out = append(out, enc)
		}
	}
	return out
}

// rawPath is the path of the request line, byte for byte.
func rawPath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p[0] != '/' {
		p = r.URL.EscapedPath()
	} else if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == "" {
		return "/"
	}
	return p
}

// newPayload wraps the body according to x-amz-content-sha256.
func newPayload(r *http.Request, s *sigV4Request, key []byte) (*payload, error) {
	body := io.Reader(r.Body)
	if r.Body == nil {
		body = http.NoBody
	}
	p := &payload{AccessKey: s.scope.accessKey, Size: r.ContentLength}
	mode := s.payloadHash
	streaming := mode == streamingSigned || mode == streamingSignedTrailer || mode == streamingUnsignedTrailer
	var sum []byte
	switch {
	case streaming && s.presigned:
		return nil, ErrInvalidRequest.WithMessage("Presigned requests cannot use aws-chunked payloads.")
	case streaming, mode == unsignedPayload:
	case strings.HasPrefix(mode, streamingECDSAPrefix):
		return nil, ErrNotImplemented.WithMessage("SigV4a (ECDSA) streaming signatures are not supported.")
	default:
		b, err := hex.DecodeString(mode)
		if err != nil || len(b) != 32 {
			return nil, ErrInvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
		}
		sum = b
	}
	in, err := parseIntegrity(r, streaming && mode != streamingSigned)
	if err != nil {
		return nil, err
	}
	in.sha256 = sum
	var cr *chunkedReader
	if streaming {
		if p.Size, err = decodedContentLength(r); err != nil {
			return nil, err
		}
		var signer *chunkSigner
		if mode != streamingUnsignedTrailer {
			signer = newChunkSigner(key, s.amzDate, s.scope, s.signature)
		}
		cr = newChunkedReader(body, signer, mode != streamingSigned, mode == streamingSignedTrailer, in.trailer, p.Size)
		body = cr
	}
	p.verified = newVerifiedBody(body, cr, p, in, p.Size)
	p.Body = p.verified
	return p, nil
}

// decodedContentLength reads x-amz-decoded-content-length, required with
// aws-chunked bodies.
func decodedContentLength(r *http.Request) (int64, error) {
	v := r.Header.Get("X-Amz-Decoded-Content-Length")
	if v == "" {
		return 0, ErrMissingContentLength.WithMessage("You must provide the x-amz-decoded-content-length header with an aws-chunked body.")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, ErrInvalidArgument.WithMessage("x-amz-decoded-content-length is not a valid length.")
	}
	return n, nil
}
