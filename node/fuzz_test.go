package node

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ishtar/shard"
)

// Fuzz targets where strangers write: the signature headers of a request
// a node receives, and every answer of a peer the Client parses. Keys,
// grants and signed answers here are fixed (seeded keys, fixed times), so
// an input saved under testdata/fuzz replays the same way in every run.

// fuzzKey returns the key whose seed is 32 bytes of b.
func fuzzKey(tb testing.TB, b byte) shard.PrivateKey {
	tb.Helper()
	k, err := shard.PrivateKeyFromSeed(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// grantHeader is the Ishtar-Grant value of g (see the package doc).
func grantHeader(tb testing.TB, g shard.Grant) string {
	tb.Helper()
	b, err := json.Marshal(g)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// The headers parseSigned reads, in the order of FuzzParseSigned's
// arguments after the method and request URI.
var signedHeaders = []string{
	HeaderNode, HeaderTime, HeaderNonce, HeaderBodyHash, HeaderSignature, HeaderTarget, HeaderGrant,
}

// headerRequest is a request as the server hands it to a handler, with
// the headers of values that are not empty.
func headerRequest(method, uri string, values []string) *http.Request {
	h := http.Header{}
	for i, v := range values {
		if v != "" {
			h[signedHeaders[i]] = []string{v}
		}
	}
	return &http.Request{Method: method, RequestURI: uri, Header: h}
}

// checkParse calls parseSigned and checks what holds of any answer: no
// signature headers means unsigned and no error; an error is
// unauthenticated; success yields a 64-byte signature and fields that
// print back as the headers they came from.
func checkParse(t *testing.T, r *http.Request) (signedRequest, shard.PublicKey, []byte, bool, error) {
	t.Helper()
	s, node, sig, ok, err := parseSigned(r)
	h := r.Header
	switch {
	case !ok:
		if err != nil || sig != nil || h.Get(HeaderSignature) != "" || h.Get(HeaderNode) != "" {
			t.Fatalf("unsigned (ok=false) with error %v, signature %x, headers %q", err, sig, h)
		}
	case err != nil:
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrUnauthenticated) || e.Status != http.StatusUnauthorized {
			t.Fatalf("malformed signature headers give %v, want %s", err, ErrUnauthenticated.Code)
		}
	default:
		if len(sig) != 64 {
			t.Fatalf("signature of %d bytes accepted", len(sig))
		}
		if node.String() != h.Get(HeaderNode) || hex.EncodeToString(s.Nonce[:]) != h.Get(HeaderNonce) ||
			hex.EncodeToString(s.BodyHash[:]) != h.Get(HeaderBodyHash) {
			t.Fatalf("parsed node %s, nonce %x, body hash %x from headers %q", node, s.Nonce, s.BodyHash, h)
		}
		if tg := h.Get(HeaderTarget); (tg == "" && !s.Target.IsZero()) || (tg != "" && s.Target.String() != tg) {
			t.Fatalf("parsed target %s from %q", s.Target, tg)
		}
		if s.Method != r.Method || s.RequestURI != r.RequestURI || s.Grant != h.Get(HeaderGrant) {
			t.Fatalf("parsed %q %q grant %q from %q %q grant %q", s.Method, s.RequestURI, s.Grant,
				r.Method, r.RequestURI, h.Get(HeaderGrant))
		}
	}
	return s, node, sig, ok, err
}

// resign signs s with k as the Client does and returns the request.
func resign(s signedRequest, k shard.PrivateKey) *http.Request {
	h := http.Header{}
	s.sign(h, k)
	if s.Grant != "" {
		h[HeaderGrant] = []string{s.Grant}
	}
	return &http.Request{Method: s.Method, RequestURI: s.RequestURI, Header: h}
}

// coerce makes a signedRequest of arbitrary header values: each is taken
// as parseSigned would read it if it can, and otherwise as raw bytes.
func coerce(method, uri string, values []string) signedRequest {
	s := signedRequest{Method: method, RequestURI: uri, Grant: values[6]}
	var err error
	if s.Time, err = strconv.ParseInt(values[1], 10, 64); err != nil {
		s.Time = int64(len(values[1]))
	}
	if !decodeHexExact(s.Nonce[:], values[2]) {
		copy(s.Nonce[:], values[2])
	}
	if !decodeHexExact(s.BodyHash[:], values[3]) {
		copy(s.BodyHash[:], values[3])
	}
	if s.Target, err = shard.ParsePublicKey(values[5]); err != nil {
		copy(s.Target[:], values[5])
	}
	return s
}

// FuzzParseSigned feeds parseSigned arbitrary signature headers, method
// and request URI. It must not panic; a request it parses must parse the
// same once signed again; and a request signed by a known key must parse
// back to exactly what was signed, while a copy with one field replaced,
// duplicated or removed verifies only if it still means the same request
// from the same node.
func FuzzParseSigned(f *testing.F) {
	k := fuzzKey(f, 1)
	other := fuzzKey(f, 2)
	peer := fuzzKey(f, 3).Public()
	owner := fuzzKey(f, 4)
	id := shard.ComputeID([]byte("a shard"), fuzzLeaf)
	g := shard.Grant{Op: shard.OpStore, Shard: id, Size: 7, LeaseExpiry: 1_800_000_000, Time: 1_700_000_000_000_000_000}
	g.Sign(owner)
	grant := grantHeader(f, g)

	add := func(key shard.PrivateKey, s signedRequest, which uint8, alt string) {
		r := resign(s, key)
		v := make([]string, len(signedHeaders))
		for i, name := range signedHeaders {
			v[i] = r.Header.Get(name)
		}
		f.Add(s.Method, s.RequestURI, v[0], v[1], v[2], v[3], v[4], v[5], v[6], which, alt)
	}
	var nonce [nonceLen]byte
	for i := range nonce {
		nonce[i] = byte(i * 7)
	}
	info := signedRequest{Method: "GET", RequestURI: "/v1/info", Time: 1_700_000_000, Nonce: nonce, BodyHash: emptyBodyHash}
	store := signedRequest{Method: "POST", RequestURI: "/v1/shards/" + id.String(), Time: 1_700_000_001,
		Nonce: nonce, BodyHash: id, Grant: grant, Target: peer}
	proof := signedRequest{Method: "GET", RequestURI: "/v1/shards/" + id.String() + "/proof?leaf=1&nonce=0a0b",
		Time: -1, Nonce: nonce, BodyHash: emptyBodyHash, Target: peer}
	add(k, info, 0, "GET")
	add(k, store, 0, "PUT")
	add(k, proof, 1, "/v1/shards/"+id.String()+"/proof?leaf=2&nonce=0a0b")
	add(k, store, 2, other.Public().String())              // another node's ID
	add(k, store, 3, "+1700000001")                        // the same time, spelt otherwise
	add(k, store, 3, "1700000002")                         // another time
	add(k, store, 4, strings.Repeat("0", 32))              // another nonce
	add(k, store, 5, hex.EncodeToString(emptyBodyHash[:])) // another body
	add(k, store, 6, "")                                   // empty signature
	add(k, store, 7, other.Public().String())              // another target
	add(k, store, 7+2*9, "")                               // no target
	add(k, store, 8, grant[:len(grant)-1])                 // another grant
	add(k, store, 8+9, strings.ToUpper(grant))             // a second grant header, first
	add(k, store, 2+9, strings.ToUpper(peer.String()))
	add(other, info, 4+2*9, "")
	f.Add("", "", "", "", "", "", "", "", "", uint8(0), "")
	f.Add("GET", "/", "x", "", "", "", "AAAA", "", "", uint8(0), "")
	f.Add("GET", "/", peer.String(), "1", strings.Repeat("A", 32), strings.Repeat("0", 64), strings.Repeat("A", 88), "", "", uint8(0), "")
	f.Add("GET", "/", peer.String(), "-0", strings.Repeat("a", 32), strings.Repeat("0", 64),
		base64.StdEncoding.EncodeToString(make([]byte, 64)), strings.Repeat("0", 64), "g", uint8(0), "")

	f.Fuzz(func(t *testing.T, method, uri, node, tm, nonce, bodyHash, sig, target, grant string, which uint8, alt string) {
		values := []string{node, tm, nonce, bodyHash, sig, target, grant}

		// Whatever parses signs again to the same fields.
		if s, _, _, ok, err := checkParse(t, headerRequest(method, uri, values)); ok && err == nil {
			s2, node2, sig2, ok2, err2 := checkParse(t, resign(s, k))
			if !ok2 || err2 != nil || s2 != s || node2 != k.Public() || !node2.Verify(s2.canonical(node2), sig2) {
				t.Fatalf("parsed %+v, signed again parses as %+v from %s (%v, %v)", s, s2, node2, ok2, err2)
			}
		}

		// A request signed by k parses back to what was signed ...
		want := coerce(method, uri, values)
		signed := resign(want, k)
		if hasControl(want.Method) || hasControl(want.RequestURI) || hasControl(want.Grant) {
			// ... unless a field could be mistaken for the next one.
			if _, _, _, ok, err := checkParse(t, signed); !ok || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("control character in %+v: parsed (%v, %v), want unauthenticated", want, ok, err)
			}
			return
		}
		s, n, sg, ok, err := checkParse(t, signed)
		if !ok || err != nil || s != want || n != k.Public() || !n.Verify(s.canonical(n), sg) {
			t.Fatalf("signed %+v, parsed %+v from %s (%v, %v)", want, s, n, ok, err)
		}

		// ... and no other: replace (mode 0), put in front of the
		// signed value (1) or remove (2) one field.
		field, mode := int(which%9), which/9%3
		r := &http.Request{Method: signed.Method, RequestURI: signed.RequestURI, Header: signed.Header.Clone()}
		var was string
		if mode == 2 {
			alt = ""
		}
		switch field {
		case 0:
			was, r.Method = r.Method, alt
		case 1:
			was, r.RequestURI = r.RequestURI, alt
		default:
			name := signedHeaders[field-2]
			was = r.Header.Get(name)
			switch mode {
			case 0:
				r.Header[name] = []string{alt}
			case 1:
				r.Header[name] = append([]string{alt}, r.Header[name]...)
			case 2:
				delete(r.Header, name)
			}
		}
		s, n, sg, ok, err = checkParse(t, r)
		verified := ok && err == nil && n.Verify(s.canonical(n), sg)
		if verified && (s != want || n != k.Public()) {
			t.Fatalf("signature over %+v by %s verifies for %+v by %s", want, k.Public(), s, n)
		}
		if !verified && alt == was {
			t.Fatalf("field %d set to its own value %q no longer verifies (%v, %v)", field, alt, ok, err)
		}
	})
}

// fuzzFixture holds the keys and every message signed for the answer
// fuzzers: the genuine answers and the decoys around them.
type fuzzFixture struct {
	peer, other, owner, otherOwner, client shard.PrivateKey

	data   []byte
	id     shard.ID
	size   int64
	id2    shard.ID
	store  shard.Grant // the grant PutShard sends
	renew  shard.Grant // the grant Renew sends
	delete shard.Grant

	receipts []shard.Receipt    // every receipt signed here
	records  []shard.NodeRecord // every node record signed here
	roots    []shard.RootRecord // every root record signed here
	audits   []Audit            // every audit answer signed here
	leaf     uint64             // the leaf audits[0] proves ...
	nonce    []byte             // ... for this challenge nonce
	fresh    []byte             // a nonce no answer here was signed for

	// decoys: JSON answers that must never be accepted, by kind.
	badReceipts, badRecords, badAudits, badRoots [][]byte
}

// The fixture's shard is small, and so is every seed: the fuzzer spends
// its time minimizing each new input it finds, one exec per byte or more.
const (
	fuzzLeaf = 16
	fuzzSize = 40 // three leaves
	fuzzTime = 1_700_000_000
)

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	tb.Helper()
	fx := &fuzzFixture{
		peer: fuzzKey(tb, 10), other: fuzzKey(tb, 11), owner: fuzzKey(tb, 12),
		otherOwner: fuzzKey(tb, 13), client: fuzzKey(tb, 14),
		size: fuzzSize, leaf: 1,
		nonce: []byte("challenge nonce!"), fresh: []byte("a fresh nonce"),
	}
	fx.data = []byte("forty bytes of a shard, in three leaves.")
	fx.id = shard.ComputeID(fx.data, fuzzLeaf)
	fx.id2 = shard.ComputeID(fx.data[1:], fuzzLeaf)
	lease := int64(fuzzTime + 90*24*3600)
	newGrant := func(op shard.GrantOp, lease int64, dt int64) shard.Grant {
		g := shard.Grant{Op: op, Shard: fx.id, Size: fx.size, LeaseExpiry: lease, Time: fuzzTime*1e9 + dt}
		g.Sign(fx.owner)
		return g
	}
	fx.store = newGrant(shard.OpStore, lease, 1)
	fx.renew = newGrant(shard.OpRenew, lease+3600, 2)
	fx.delete = newGrant(shard.OpDelete, 0, 3)

	receipt := func(k shard.PrivateKey, id shard.ID, size int64, owner shard.PublicKey, holder shard.PublicKey, lease int64) shard.Receipt {
		rc := shard.Receipt{Shard: id, Size: size, Owner: owner, Holder: holder, LeaseExpiry: lease, Time: fuzzTime*1e9 + 10}
		rc.Sign(k)
		return rc
	}
	p, o := fx.peer.Public(), fx.owner.Public()
	fx.receipts = []shard.Receipt{
		receipt(fx.peer, fx.id, fx.size, o, p, fx.store.LeaseExpiry),                      // 0: answers the store
		receipt(fx.peer, fx.id, fx.size, o, p, fx.renew.LeaseExpiry),                      // 1: answers the renew
		receipt(fx.peer, fx.id, fx.size, o, fx.other.Public(), fx.renew.LeaseExpiry),      // 2: delegated
		receipt(fx.peer, fx.id, fx.size, o, p, fx.store.LeaseExpiry-1),                    // 3: shorter lease
		receipt(fx.other, fx.id, fx.size, o, fx.other.Public(), fx.renew.LeaseExpiry),     // 4: another node
		receipt(fx.peer, fx.id2, fx.size, o, p, fx.renew.LeaseExpiry),                     // 5: another shard
		receipt(fx.peer, fx.id, fx.size+1, o, p, fx.renew.LeaseExpiry),                    // 6: another size
		receipt(fx.peer, fx.id, fx.size, fx.otherOwner.Public(), p, fx.renew.LeaseExpiry), // 7: another owner
	}
	forged := fx.receipts[0]
	forged.LeaseExpiry += 365 * 24 * 3600
	fx.badReceipts = [][]byte{fuzzJSON(tb, forged)}
	for _, rc := range fx.receipts[3:] {
		fx.badReceipts = append(fx.badReceipts, fuzzJSON(tb, rc))
	}

	record := func(k shard.PrivateKey, seq uint64) shard.NodeRecord {
		r := shard.NodeRecord{Address: "http://127.0.0.1:7070", Capacity: 1 << 30, Free: 1 << 29,
			Version: "fuzz", Seq: seq, Time: fuzzTime + int64(seq)}
		r.Sign(k)
		return r
	}
	fx.records = []shard.NodeRecord{record(fx.peer, 1), record(fx.peer, 2), record(fx.other, 1)}
	forgedRec := fx.records[1]
	forgedRec.Address = "http://127.0.0.2:7070"
	fx.badRecords = [][]byte{fuzzJSON(tb, forgedRec), fuzzJSON(tb, fx.records[2])}

	root := func(k shard.PrivateKey, seq uint64) shard.RootRecord {
		r := shard.RootRecord{Seq: seq, Pointer: []byte("sealed pointer"), Time: fuzzTime*1e9 + int64(seq)}
		r.Sign(k)
		return r
	}
	fx.roots = []shard.RootRecord{root(fx.owner, 3), root(fx.otherOwner, 4)}
	forgedRoot := fx.roots[0]
	forgedRoot.Seq++
	fx.badRoots = [][]byte{fuzzJSON(tb, forgedRoot), fuzzJSON(tb, fx.roots[1])}

	audit := func(k shard.PrivateKey, leaf uint64, nonce []byte) Audit {
		proof, data, err := shard.BuildProof(bytes.NewReader(fx.data), fx.size, fuzzLeaf, leaf)
		if err != nil {
			tb.Fatal(err)
		}
		a := Audit{Shard: fx.id, Size: fx.size, LeafSize: fuzzLeaf, Leaf: leaf, Nonce: nonce,
			Data: data, Proof: proof, Time: fuzzTime*1e9 + 20}
		a.Sign(k)
		return a
	}
	fx.audits = []Audit{
		audit(fx.peer, fx.leaf, fx.nonce),           // 0: answers the challenge
		audit(fx.other, fx.leaf, fx.nonce),          // 1: another node
		audit(fx.peer, fx.leaf+1, fx.nonce),         // 2: another leaf
		audit(fx.peer, fx.leaf, []byte("replayed")), // 3: another challenge
	}
	forgedAudit := fx.audits[0]
	forgedAudit.Data = bytes.Clone(forgedAudit.Data)
	forgedAudit.Data[0] ^= 1
	fx.badAudits = [][]byte{fuzzJSON(tb, forgedAudit)}
	for _, a := range fx.audits[1:] {
		fx.badAudits = append(fx.badAudits, fuzzJSON(tb, a))
	}
	return fx
}

