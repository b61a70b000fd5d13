package node

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"ishtar/shard"
)

// Headers of a signed request (see the package doc).
const (
	HeaderNode      = "Ishtar-Node"
	HeaderTime      = "Ishtar-Time"
	HeaderNonce     = "Ishtar-Nonce"
	HeaderBodyHash  = "Ishtar-Body-Hash"
	HeaderSignature = "Ishtar-Signature"
	HeaderGrant     = "Ishtar-Grant"
	HeaderTarget    = "Ishtar-Target"
)

const (
	requestTag = "ishtar/request/v2"
	nonceLen   = 16
	// maxGrantHeader bounds the encoded grant; a real one is about 400 bytes.
	maxGrantHeader = 2048
)

// emptyBodyHash is the body hash of a request without a body.
var emptyBodyHash = sha256.Sum256(nil)

// signedRequest is the part of a request the calling node signs.
type signedRequest struct {
	Method     string
	RequestURI string // path and query exactly as sent
	Time       int64  // unix seconds
	Nonce      [nonceLen]byte
	BodyHash   [32]byte
	Grant      string // the Ishtar-Grant header, or ""
	// Target is the node the request is for; zero (no Ishtar-Target
	// header) only on reads, which any node may answer.
	Target shard.PublicKey
}

// canonical is the byte string the signature covers, built in one
// allocation.
func (s *signedRequest) canonical(node shard.PublicKey) []byte {
	const fixed = len(requestTag) + 3*2*32 + 2*nonceLen + 20 + 9 // 20: an int64; 9 newlines
	b := make([]byte, 0, fixed+len(s.Method)+len(s.RequestURI)+len(s.Grant))
	b = append(b, requestTag...)
	b = append(b, '\n')
	b = append(b, s.Method...)
	b = append(b, '\n')
	b = append(b, s.RequestURI...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, node[:])
	b = append(b, '\n')
	if !s.Target.IsZero() {
		b = hex.AppendEncode(b, s.Target[:])
	}
	b = append(b, '\n')
	b = strconv.AppendInt(b, s.Time, 10)
	b = append(b, '\n')
	b = hex.AppendEncode(b, s.Nonce[:])
	b = append(b, '\n')
	b = hex.AppendEncode(b, s.BodyHash[:])
	b = append(b, '\n')
	b = append(b, s.Grant...)
	return append(b, '\n')
}

// sign sets the signature headers of h.
func (s *signedRequest) sign(h http.Header, k shard.PrivateKey) {
	node := k.Public()
	// The names are canonical already: no need for Header.Set.
	h[HeaderNode] = []string{node.String()}
	h[HeaderTime] = []string{strconv.FormatInt(s.Time, 10)}
	h[HeaderNonce] = []string{hex.EncodeToString(s.Nonce[:])}
	h[HeaderBodyHash] = []string{hex.EncodeToString(s.BodyHash[:])}
	if !s.Target.IsZero() {
		h[HeaderTarget] = []string{s.Target.String()}
	}
	h[HeaderSignature] = []string{base64.StdEncoding.EncodeToString(k.Sign(s.canonical(node)))}
}

// parseSigned reads the signature headers of r. It reports ok=false when
// the request carries no signature at all.
func parseSigned(r *http.Request) (s signedRequest, node shard.PublicKey, sig []byte, ok bool, err error) {
	h := r.Header
	if h.Get(HeaderSignature) == "" && h.Get(HeaderNode) == "" {
		return s, node, nil, false, nil
	}
	bad := func(what string) error { return errorf(ErrUnauthenticated, "missing or malformed %s header", what) }
	if node, err = shard.ParsePublicKey(h.Get(HeaderNode)); err != nil {
		return s, node, nil, true, bad(HeaderNode)
	}
	if s.Time, err = strconv.ParseInt(h.Get(HeaderTime), 10, 64); err != nil {
		return s, node, nil, true, bad(HeaderTime)
	}
	if !decodeHexExact(s.Nonce[:], h.Get(HeaderNonce)) {
		return s, node, nil, true, bad(HeaderNonce)
	}
	if !decodeHexExact(s.BodyHash[:], h.Get(HeaderBodyHash)) {
		return s, node, nil, true, bad(HeaderBodyHash)
	}
	sig, err = base64.StdEncoding.DecodeString(h.Get(HeaderSignature))
	if err != nil || len(sig) != 64 {
		return s, node, nil, true, bad(HeaderSignature)
	}
	if t := h.Get(HeaderTarget); t != "" {
		if s.Target, err = shard.ParsePublicKey(t); err != nil {
			return s, node, nil, true, bad(HeaderTarget)
		}
	}
	s.Method, s.RequestURI, s.Grant = r.Method, r.RequestURI, h.Get(HeaderGrant)
	// The canonical string separates fields by new lines: none may hold
	// a control character (net/http refuses them already).
	for _, f := range [...]string{s.Method, s.RequestURI, s.Grant} {
		if hasControl(f) {
			return s, node, nil, true, errorf(ErrUnauthenticated, "control character in the signed method, URI or grant")
		}
	}
	return s, node, sig, true, nil
}

func hasControl(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// decodeHexExact fills dst from exactly 2*len(dst) lowercase hex digits.
func decodeHexExact(dst []byte, s string) bool {
	if len(s) != 2*len(dst) || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}
