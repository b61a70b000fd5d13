package daemon

// The admin listener (Config.Admin; off when empty) serves:
//
//	GET /             the status page (static HTML, CSS and JS, embedded)
//	GET /api/status   Status as JSON (what `ishtar status --json` prints)
//	GET /metrics      Prometheus metrics
//	GET /healthz      200 while the process serves
//	GET /readyz       200 when the catalog reads, enough peers are
//	                  placeable for n shards and the backup keeps up;
//	                  503 and the reasons otherwise
//
// On a loopback address it needs no login, but answers only requests
// whose Host is a loopback name (a web page elsewhere cannot read it
// through DNS rebinding). Bound anywhere else, /api/status and /metrics
// need "Authorization: Bearer TOKEN" with AdminToken of the owner's S3
// secret (the page takes it from its URL: /#token=TOKEN); a storage-only
// daemon, which has no S3 credentials, must bind loopback.

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ishtar/gateway/backup"
	"ishtar/meta"
)

//go:embed web
var webFiles embed.FS

// AdminURLFile holds, while the daemon runs, the admin listener's URL;
// AdminTokenFile its bearer token when it is bound off loopback (mode
// 0600, like the S3 credentials it is derived from).
const (
	AdminURLFile   = "admin.url"
	AdminTokenFile = "admin.token"
)

// AdminToken is the bearer token of an admin listener bound to a
// non-loopback address, derived from the owner's S3 secret (the secret
// itself never crosses the wire).
func AdminToken(s3Secret string) string {
	m := hmac.New(sha256.New, []byte(s3Secret))
	m.Write([]byte("ishtar admin token v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// openAdmin binds the admin listener, if configured.
func (d *Daemon) openAdmin() error {
	if d.cfg.Admin == "" {
		return nil
	}
	var err error
	if d.adminLn, err = Listen(d.cfg.Admin, "admin"); err != nil {
		return err
	}
	loopback := isLoopback(d.adminLn.Addr())
	if !loopback && len(d.id.S3) == 0 {
		return errors.New("admin: a storage-only node has no S3 secret to derive the admin token from; bind the admin listener to loopback")
	}
	d.adminURL = "http://" + dialable(d.adminLn.Addr())
	if !loopback {
		keys := slices.Sorted(maps.Keys(d.id.S3))
		d.adminToken = AdminToken(d.id.S3[keys[0]])
	}
	d.adminSrv = &http.Server{
		Handler:           d.adminHandler(loopback),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a scrape surveys every segment
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// adminHandler routes the admin listener's requests.
func (d *Daemon) adminHandler(loopback bool) http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFiles, "web") // cannot fail: embedded at build
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	mux.HandleFunc("GET /readyz", d.handleReady)
	var tokens []string // one per S3 key
	for _, secret := range d.id.S3 {
		tokens = append(tokens, AdminToken(secret))
	}
	mux.Handle("GET /api/status", requireToken(loopback, tokens, http.HandlerFunc(d.handleStatus)))
	mux.Handle("GET /metrics", requireToken(loopback, tokens, promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, Timeout: scrapeTimeout})))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !loopbackHost(r.Host) {
			writeAdminJSON(w, http.StatusForbidden, map[string]string{"code": "forbidden", "message": "the admin listener answers loopback host names only"})
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

// requireToken passes to h the requests that carry one of tokens as a
// bearer token, or all of them if open.
func requireToken(open bool, tokens []string, h http.Handler) http.Handler {
	if open {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		match := 0
		for _, t := range tokens {
			match |= subtle.ConstantTimeCompare([]byte(got), []byte(t))
		}
		if !ok || match != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ishtar"`)
			writeAdminJSON(w, http.StatusUnauthorized, map[string]string{"code": "unauthenticated", "message": "this admin listener needs Authorization: Bearer TOKEN (see the README)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (d *Daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := d.status(r.Context())
	if err != nil {
		d.log.WarnContext(r.Context(), "admin: status", "err", err)
		writeAdminJSON(w, http.StatusInternalServerError, map[string]string{"code": "internal", "message": "status: " + err.Error()})
		return
	}
	writeAdminJSON(w, http.StatusOK, st)
}

// Readiness is the answer of /readyz.
type Readiness struct {
	Ready    bool     `json:"ready"`
	Problems []string `json:"problems,omitempty"`
}

func (d *Daemon) handleReady(w http.ResponseWriter, r *http.Request) {
	var rd Readiness
	if _, err := d.db.Counter(meta.CounterUsedBytes); err != nil {
		rd.Problems = append(rd.Problems, "the catalog does not read: "+err.Error())
	}
	var bs backup.Status
	if d.bk != nil {
		var err error
		if bs, err = d.bk.Status(); err != nil {
			rd.Problems = append(rd.Problems, "the backup's state does not read: "+err.Error())
		}
	}
	rd.Problems = append(rd.Problems, d.readiness(d.reg.Stats().Placeable, bs)...)
	rd.Ready = len(rd.Problems) == 0
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeAdminJSON(w, code, rd)
}

func writeAdminJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"code":"internal","message":"encode"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// loopbackHost reports whether a Host header names this machine by a
// loopback IP address or "localhost".
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