// fuzzJSON is v as a node writes it: JSON and a newline.
func fuzzJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return append(b, '\n')
}

// oneOf reports whether v equals an element of set.
func oneOf[T any](v T, set []T) bool {
	for _, s := range set {
		if reflect.DeepEqual(v, s) {
			return true
		}
	}
	return false
}

// receiptsFor returns the receipts signed here that answer a request for
// shard id of size bytes of owner, from peer, leased at least to lease.
func (fx *fuzzFixture) receiptsFor(peer shard.PublicKey, id shard.ID, size int64, owner shard.PublicKey, lease int64) []shard.Receipt {
	var out []shard.Receipt
	for _, rc := range fx.receipts {
		if rc.Node == peer && rc.Shard == id && rc.Size == size && rc.Owner == owner && rc.LeaseExpiry >= lease {
			out = append(out, rc)
		}
	}
	return out
}

// FuzzCheckReceipt decodes arbitrary JSON as a receipt and checks it as
// PutShard and Renew do: it passes only if it is a receipt signed here
// for that node, shard, size and owner.
func FuzzCheckReceipt(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, rc := range fx.receipts {
		for req := range uint8(3) {
			f.Add(fuzzJSON(f, rc), req)
		}
	}
	for _, b := range fx.badReceipts {
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`{"shard":"00","sig":null}`), uint8(0))
	requests := []struct {
		peer shard.PublicKey
		id   shard.ID
		size int64
		g    shard.Grant
	}{
		{fx.peer.Public(), fx.id, fx.size, fx.store},
		{fx.peer.Public(), fx.id, fx.renew.Size, fx.renew},
		{fx.other.Public(), fx.id2, fx.size + 1, fx.store},
	}
	f.Fuzz(func(t *testing.T, b []byte, req uint8) {
		var rc shard.Receipt
		if json.Unmarshal(b, &rc) != nil {
			return
		}
		q := requests[int(req)%len(requests)]
		err := checkReceipt(rc, q.peer, q.id, q.size, q.g)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("refused receipt gives %v, want %s", err, ErrBadResponse.Code)
			}
			return
		}
		// checkReceipt does not look at the lease: PutShard does.
		if !oneOf(rc, fx.receiptsFor(q.peer, q.id, q.size, q.g.Owner, -1<<63)) {
			t.Fatalf("receipt %+v accepted for %s shard %s (%d bytes), but never signed for it", rc, q.peer, q.id, q.size)
		}
	})
}

