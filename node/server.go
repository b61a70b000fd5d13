package node

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"ishtar/meta"
	"ishtar/shard"
)

// Server serves the peer protocol. It is an http.Handler; HTTPServer
// returns an *http.Server configured with its limits.
type Server struct {
	cfg    Config
	st     Store
	db     *meta.DB
	log    *slog.Logger
	self   shard.PublicKey
	router *mux.Router
	// inline is st when it is an InlineStore over db itself: its bytes
	// are then written and deleted only in the batches of their index
	// entries (see openHeld).
	inline *InlineStore
	nonces *nonceStore
	adm    *admission
	ledger *ledger
	// failing are the delegated shards whose next node failed the last
	// proof relayed to it (see Delegated).
	failing failingSet
	// Signed requests per identity and per address block (Limits).
	peerRates  *rateTable[shard.PublicKey]
	blockRates *rateTable[string]
	logs       *logLimiter
	refused    refusals

	// locks serialize commits, renewals and deletes of one shard ID
	// (striped by the ID's first byte).
	locks [256]sync.Mutex

	mu  sync.Mutex
	seq uint64           // last node record sequence number
	rec shard.NodeRecord // the record last signed
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a Server storing shard bytes in st and its index in db.
// Shards up to cfg.InlineMax bytes are kept in db instead: st is wrapped in
// an InlineStore, unless it is one already or a decorator whose Unwrap
// method leads to one (then it is used as it is). It fills cfg's defaults
// and panics if cfg is still invalid: validate configuration from users
// before.
func NewServer(cfg Config, st Store, db *meta.DB, log *slog.Logger) *Server {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if cfg.Owner.IsZero() {
		cfg.Owner, cfg.OwnerSig = cfg.Key.Public(), shard.SignOwnerLink(cfg.Key, cfg.Key.Public())
	}
	if cfg.Delegate.OwnerKey.IsZero() && cfg.Owner == cfg.Key.Public() {
		cfg.Delegate.OwnerKey = cfg.Key
	}
	if !cfg.Delegate.OwnerKey.IsZero() && cfg.Delegate.OwnerKey.Public() != cfg.Owner {
		panic("node: config: the delegation key is not the owner's")
	}
	if !keepsInline(st) {
		st = NewInlineStore(db, st, max(cfg.InlineMax, 0), cfg.LeafSize)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:    cfg,
		st:     st,
		db:     db,
		log:    log,
		self:   cfg.Key.Public(),
		nonces: newNonceStore(cfg.ClockWindow, cfg.MaxNonces),
		adm:    newAdmission(),
		ledger: newLedger(),
		logs:   newLogLimiter(cfg.Now),
	}
	s.peerRates = newRateTable[shard.PublicKey](cfg.Limits.PeerRate, cfg.Limits.Tracked)
	s.blockRates = newRateTable[string](cfg.Limits.BlockRate, cfg.Limits.Tracked)
	if il, ok := st.(*InlineStore); ok && il.db == db {
		s.inline = il
	}
	s.routes()
	if err := s.RefreshCredit(); err != nil {
		log.Error("node: reading the owners' debts", "err", err) // settled again at each store
	}
	return s
}

// keepsInline reports whether st is an InlineStore, or a chain of
// decorators (with an Unwrap() Store method) around one.
func keepsInline(st Store) bool {
	for range 32 {
		switch v := st.(type) {
		case *InlineStore:
			return true
		case interface{ Unwrap() Store }:
			st = v.Unwrap()
		default:
			return false
		}
	}
	return false
}

// ID returns the node ID.
func (s *Server) ID() shard.PublicKey { return s.self }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// HTTPServer returns an http.Server for s with header limits and timeouts.
// Body deadlines are set per request by the handlers.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// routeKind says how a route is authenticated and what its body is.
type routeKind int

const (
	kindSigned routeKind = iota // signed; small body hashed with SHA-256
	kindRead                    // signed, or anonymous if configured; no body
	kindShard                   // signed; the body is a shard whose ID is the body hash
	kindPublic                  // anyone, signed or not: public, self-signed answers
	kindNone                    // not authenticated: error answers only
)

func (s *Server) routes() {
	r := mux.NewRouter()
	r.NotFoundHandler = s.wrap(kindNone, func(http.ResponseWriter, *http.Request, *call) error {
		return errorf(ErrNotFound, "no such endpoint")
	})
	r.MethodNotAllowedHandler = s.wrap(kindNone, func(http.ResponseWriter, *http.Request, *call) error {
		return ErrMethodNotAllowed
	})
	handle := func(method, path string, kind routeKind, h handlerFunc) {
		r.Handle(path, s.wrap(kind, h)).Methods(method)
	}
	handle(http.MethodGet, "/v1/info", kindPublic, s.handleInfo)
	handle(http.MethodGet, "/v1/hello", kindPublic, s.handleHello)
	handle(http.MethodGet, "/v1/peers", kindPublic, s.handleGetPeers)
	handle(http.MethodPost, "/v1/peers", kindSigned, s.handlePostPeers)
	handle(http.MethodGet, "/v1/registry", kindRead, s.handleRegistry)
	handle(http.MethodGet, "/v1/op/{name}", kindRead, s.handleOperator)
	handle(http.MethodPost, "/v1/shards/{id}", kindShard, s.handlePutShard)
	handle(http.MethodGet, "/v1/shards/{id}", kindRead, s.handleGetShard)
	handle(http.MethodDelete, "/v1/shards/{id}", kindSigned, s.handleDeleteShard)
	handle(http.MethodGet, "/v1/shards/{id}/proof", kindRead, s.handleProof)
	handle(http.MethodPost, "/v1/shards/{id}/renew", kindSigned, s.handleRenew)
	handle(http.MethodPost, "/v1/renew", kindSigned, s.handleRenewBatch)
	handle(http.MethodGet, "/v1/roots/{owner}", kindRead, s.handleGetRoot)
	handle(http.MethodPost, "/v1/roots/{owner}", kindSigned, s.handlePostRoot)
	s.router = r
}

// call is what the adapter learned about a request before its handler.
type call struct {
	block    string          // the address block of the caller's IP address
	peer     shard.PublicKey // the calling node; zero when anonymous
	body     []byte          // the verified body, for kindSigned
	bodyHash [32]byte        // the signed body hash
	rc       *http.ResponseController
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// wrap authenticates a request, runs h and turns its error into JSON.
func (s *Server) wrap(kind routeKind, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(s.cfg.RequestTimeout)
		_ = rc.SetReadDeadline(deadline) // unsupported only by test recorders
		_ = rc.SetWriteDeadline(deadline)
		tw := &trackingWriter{ResponseWriter: w}
		c := &call{block: remoteBlock(r.RemoteAddr)}
		err := s.authenticate(tw, r, kind, c)
		if err == nil {
			c.rc = rc
			err = h(tw, r, c)
		}
		if err != nil {
			s.fail(tw, r, c, err)
		}
	})
}

