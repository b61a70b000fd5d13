package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"ishtar/shard"
)

// Client limits.
const (
	maxErrorBody   = 64 << 10 // an error answer
	maxAnswerBody  = 1 << 20  // any JSON answer
	maxDrain       = 256 << 10
	maxPeersAnswer = 8 << 20
)

// Client talks to one peer, signing every request with this node's key.
// It never trusts an answer it has not verified: records and receipts are
// checked against their signatures and against what was asked. Shard bytes
// are returned as they come; the caller verifies them against the ID.
type Client struct {
	base string
	key  shard.PrivateKey
	hc   *http.Client
	now  func() time.Time

	mu   sync.Mutex
	peer shard.PublicKey // pinned node ID; zero until known
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithPeerID pins the peer's node ID; otherwise the first Info pins it.
func WithPeerID(id shard.PublicKey) ClientOption { return func(c *Client) { c.peer = id } }

// WithClientClock sets the clock used to stamp requests.
func WithClientClock(now func() time.Time) ClientOption { return func(c *Client) { c.now = now } }

// NewClient returns a client of the peer at baseURL (e.g.
// "http://203.0.113.5:7070"). hc nil means a client of its own; a given
// client's transport should set ExpectContinueTimeout, so that a refused
// large shard upload is answered before its body is sent (see PutShard).
// Redirects are never followed, whatever hc's policy.
func NewClient(baseURL string, self shard.PrivateKey, hc *http.Client, opts ...ClientOption) *Client {
	if self.IsZero() {
		panic("node: NewClient without a node key")
	}
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ExpectContinueTimeout = 2 * time.Second
		t.MaxIdleConnsPerHost = 16
		t.DialContext = bigWriteDialer(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
		hc = &http.Client{Transport: t}
	}
	// A peer's answer is taken as it is: a redirect is an answer (an
	// error, not being 2xx), never followed, or a peer could make this
	// node send its signed requests and shard bodies anywhere.
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{base: strings.TrimRight(baseURL, "/"), key: self, hc: &own, now: time.Now}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// bigWriteDialer dials connections that send request bodies in writes of
// up to bodyChunk bytes. The transport copies a body of known length to
// the connection through io.Copy, in 32 KiB writes; a shard of several
// MiB then costs hundreds of system calls and as many wake-ups of the
// receiving node.
func bigWriteDialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return bigWriteConn{c}, nil
	}
}

const bodyChunk = 256 << 10

var bodyChunks = sync.Pool{New: func() any { b := make([]byte, bodyChunk); return &b }}

// bigWriteConn is a connection whose ReadFrom copies through a large
// buffer.
type bigWriteConn struct{ net.Conn }

func (c bigWriteConn) ReadFrom(r io.Reader) (int64, error) {
	bp := bodyChunks.Get().(*[]byte)
	defer bodyChunks.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *bp)
}

// BaseURL returns the peer's base URL.
func (c *Client) BaseURL() string { return c.base }

// request describes one call.
type request struct {
	method, path string
	query        url.Values
	body         io.Reader // nil: no body
	size         int64
	bodyHash     [32]byte
	grant        string
	header       http.Header
	public       bool // a public read (records): sent unsigned
}

// do sends a request, signed unless it is a public read, and returns a
// 2xx response; any other status becomes an *Error.
func (c *Client) do(ctx context.Context, rq request) (*http.Response, error) {
	u := c.base + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, rq.body)
	if err != nil {
		return nil, fmt.Errorf("node: %s %s: %w", rq.method, rq.path, err)
	}
	if rq.body != nil {
		req.ContentLength = rq.size
	}
	for k, v := range rq.header {
		req.Header[k] = v
	}
	if rq.grant != "" {
		req.Header.Set(HeaderGrant, rq.grant)
	}
	if !rq.public {
		if err := c.sign(ctx, req, rq); err != nil {
			return nil, err
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("node: %s %s%s: %w", rq.method, c.base, rq.path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer drainClose(resp.Body)
		return nil, readError(resp)
	}
	return resp, nil
}

// sign sets the signature headers of req.
func (c *Client) sign(ctx context.Context, req *http.Request, rq request) error {
	var err error
	sr := signedRequest{
		Method: rq.method, RequestURI: req.URL.RequestURI(), Time: c.now().Unix(),
		BodyHash: rq.bodyHash, Grant: rq.grant,
	}
	// Anything but a read names the peer, asking for its record first if
	// it is not pinned yet (see Server.authenticate).
	if rq.method == http.MethodGet {
		c.mu.Lock()
		sr.Target = c.peer
		c.mu.Unlock()
	} else if sr.Target, err = c.PeerID(ctx); err != nil {
		return err
	}
	if rq.body == nil {
		sr.BodyHash = emptyBodyHash
	}
	_, _ = rand.Read(sr.Nonce[:]) // never fails
	sr.sign(req.Header, c.key)
	return nil
}

// readError decodes a JSON error answer.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e Error
	if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
		return &Error{
			Code:    "http_" + strconv.Itoa(resp.StatusCode),
			Message: fmt.Sprintf("%s: %.200q", resp.Status, b),
			Status:  resp.StatusCode,
		}
	}
	e.Status = resp.StatusCode
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
	}
	return &e
}

func drainClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// doJSON sends in (nil: no body) and decodes the answer into out (nil:
// discard it).
func (c *Client) doJSON(ctx context.Context, rq request, in, out any, limit int64) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("node: encode %T: %w", in, err)
		}
		rq.body, rq.size, rq.bodyHash = bytes.NewReader(b), int64(len(b)), sha256.Sum256(b)
		rq.header = http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := c.do(ctx, rq)
	if err != nil {
		return err
	}
	defer drainClose(resp.Body)
	if out == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("node: read answer to %s %s: %w", rq.method, rq.path, err)
	}
	if int64(len(b)) > limit {
		return errorf(ErrBadResponse, "answer to %s %s over %d bytes", rq.method, rq.path, limit)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return errorf(ErrBadResponse, "answer to %s %s: %v", rq.method, rq.path, err)
	}
	return nil
}

// Info fetches and verifies the peer's signed record, and pins its ID.
func (c *Client) Info(ctx context.Context) (shard.NodeRecord, error) {
	var rec shard.NodeRecord
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/info", public: true}, nil, &rec, maxAnswerBody); err != nil {
		return rec, err
	}
	if err := rec.Verify(); err != nil {
		return rec, wrapf(ErrBadResponse, err, "node record from %s: %v", c.base, err)
	}
	return rec, c.pin(rec.Node)
}

// Hello challenges whoever answers at the client's address with a fresh
// nonce, and returns its record once the record's key has signed the
// nonce: the key holder answers there. It pins the node's ID, or checks
// the pinned one.
func (c *Client) Hello(ctx context.Context) (shard.NodeRecord, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // never fails
	q := url.Values{"nonce": {hex.EncodeToString(nonce[:])}}
	var h Hello
	if err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/hello", query: q, public: true}, nil, &h, maxAnswerBody); err != nil {
		return h.Record, err
	}
	if !bytes.Equal(h.Nonce, nonce[:]) {
		return h.Record, errorf(ErrBadResponse, "hello from %s answers another challenge", c.base)
	}
	if err := h.Verify(); err != nil {
		return h.Record, wrapf(ErrBadResponse, err, "hello from %s: %v", c.base, err)
	}
	return h.Record, c.pin(h.Record.Node)
}

// pin pins the peer's ID, or checks it against the pinned one.
func (c *Client) pin(id shard.PublicKey) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peer.IsZero() {
		c.peer = id
	} else if c.peer != id {
		return errorf(ErrBadResponse, "%s answers as node %s, expected %s", c.base, id, c.peer)
	}
	return nil
}

// PeerID returns the peer's node ID, asking for its record if not pinned.
func (c *Client) PeerID(ctx context.Context) (shard.PublicKey, error) {
	c.mu.Lock()
	id := c.peer
	c.mu.Unlock()
	if !id.IsZero() {
		return id, nil
	}
	rec, err := c.Info(ctx)
	return rec.Node, err
}

// GetRoot fetches and verifies owner's highest root record.
func (c *Client) GetRoot(ctx context.Context, owner shard.PublicKey) (shard.RootRecord, error) {
	var rec shard.RootRecord
	err := c.doJSON(ctx, request{method: http.MethodGet, path: "/v1/roots/" + owner.String()}, nil, &rec, maxAnswerBody)
	if err != nil {
		return rec, err
	}
	if rec.Owner != owner {
		return rec, errorf(ErrBadResponse, "root record of %s asked for %s", rec.Owner, owner)
	}
	if err := rec.Verify(); err != nil {
		return rec, wrapf(ErrBadResponse, err, "root record from %s: %v", c.base, err)
	}
	return rec, nil
}

// PutRoot posts a root record; a Seq not above the peer's gives ErrConflict.
func (c *Client) PutRoot(ctx context.Context, rec shard.RootRecord) error {
	return c.doJSON(ctx, request{method: http.MethodPost, path: "/v1/roots/" + rec.Owner.String()}, rec, nil, 0)
}