// FuzzReadError feeds readError arbitrary error answers: it always returns
// an *Error with the answer's status, the body's code when the body is a
// JSON error, and a Retry-After of whole seconds up to an hour, taken only
// from a positive decimal header; it reads a bounded part of the body.
func FuzzReadError(f *testing.F) {
	f.Add(uint16(503), "7", []byte(`{"code":"busy","message":"too busy; try again shortly"}`+"\n"), false)
	f.Add(uint16(503), "99999999999999999999", []byte(`{"code":"busy","message":"x"}`), false)
	f.Add(uint16(503), "-5", []byte(`{"code":"busy"}`), false)
	f.Add(uint16(503), "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`{"code":"busy"}`), false)
	f.Add(uint16(404), "", []byte(`{"code":"not_found","message":"not found"}`), false)
	f.Add(uint16(502), "1", []byte("<html>bad gateway</html>"), false)
	f.Add(uint16(401), "", []byte(`{"code":"","message":"empty code"}`), true)
	f.Add(uint16(200), "3", []byte(`{"code":"ok"}`), true)
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, endless bool) {
		code := 100 + int(status)%900
		var read atomic.Int64
		var src io.Reader = bytes.NewReader(body)
		if endless { // the body goes on for 64 MiB
			src = io.MultiReader(src, io.LimitReader(zeros{}, 64<<20))
		}
		resp := &http.Response{
			StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
			Header: http.Header{}, Body: io.NopCloser(&countingReader{r: src, n: &read}),
		}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		err := readError(resp)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("readError returned %v, not an *Error", err)
		}
		if e.Status != code || e.Code == "" || e.Err != nil {
			t.Fatalf("status %d answered as %+v", code, e)
		}
		if n := read.Load(); n > jsonAnswerBound {
			t.Fatalf("read %d bytes of an error answer", n)
		}
		if e.RetryAfter < 0 || e.RetryAfter > time.Hour || e.RetryAfter%time.Second != 0 {
			t.Fatalf("Retry-After %q read as %v", retryAfter, e.RetryAfter)
		}
		secs, serr := strconv.ParseInt(retryAfter, 10, 64)
		if e.RetryAfter > 0 && (serr != nil || secs <= 0 || e.RetryAfter != time.Duration(min(secs, 3600))*time.Second) {
			t.Fatalf("Retry-After %q read as %v", retryAfter, e.RetryAfter)
		}
		if endless || len(body) > 32<<10 {
			return // the test does not know how much of the body an error may use
		}
		var j struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &j) != nil || j.Code == "" {
			if e.Code != "http_"+strconv.Itoa(code) || e.RetryAfter != 0 {
				t.Fatalf("non-JSON error %q read as %+v", body, e)
			}
			return
		}
		if e.Code != j.Code || e.Message != j.Message {
			t.Fatalf("JSON error %q read as %+v", body, e)
		}
		if serr == nil && secs > 0 && e.RetryAfter == 0 {
			t.Fatalf("Retry-After %q of JSON error %q ignored", retryAfter, body)
		}
	})
}

