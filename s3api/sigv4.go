package s3api

// AWS Signature Version 4 as pure functions: canonical request, string to
// sign, signing key, and the parsing of the Authorization header. Nothing
// here reads a request body or a clock; auth.go and presign.go put the
// pieces together.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
	scopeTerminator = "aws4_request"
	serviceS3       = "s3"

	// maxClockSkew is how far a signed request's time may be from ours.
	maxClockSkew = 15 * time.Minute

	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// x-amz-content-sha256 values that are not a hash.
	unsignedPayload          = "UNSIGNED-PAYLOAD"
	streamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix     = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
)

// credentialScope is the "<key>/<date>/<region>/<service>/aws4_request"
// part of a signature.
type credentialScope struct {
	accessKey string
	date      string // YYYYMMDD
	region    string
	service   string
}

// String returns the scope as it appears in the string to sign (without
// the access key).
func (s credentialScope) String() string {
	return s.date + "/" + s.region + "/" + s.service + "/" + scopeTerminator
}

// errBadCredential describes a malformed Credential value; callers turn it
// into AuthorizationHeaderMalformed or AuthorizationQueryParametersError.
var errBadCredential = errors.New(`s3api: credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"`)

// parseCredential splits "AKID/20130524/us-east-1/s3/aws4_request". The
// access key is everything before the last four fields.
func parseCredential(v string) (credentialScope, error) {
	parts := strings.Split(v, "/")
	n := len(parts)
	if n < 5 || parts[n-1] != scopeTerminator {
		return credentialScope{}, errBadCredential
	}
	s := credentialScope{
		accessKey: strings.Join(parts[:n-4], "/"),
		date:      parts[n-4],
		region:    parts[n-3],
		service:   parts[n-2],
	}
	if s.accessKey == "" || s.region == "" || s.service == "" {
		return credentialScope{}, errBadCredential
	}
	if _, err := time.Parse(scopeDateFormat, s.date); err != nil || len(s.date) != 8 {
		return credentialScope{}, errBadCredential
	}
	return s, nil
}

// parseSignedHeaders checks "host;range;x-amz-date": lower case, sorted,
// no duplicates, and host among them.
func parseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, errors.New("s3api: SignedHeaders is empty")
	}
	names := strings.Split(v, ";")
	host := false
	for i, n := range names {
		if n == "" || !isToken(n) || strings.ToLower(n) != n {
			return nil, errors.New("s3api: SignedHeaders has an invalid header name")
		}
		if i > 0 && names[i-1] >= n {
			return nil, errors.New("s3api: SignedHeaders is not sorted")
		}
		host = host || n == "host"
	}
	if !host {
		return nil, errors.New("s3api: SignedHeaders must include host")
	}
	return names, nil
}

// isToken reports whether s is a valid HTTP header field name.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseSignature decodes the 64 hex digits of a signature.
func parseSignature(v string) ([]byte, error) {
	if len(v) != 2*sha256.Size {
		return nil, errors.New("s3api: signature must be 64 hex digits")
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, errors.New("s3api: signature must be 64 hex digits")
	}
	return b, nil
}

// headerAuth is a parsed "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=..." value.
type headerAuth struct {
	scope         credentialScope
	signedHeaders []string
	signature     []byte
}

// errNotSigV4 marks an Authorization header of another scheme (SigV2,
// SigV4a); verify answers it with InvalidRequest.
var errNotSigV4 = errors.New("s3api: the authorization mechanism you have provided is not supported; please use " + sigV4Algorithm)

// parseAuthorization parses the Authorization header value. Spaces after
// the algorithm and around the commas are tolerated; the three fields may
// come in any order but each exactly once.
func parseAuthorization(v string) (headerAuth, error) {
	v = strings.TrimSpace(v)
	alg, rest, ok := strings.Cut(v, " ")
	if alg != sigV4Algorithm {
		return headerAuth{}, errNotSigV4
	}
	if !ok {
		return headerAuth{}, errors.New("s3api: authorization header has no fields")
	}
	var cred, signed, sig string
	var seen [3]bool
	for _, f := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return headerAuth{}, errors.New("s3api: authorization header field without '='")
		}
		var dst *string
		var idx int
		switch k {
		case "Credential":
			dst, idx = &cred, 0
		case "SignedHeaders":
			dst, idx = &signed, 1
		case "Signature":
			dst, idx = &sig, 2
		default:
			return headerAuth{}, errors.New("s3api: unknown authorization header field " + strconv.Quote(k))
		}
		if seen[idx] {
			return headerAuth{}, errors.New("s3api: authorization header field repeated: " + k)
		}
		seen[idx] = true
		*dst = val
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return headerAuth{}, errors.New("s3api: authorization header needs Credential, SignedHeaders and Signature")
	}
	var a headerAuth
	var err error
	if a.scope, err = parseCredential(cred); err != nil {
		return headerAuth{}, err
	}
	if a.signedHeaders, err = parseSignedHeaders(signed); err != nil {
		return headerAuth{}, err
	}
	if a.signature, err = parseSignature(sig); err != nil {
		return headerAuth{}, err
	}
	return a, nil
}