// authenticate checks the request rate of the caller's address block,
// the signature headers and the caller's own rate, and, for small
// bodies, reads the body and checks its hash, filling c.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, kind routeKind, c *call) error {
	if kind == kindNone {
		return nil
	}
	now := s.cfg.Now()
	// Before any signature is checked: an IP address cannot be forged,
	// and verifying costs more than refusing.
	if ok, wait := s.blockRates.take(c.block, now); !ok {
		return busyFor(wait, "too many requests from address block %s", c.block)
	}
	if kind == kindPublic {
		return nil // its signature, if any, is not needed
	}
	sr, node, sig, signed, err := parseSigned(r)
	if err != nil {
		return err
	}
	if !signed {
		if kind == kindRead && s.cfg.AllowAnonymousReads && r.Method == http.MethodGet {
			return nil
		}
		return ErrUnauthenticated
	}
	if skew := time.Duration(now.Unix()-sr.Time) * time.Second; skew.Abs() > s.cfg.ClockWindow {
		return errorf(ErrClockSkew, "request time is %v from this node's clock", skew)
	}
	if !node.Verify(sr.canonical(node), sig) {
		return ErrBadSignature
	}
	c.peer = node
	// A request that changes something names this node, so that no node
	// can replay one it received to another; a read may name none.
	if (kind != kindRead || !sr.Target.IsZero()) && sr.Target != s.self {
		if sr.Target.IsZero() {
			return errorf(ErrMisdirected, "request names no target node")
		}
		return errorf(ErrMisdirected, "request is for node %s, not this one", sr.Target)
	}
	if ok, wait := s.peerRates.take(node, now); !ok {
		return busyFor(wait, "too many requests from node %s", node)
	}
	if err := s.nonces.add(now, sr.Time, node, sr.Nonce); err != nil {
		return err
	}
	c.bodyHash = sr.BodyHash
	if kind == kindShard {
		return nil // the handler checks the body against the ID while storing it
	}
	if c.body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxJSONBody)); err != nil {
		return err
	}
	if sha256.Sum256(c.body) != sr.BodyHash {
		return errorf(ErrBadSignature, "body does not match the signed body hash")
	}
	return nil
}

// fail writes err as JSON (unless the response has begun), counts it and
// logs it, rationed per source (see logging.go).
func (s *Server) fail(w *trackingWriter, r *http.Request, c *call, err error) {
	e := classify(err)
	s.refused.add(e.Code)
	level := logLevel(e, err, w.wrote)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "code", e.Code, "remote", c.block, "err", err}
	if !c.peer.IsZero() {
		attrs = append(attrs, "peer", c.peer.String())
	}
	msg := "request refused"
	switch {
	case w.wrote:
		msg = "request failed after the response began"
	case level == slog.LevelError:
		msg = "request failed"
	}
	s.logFailure(r.Context(), msg, level, c.block, attrs)
	if w.wrote {
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second)))
	}
	// The request's deadline may be what failed it: give the answer time.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("node: marshal %T: %v", v, err)) // only our own types get here
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// trackingWriter remembers whether the response has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the underlying writer's sendfile path.
func (w *trackingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.wrote = true
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// transferDeadline is the deadline of moving n body bytes.
func (s *Server) transferDeadline(n int64) time.Time {
	return time.Now().Add(s.cfg.RequestTimeout + time.Duration(n/s.cfg.MinRate)*time.Second)
}

// lock returns the lock of shard id.
func (s *Server) lock(id shard.ID) *sync.Mutex { return &s.locks[id[0]] }

// free returns the capacity not used by committed shards. Uploads in
// flight are not counted: what a node advertises is what it could take.
func (s *Server) free() (int64, error) {
	used, err := s.used()
	if err != nil {
		return 0, err
	}
	return max(s.cfg.Capacity-used, 0), nil
}

// pathID parses the shard ID or owner ID route variable name.
func pathID(r *http.Request, name string) (shard.ID, error) {
	v := mux.Vars(r)[name]
	id, err := shard.ParseID(v)
	if err != nil {
		return id, errorf(ErrBadRequest, "%s must be 64 lowercase hex digits", name)
	}
	return id, nil
}