// jsonAnswerBound bounds what the Client may read of one answer that is
// not a shard: the documented 1 MiB of JSON and as much again to drain it.
// A peers list may be larger: see peersBound.
const (
	jsonAnswerBound = 2 << 20
	peersBound      = 10 << 20
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// parseContentRange reads "bytes FIRST-LAST/TOTAL" with decimal digits
// only, as RFC 9110 writes it.
func parseContentRange(s string) (first, last, total int64, ok bool) {
	num := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	rest, ok := strings.CutPrefix(s, "bytes ")
	a, rest, ok1 := strings.Cut(rest, "-")
	b, c, ok2 := strings.Cut(rest, "/")
	if !ok || !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	var ok3, ok4, ok5 bool
	first, ok3 = num(a)
	last, ok4 = num(b)
	total, ok5 = num(c)
	return first, last, total, ok3 && ok4 && ok5
}

// wantLength is what a shard answer must carry for GetShard(off, n):
// the status, and for a range the Content-Range, say exactly the bytes
// asked for (fewer only at the end of the shard), and a known length
// agrees. ok false: the answer must be refused. known false: the
// Content-Range is not in RFC form, so the test cannot tell.
func wantLength(status int, cl int64, contentRange string, off, n int64) (want int64, ok, known bool) {
	if off == 0 && n < 0 {
		return cl, status == http.StatusOK && cl >= 0, true
	}
	if status != http.StatusPartialContent {
		return 0, false, true
	}
	first, last, total, parsed := parseContentRange(contentRange)
	if !parsed {
		return 0, false, false
	}
	length := last - first + 1
	ok = first == off && first <= last && last < total &&
		(n < 0 && last == total-1 || n > 0 && (length == n || length < n && last == total-1)) &&
		(cl < 0 || cl == length)
	return length, ok, true
}

// FuzzBodyLength feeds bodyLength arbitrary shard answers: it accepts
// exactly the answers that carry the bytes asked for (wantLength), and
// whatever it accepts in a form the test cannot read still carries no
// more than asked.
func FuzzBodyLength(f *testing.F) {
	f.Add(uint16(200), int64(10000), "", int64(0), int64(-1))
	f.Add(uint16(200), int64(-1), "", int64(0), int64(-1))
	f.Add(uint16(206), int64(5), "bytes 3-7/10", int64(3), int64(5))
	f.Add(uint16(206), int64(2), "bytes 8-9/10", int64(8), int64(5))
	f.Add(uint16(206), int64(-1), "bytes 8-9/10", int64(8), int64(-1))
	f.Add(uint16(206), int64(7), "bytes 3-9/10", int64(3), int64(5))
	f.Add(uint16(206), int64(5), "bytes 2-6/10", int64(3), int64(5))
	f.Add(uint16(206), int64(5), "bytes 3-7/7", int64(3), int64(5))
	f.Add(uint16(206), int64(5), "bytes +3-7/10 and more", int64(3), int64(5))
	f.Add(uint16(206), int64(-1), "bytes 0-9223372036854775806/9223372036854775807", int64(0), int64(9223372036854775807))
	f.Add(uint16(200), int64(10), "bytes 3-7/10", int64(3), int64(5))
	f.Fuzz(func(t *testing.T, status uint16, cl int64, contentRange string, off, n int64) {
		if off < 0 || n == 0 || n < -1 {
			return // GetShard panics on a negative offset and asks nothing for n == 0
		}
		code := 100 + int(status)%900
		resp := &http.Response{
			StatusCode: code, Status: fmt.Sprintf("%d %s", code, http.StatusText(code)),
			ContentLength: cl, Header: http.Header{"Content-Range": {contentRange}},
		}
		ranged := off > 0 || n > 0
		got, err := bodyLength(resp, ranged, off, n)
		if err != nil && !errors.Is(err, ErrBadResponse) {
			t.Fatalf("refused answer gives %v, want %s", err, ErrBadResponse.Code)
		}
		want, ok, known := wantLength(code, cl, contentRange, off, n)
		switch {
		case known && ok != (err == nil):
			t.Fatalf("%d, length %d, %q for %d+%d: accepted %v (%v), want %v", code, cl, contentRange, off, n, err == nil, err, ok)
		case known && ok && got != want:
			t.Fatalf("%d, length %d, %q for %d+%d: %d bytes, want %d", code, cl, contentRange, off, n, got, want)
		case err == nil && (got < 0 || (!ranged && got != cl) || (ranged && (got == 0 || n > 0 && got > n || cl >= 0 && got != cl))):
			t.Fatalf("%d, length %d, %q for %d+%d: accepted for %d bytes", code, cl, contentRange, off, n, got)
		}
	})
}

// The operations FuzzClientAnswer drives; each sends one request.
const (
	opInfo         = iota // Info with the peer pinned
	opInfoUnpinned        // Info pinning the peer
	opPeers
	opPutShard
	opRenew
	opProof
	opProofFresh // a challenge no answer was signed for
	opGetRoot
	opGetShard      // the whole shard
	opGetShardRange // a range of it (flags&3 picks which)
	opDeleteShard
	opAnnounce
	opPutRoot
	opHello // a challenge: no answer was signed for its fresh nonce
	numOps
)

// shardRanges are the (off, n) of opGetShardRange.
var shardRanges = [4][2]int64{{0, 5}, {3, -1}, {3, 5}, {fuzzSize - 2, 5}}

// answer is what the fuzzed peer answers.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	endless int // filler bytes after the body, sent until the client hangs up
}