// uriEncode encodes s the way SigV4 wants: unreserved characters
// (A-Z a-z 0-9 - _ . ~) stay, every other byte becomes %XX in upper case;
// '/' stays unless encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !keepInURI(s[i], encodeSlash) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepInURI(c, encodeSlash) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func keepInURI(c byte, encodeSlash bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == '.', c == '~':
		return true
	case c == '/':
		return !encodeSlash
	}
	return false
}

// queryParam is one decoded name=value pair of a query string.
type queryParam struct{ key, value string }

// parseQuery decodes a raw query string the way url.ParseQuery does ('+'
// is a space, so the signature binds the values handlers will see) but
// keeps order and duplicates and treats ';' as an ordinary character.
func parseQuery(raw string) ([]queryParam, error) {
	if raw == "" {
		return nil, nil
	}
	ps := make([]queryParam, 0, strings.Count(raw, "&")+1)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		ps = append(ps, queryParam{k, v})
	}
	return ps, nil
}

// canonicalQueryString encodes and sorts params, leaving out any named
// skip (X-Amz-Signature for presigned requests).
func canonicalQueryString(params []queryParam, skip string) string {
	enc := make([]queryParam, 0, len(params))
	for _, p := range params {
		if skip != "" && p.key == skip {
			continue
		}
		enc = append(enc, queryParam{uriEncode(p.key, true), uriEncode(p.value, true)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].key != enc[j].key {
			return enc[i].key < enc[j].key
		}
		return enc[i].value < enc[j].value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// canonicalHeaderValue trims each value, collapses runs of spaces and tabs
// to one space, and joins multiple values with ','.
func canonicalHeaderValue(vals []string) string {
	if len(vals) == 1 {
		return collapseSpaces(vals[0])
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = collapseSpaces(v)
	}
	return strings.Join(out, ",")
}

func collapseSpaces(v string) string {
	v = strings.Trim(v, " \t")
	if !strings.Contains(v, "  ") && !strings.ContainsRune(v, '\t') {
		return v
	}
	b := make([]byte, 0, len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b = append(b, ' ')
			space = false
		}
		b = append(b, c)
	}
	return string(b)
}

// requestHeaderValues returns the values of a signed header as the client
// sent them. net/http moves Host to r.Host and Transfer-Encoding to
// r.TransferEncoding, and may drop Content-Length; those are rebuilt.
func requestHeaderValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			return v
		}
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		if v := r.Header.Values("Transfer-Encoding"); len(v) > 0 {
			return v
		}
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return r.Header.Values(name)
}

// canonicalRequest holds the parts of a SigV4 canonical request.
type canonicalRequest struct {
	method        string
	uri           string
	query         string
	headers       []string // "name:value" lines, in signed-header order
	signedHeaders string   // "host;x-amz-date"
	payloadHash   string
}

// String renders the canonical request exactly as it is hashed.
func (c *canonicalRequest) String() string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString(c.method)
	b.WriteByte('\n')
	b.WriteString(c.uri)
	b.WriteByte('\n')
	b.WriteString(c.query)
	b.WriteByte('\n')
	for _, h := range c.headers {
		b.WriteString(h)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(c.signedHeaders)
	b.WriteByte('\n')
	b.WriteString(c.payloadHash)
	return b.String()
}

// stringToSign builds the SigV4 string to sign for a canonical request.
func stringToSign(amzDate string, scope credentialScope, creq string) string {
	h := sha256.Sum256([]byte(creq))
	return sigV4Algorithm + "\n" + amzDate + "\n" + scope.String() + "\n" + hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// deriveSigningKey computes kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret,
// date), region), service), "aws4_request").
func deriveSigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

// signingKeyCache remembers derived keys per (secret, date, region,
// service): four HMACs per request saved. It is small and reset when
// full, since a key is only useful for one day.
type signingKeyCache struct {
	mu sync.Mutex
	m  map[signingKeyID][sha256.Size]byte
}

type signingKeyID struct{ secret, date, region, service string }

const signingKeyCacheMax = 256

func (c *signingKeyCache) get(secret string, s credentialScope) []byte {
	id := signingKeyID{secret, s.date, s.region, s.service}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.m[id]; ok {
		return k[:]
	}
	var k [sha256.Size]byte
	copy(k[:], deriveSigningKey(secret, s.date, s.region, s.service))
	if c.m == nil || len(c.m) >= signingKeyCacheMax {
		c.m = make(map[signingKeyID][sha256.Size]byte)
	}
	c.m[id] = k
	return k[:]
}