// The filler of an endless answer: past the 1 MiB a JSON answer may have,
// and for a peers list past its 8 MiB.
const (
	endlessMax      = 3 << 19
	endlessPeersMax = 9 << 20
)

var filler = bytes.Repeat([]byte{'x'}, 64<<10)

// answerServer is a loopback peer that gives every request the current
// answer, and checks that each request is signed by the client.
type answerServer struct {
	ts            *httptest.Server
	client, peer  shard.PublicKey
	mu            sync.Mutex
	answer        answer
	requests, bad int
}

func (s *answerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	sr, node, sig, ok, err := parseSigned(r)
	// Public reads (records) go unsigned; everything else is signed by
	// the client, and for the peer unless it is a read.
	public := r.Method == http.MethodGet && (r.URL.Path == "/v1/info" || r.URL.Path == "/v1/hello" || r.URL.Path == "/v1/peers")
	good := (public && !ok) || (!public && ok && err == nil && node == s.client && node.Verify(sr.canonical(node), sig) &&
		(r.Method == http.MethodGet || sr.Target == s.peer))
	s.mu.Lock()
	a := s.answer
	s.requests++
	if !good {
		s.bad++
	}
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	if _, err := w.Write(a.body); err != nil {
		return
	}
	for range a.endless / len(filler) {
		if _, err := w.Write(filler); err != nil {
			return
		}
	}
}

// seen is what the client's transport received: one response per request.
type seen struct {
	status        int
	contentLength int64
	contentRange  string
}

// guardTransport lets requests reach only the answer server, and counts
// the body bytes the client reads.
type guardTransport struct {
	rt   http.RoundTripper
	host string
	read atomic.Int64

	mu      sync.Mutex
	seen    []seen
	refused int // requests for another host
}

func (g *guardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != g.host {
		if r.Body != nil {
			r.Body.Close()
		}
		g.mu.Lock()
		g.refused++
		g.mu.Unlock()
		return nil, fmt.Errorf("fuzz: request for %s refused", r.URL.Host)
	}
	resp, err := g.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.seen = append(g.seen, seen{resp.StatusCode, resp.ContentLength, resp.Header.Get("Content-Range")})
	g.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{&countingReader{r: resp.Body, n: &g.read}, resp.Body}
	return resp, nil
}

// parseAnswerHeader reads "Name: value" lines.
func parseAnswerHeader(s string) http.Header {
	h := http.Header{}
	for line := range strings.SplitSeq(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if name = strings.TrimSpace(name); ok && name != "" {
			h.Add(name, strings.TrimSpace(value))
		}
	}
	return h
}

// FuzzClientAnswer drives the real Client against a loopback peer whose
// answer (status, headers, body) is fuzzed, for every call that parses an
// answer. Whatever a call returns without error must be what a genuine
// peer signed for exactly that request (a message signed here, naming the
// pinned peer and what was asked); a non-2xx answer is always an *Error
// with its status; the client reads a bounded part of any answer; every
// request it sends is signed. A genuine answer, sent plainly, is
// accepted.
func FuzzClientAnswer(f *testing.F) {
	fx := newFuzzFixture(f)
	srv := &answerServer{client: fx.client.Public(), peer: fx.peer.Public()}
	srv.ts = httptest.NewUnstartedServer(srv)
	srv.ts.Config.ErrorLog = log.New(io.Discard, "", 0) // fuzzed headers make it complain
	srv.ts.Start()
	f.Cleanup(srv.ts.Close)
	u, err := url.Parse(srv.ts.URL)
	if err != nil {
		f.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ExpectContinueTimeout = 2 * time.Second
	f.Cleanup(tr.CloseIdleConnections)
	guard := &guardTransport{rt: tr, host: u.Host}
	// NewClient's own http.Client follows redirects; this one hands the
	// redirect to the Client as its answer, which must then refuse it.
	hc := &http.Client{Transport: guard, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}

	forged := toWire(fx.records[1])
	forged.Free++
	peersBody := fuzzJSON(f, PeerPage{Peers: []WireRecord{toWire(fx.records[0]), forged, toWire(fx.records[2])}, Next: 3})
	// genuine: for each operation, the answer a genuine peer gives.
	type plain struct {
		header string
		body   []byte
	}
	const jsonType = "Content-Type: application/json"
	genuine := map[int]plain{
		opInfo:         {jsonType, fuzzJSON(f, fx.records[1])},
		opInfoUnpinned: {jsonType, fuzzJSON(f, fx.records[2])},
		opPeers:        {jsonType, peersBody},
		opPutShard:     {jsonType, fuzzJSON(f, fx.receipts[0])},
		opRenew:        {jsonType, fuzzJSON(f, fx.receipts[1])},
		opProof:        {jsonType, fuzzJSON(f, fx.audits[0])},
		opGetRoot:      {jsonType, fuzzJSON(f, fx.roots[0])},
		opGetShard:     {"Content-Length: " + strconv.Itoa(fuzzSize), fx.data},
	}
	for op, a := range genuine {
		f.Add(uint8(op), uint16(0), a.header, a.body, uint8(0))
	}
	for i, r := range shardRanges {
		off, end := r[0], min(r[0]+r[1], fuzzSize)
		if r[1] < 0 {
			end = fuzzSize
		}
		f.Add(uint8(opGetShardRange), uint16(6), fmt.Sprintf("Content-Range: bytes %d-%d/%d", off, end-1, fuzzSize),
			fx.data[off:end], uint8(i))
	}
	for _, op := range []int{opDeleteShard, opAnnounce, opPutRoot} {
		f.Add(uint8(op), uint16(4), "", []byte{}, uint8(0))
	}
	for _, b := range fx.badReceipts {
		f.Add(uint8(opPutShard), uint16(0), "", b, uint8(0))
		f.Add(uint8(opRenew), uint16(0), "", b, uint8(0))
	}
	for _, b := range fx.badRecords {
		f.Add(uint8(opInfo), uint16(0), "", b, uint8(0))
	}
	for _, b := range fx.badAudits {
		f.Add(uint8(opProof), uint16(0), "", b, uint8(0))
	}
	f.Add(uint8(opProofFresh), uint16(0), jsonType, genuine[opProof].body, uint8(0))
	// A genuine hello, but to an earlier challenge.
	old := []byte("an earlier nonce")
	f.Add(uint8(opHello), uint16(0), jsonType, fuzzJSON(f, Hello{Record: fx.records[1], Nonce: old,
		Sig: fx.peer.Sign(helloBytes(fx.records[1], old))}), uint8(0))
	for _, b := range fx.badRoots {
		f.Add(uint8(opGetRoot), uint16(0), "", b, uint8(0))
	}
	busy := []byte(`{"code":"busy","message":"too busy; try again shortly"}` + "\n")
	for op := range uint8(numOps) {
		f.Add(op, uint16(303), "Retry-After: 7\nContent-Type: application/json", busy, uint8(0))
	}
	f.Add(uint8(opGetRoot), uint16(204), "", []byte(`{"code":"not_found","message":"no root"}`), uint8(0))
	f.Add(uint8(opPeers), uint16(0), "Content-Type: application/json", []byte("["), uint8(4))
	f.Add(uint8(opGetShard), uint16(0), "Content-Length: 80", fx.data, uint8(0))
	f.Add(uint8(opGetShard), uint16(0), "Content-Length: 4", fx.data, uint8(0))
	f.Add(uint8(opGetShard), uint16(0), "", fx.data, uint8(4))
	f.Add(uint8(opGetShardRange), uint16(6), "Content-Range: bytes 0-99999999/100000000", fx.data, uint8(4))
	f.Add(uint8(opInfo), uint16(101), "Location: http://127.0.0.1:1/v1/info", []byte{}, uint8(0))
	f.Add(uint8(opPutShard), uint16(107), "Location: /v1/info", []byte{}, uint8(0))

	f.Fuzz(func(t *testing.T, op uint8, status uint16, header string, body []byte, flags uint8) {
		o := int(op) % numOps
		a := answer{status: 200 + int(status)%400, header: parseAnswerHeader(header), body: body}
		if flags&4 != 0 {
			a.endless = endlessMax
			if o == opPeers {
				a.endless = endlessPeersMax
			}
		}
		srv.mu.Lock()
		srv.answer, srv.requests, srv.bad = a, 0, 0
		srv.mu.Unlock()
		guard.mu.Lock()
		guard.seen, guard.refused = nil, 0
		guard.mu.Unlock()
		guard.read.Store(0)

		peer := fx.peer.Public()
		opts := []ClientOption{WithClientClock(func() time.Time { return time.Unix(fuzzTime, 0) })}
		if o != opInfoUnpinned {
			opts = append(opts, WithPeerID(peer))
		}
		c := NewClient(srv.ts.URL, fx.client, hc, opts...)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()

		var (
			got    any         // what the call returned, if it did not fail
			accept func() bool // whether got answers the request
			bound  = int64(jsonAnswerBound)
			err    error
		)
		switch o {
		case opInfo, opInfoUnpinned:
			var rec shard.NodeRecord
			rec, err = c.Info(ctx)
			got = rec
			accept = func() bool {
				pinned, perr := c.PeerID(ctx)
				return oneOf(rec, fx.records) && pinned == rec.Node && perr == nil &&
					(o == opInfoUnpinned || rec.Node == peer)
			}
		case opPeers:
			var recs []shard.NodeRecord
			recs, _, _, err = c.Peers(ctx, 0)
			got, bound = recs, peersBound
			accept = func() bool {
				for _, r := range recs {
					if !oneOf(r, fx.records) {
						return false
					}
				}
				return true
			}
		case opPutShard:
			var rc shard.Receipt
			rc, err = c.PutShard(ctx, fx.id, bytes.NewReader(fx.data), fx.size, fx.store)
			got = rc
			accept = func() bool {
				return oneOf(rc, fx.receiptsFor(peer, fx.id, fx.size, fx.owner.Public(), fx.store.LeaseExpiry))
			}
		case opRenew:
			var rc shard.Receipt
			rc, err = c.Renew(ctx, fx.id, fx.renew)
			got = rc
			accept = func() bool {
				return oneOf(rc, fx.receiptsFor(peer, fx.id, fx.renew.Size, fx.owner.Public(), fx.renew.LeaseExpiry))
			}
		case opProof, opProofFresh:
			nonce := fx.nonce
			if o == opProofFresh {
				nonce = fx.fresh
			}
			var au Audit
			au, err = c.Proof(ctx, fx.id, fx.leaf, nonce)
			got = au
			accept = func() bool {
				return o == opProof && reflect.DeepEqual(au, fx.audits[0])
			}
		case opGetRoot:
			var rec shard.RootRecord
			rec, err = c.GetRoot(ctx, fx.owner.Public())
			got = rec
			accept = func() bool { return reflect.DeepEqual(rec, fx.roots[0]) }
		case opGetShard, opGetShardRange:
			off, n := int64(0), int64(-1)
			if o == opGetShardRange {
				off, n = shardRanges[flags&3][0], shardRanges[flags&3][1]
			}
			var rd io.ReadCloser
			rd, err = c.GetShard(ctx, fx.id, off, n)
			if err == nil {
				got, accept = checkShardBody(t, guard, rd, off, n)
				bound = 1<<20 + int64(len(got.([]byte)))
			}
		case opDeleteShard:
			err = c.DeleteShard(ctx, fx.id, fx.delete)
		case opHello:
			var rec shard.NodeRecord
			rec, err = c.Hello(ctx)
			got = rec
			accept = func() bool { return false } // the nonce is fresh: nothing fuzzed answers it
		case opAnnounce:
			_, _, err = c.Announce(ctx, fx.records[0])
		case opPutRoot:
			err = c.PutRoot(ctx, fx.roots[0])
		}

		srv.mu.Lock()
		requests, bad := srv.requests, srv.bad
		srv.mu.Unlock()
		guard.mu.Lock()
		responses, refused := guard.seen, guard.refused
		guard.mu.Unlock()
		if refused > 0 {
			t.Fatalf("op %d: %d requests for another host than the peer", o, refused)
		}
		if requests == 0 && err == nil {
			t.Fatalf("op %d succeeded without a request", o)
		}
		if bad > 0 {
			t.Fatalf("op %d: %d of %d requests not signed by the client for the peer", o, bad, requests)
		}
		if len(responses) > 0 && responses[len(responses)-1].status/100 != 2 {
			// The answer the client settled on is an error: so is the call.
			last := responses[len(responses)-1]
			var e *Error
			if err == nil {
				t.Fatalf("op %d: answer %d accepted", o, last.status)
			}
			if errors.As(err, &e) && e.Code != ErrBadResponse.Code && e.Status != last.status {
				t.Fatalf("op %d: answer %d gives %+v", o, last.status, e)
			}
		}
		if n := guard.read.Load(); n > bound {
			t.Fatalf("op %d: client read %d bytes of answers (bound %d)", o, n, bound)
		}
		if err == nil && accept != nil && !accept() {
			t.Fatalf("op %d: accepted %+v, which answers another request or was never signed", o, got)
		}
		if want, ok := genuine[o]; ok && err != nil && a.status == 200 && header == want.header && a.endless == 0 && bytes.Equal(body, want.body) {
			t.Fatalf("op %d: genuine answer refused: %v", o, err)
		}
	})
}

// checkShardBody reads a GetShard answer the client accepted and checks
// it against the last response the transport saw: the client accepts only
// what wantLength allows, and its reader yields exactly that many bytes or
// fails. It returns the bytes read and whether the answer was to accept.
func checkShardBody(t *testing.T, guard *guardTransport, rd io.ReadCloser, off, n int64) (any, func() bool) {
	t.Helper()
	guard.mu.Lock()
	last := guard.seen[len(guard.seen)-1]
	guard.mu.Unlock()
	want, ok, known := wantLength(last.status, last.contentLength, last.contentRange, off, n)
	var buf bytes.Buffer
	_, rerr := io.Copy(&buf, io.LimitReader(rd, 2*endlessPeersMax))
	if err := rd.Close(); err != nil {
		t.Fatalf("close shard body: %v", err)
	}
	got := int64(buf.Len())
	switch {
	case known && !ok:
		t.Fatalf("shard answer %+v accepted for %d+%d", last, off, n)
	case known && rerr == nil && got != want:
		t.Fatalf("shard answer %+v for %d+%d yields %d bytes, want %d", last, off, n, got, want)
	case known && got > want, n > 0 && got > n:
		t.Fatalf("shard answer %+v for %d+%d yields %d bytes (want %d, known %v)", last, off, n, got, want, known)
	}
	return buf.Bytes(), nil
}
