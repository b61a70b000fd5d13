package daemon

// Prometheus metrics of a daemon, served by the admin listener at
// /metrics. Each daemon has a registry of its own (a devnet runs several
// in one process). Counts the packages keep already are read at scrape
// time by a collector; only what no package counts (requests by route or
// operation and status, their latency and bytes) is counted here, by
// middleware around the node's and the S3 endpoint's handlers. No label
// carries an object name, a key or a peer: routes and operations are
// templates, codes are HTTP statuses.

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are one daemon's registry and the counters of its middleware.
type metrics struct {
	reg          *prometheus.Registry
	nodeRequests *prometheus.CounterVec // route, method, code
	nodeBytes    *prometheus.CounterVec // direction
	nodeDuration *prometheus.HistogramVec
	proofs       prometheus.Counter
	s3Requests   *prometheus.CounterVec // op, code
	s3Duration   *prometheus.HistogramVec
	s3Bytes      *prometheus.CounterVec // direction: wire bytes
}

// latencyBuckets are the request latency histograms' upper bounds, in
// seconds: a 4 KiB object in a millisecond up to a large one over minutes.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}

func newMetrics(d *Daemon) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.nodeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ishtar_node_requests_total",
		Help: "Peer protocol requests answered, by route template, method and HTTP status."}, []string{"route", "method", "code"})
	m.nodeBytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ishtar_node_http_bytes_total",
		Help: "Peer protocol body bytes received (in) and sent (out)."}, []string{"direction"})
	m.nodeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ishtar_node_request_duration_seconds",
		Help: "Time to answer peer protocol requests, by route template.", Buckets: latencyBuckets}, []string{"route"})
	m.proofs = prometheus.NewCounter(prometheus.CounterOpts{Name: "ishtar_node_proofs_served_total",
		Help: "Audit proofs this node answered."})
	m.s3Requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ishtar_s3_requests_total",
		Help: "S3 requests answered, by operation and HTTP status."}, []string{"op", "code"})
	m.s3Duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ishtar_s3_request_duration_seconds",
		Help: "Time to answer S3 requests (the whole body included), by operation.", Buckets: latencyBuckets}, []string{"op"})
	m.s3Bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ishtar_s3_http_bytes_total",
		Help: "S3 body bytes received (in) and sent (out), on the wire."}, []string{"direction"})
	for _, dir := range []string{"in", "out"} { // present from the start
		m.nodeBytes.WithLabelValues(dir)
		m.s3Bytes.WithLabelValues(dir)
	}
	m.reg.MustRegister(m.nodeRequests, m.nodeBytes, m.nodeDuration, m.proofs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{d: d})
	if d.gw != nil {
		m.reg.MustRegister(m.s3Requests, m.s3Duration, m.s3Bytes)
	}
	return m
}

// node counts the peer protocol requests of h.
func (m *metrics) node(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w}
		body := countBody(r)
		h.ServeHTTP(cw, r)
		route := nodeRoute(r.URL.Path)
		code := cw.status()
		m.nodeRequests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(code)).Inc()
		m.nodeDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		m.nodeBytes.WithLabelValues("in").Add(float64(body.n))
		m.nodeBytes.WithLabelValues("out").Add(float64(cw.n))
		if route == "/v1/shards/{id}/proof" && code == http.StatusOK {
			m.proofs.Inc()
		}
	})
}

// s3 counts the S3 requests of h; baseDomain is the virtual-host domain
// ("" for none).
func (m *metrics) s3(h http.Handler, baseDomain string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		op := s3Operation(r, baseDomain) // before the handler: it may change r.URL
		cw := &countingWriter{ResponseWriter: w}
		body := countBody(r)
		h.ServeHTTP(cw, r)
		m.s3Requests.WithLabelValues(op, strconv.Itoa(cw.status())).Inc()
		m.s3Duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
		m.s3Bytes.WithLabelValues("in").Add(float64(body.n))
		m.s3Bytes.WithLabelValues("out").Add(float64(cw.n))
	})
}

// nodeRoutes are the peer protocol's routes: a path segment of {x} matches
// any one segment.
var nodeRoutes = []string{
	"/v1/info", "/v1/hello", "/v1/peers", "/v1/registry", "/v1/renew",
	"/v1/op/{name}", "/v1/shards/{id}", "/v1/shards/{id}/proof", "/v1/shards/{id}/renew",
	"/v1/roots/{owner}",
}

// nodeRouteSegs are nodeRoutes split into path segments.
var nodeRouteSegs = func() [][]string {
	out := make([][]string, len(nodeRoutes))
	for i, rt := range nodeRoutes {
		out[i] = strings.Split(strings.TrimPrefix(rt, "/"), "/")
	}
	return out
}()

// nodeRoute is the route template path matches, or "other": labels stay
// a small, fixed set whatever callers send.
func nodeRoute(path string) string {
	var buf [4]string
	segs := buf[:0]
	rest := strings.TrimPrefix(path, "/")
	for len(segs) < len(buf) {
		seg, more, ok := strings.Cut(rest, "/")
		segs = append(segs, seg)
		if !ok {
			rest = ""
			break
		}
		rest = more
		if rest == "" {
			segs = append(segs, "")
			break
		}
	}
	if rest != "" {
		return "other" // deeper than any route
	}
	for i, want := range nodeRouteSegs {
		if len(want) != len(segs) {
			continue
		}
		ok := true
		for j, w := range want {
			if segs[j] == "" || !strings.HasPrefix(w, "{") && w != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return nodeRoutes[i]
		}
	}
	return "other"
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
		return m
	}
	return "OTHER"
}

// s3Operation names the S3 operation of r from its method, path, query
// and headers (as the S3 API routes it), or "Other".
func s3Operation(r *http.Request, baseDomain string) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	if baseDomain != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if b, ok := strings.CutSuffix(strings.ToLower(host), "."+strings.ToLower(baseDomain)); ok && b != "" {
			bucket, key = b, path
		}
	}
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key == "":
		switch r.Method {
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
		case http.MethodGet:
			switch {
			case has("location"):
				return "GetBucketLocation"
			case has("uploads"):
				return "ListMultipartUploads"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case len(q) == 0 || has("prefix") || has("delimiter") || has("marker") || has("max-keys") || has("encoding-type"):
				return "ListObjects"
			}
		}
	default:
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch r.Method {
		case http.MethodPut:
			switch {
			case has("uploadId") && copySource:
				return "UploadPartCopy"
			case has("uploadId"):
				return "UploadPart"
			case copySource:
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodGet:
			if has("uploadId") {
				return "ListParts"
			}
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload"
			}
			return "DeleteObject"
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "CreateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			}
		}
	}
	return "Other"
}

// countingWriter counts the bytes of a response and keeps its status.
// It keeps the underlying writer's ReadFrom (sendfile) and Unwrap (for
// http.ResponseController: deadlines, flushes).
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.n += n
	return n, err
}

func (w *countingWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the response's status (200 if the handler wrote nothing).
func (w *countingWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// countBody counts the bytes read of r's body from now on. An absent
// body (nil or http.NoBody) stays as it is: handlers may tell it apart.
func countBody(r *http.Request) *countingBody {
	b := &countingBody{ReadCloser: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = b
	}
	return b
}

// countingBody counts the bytes read of a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// scrapeTimeout bounds what a scrape reads (the survey of every segment).
const scrapeTimeout = 30 * time.Second

// collector reads the packages' counters at scrape time.
type collector struct{ d *Daemon }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descNodeCapacity = desc("ishtar_node_capacity_bytes", "Bytes this node offers others.")
	descNodeUsed     = desc("ishtar_node_used_bytes", "Bytes this node holds for others (shards, their bookkeeping, root records).")
	descNodeFree     = desc("ishtar_node_free_bytes", "Bytes this node could still take.")
	descNodeShards   = desc("ishtar_node_shards_held", "Shards held for others (one per owner holding it).")
	descNodeHeld     = desc("ishtar_node_held_bytes", "Bytes of the shards held for others.")
	descNodeOwners   = desc("ishtar_node_owners", "Owners with shards on this node.")
	descNodeRefused  = desc("ishtar_node_refusals_total", "Peer protocol requests refused or failed, by error code.", "reason")

	descPeersKnown     = desc("ishtar_peers_known", "Peers in the registry, verified or only heard of.")
	descPeersVerified  = desc("ishtar_peers_verified", "Peers whose key holder answered at their address.")
	descPeersPlaceable = desc("ishtar_peers_placeable", "Peers fit for new shards.")
	descPeersOnline    = desc("ishtar_peers_online", "Verified peers that answered their last contact.")
	descPeerRecRefused = desc("ishtar_peer_records_refused_total", "Peer records refused by the registry, by reason.", "reason")

	descObjects       = desc("ishtar_gateway_objects", "Objects in the owner's catalog.")
	descLogicalBytes  = desc("ishtar_gateway_logical_bytes", "Size of the owner's objects as clients see it.")
	descStoredBytes   = desc("ishtar_gateway_stored_bytes", "Bytes of the owner's shards on the network (after erasure expansion).")
	descInlineBytes   = desc("ishtar_gateway_inline_bytes", "Bytes of small objects kept in the catalog.")
	descQuota         = desc("ishtar_gateway_quota_bytes", "The owner's quota (what the node offers).")
	descObjectBytes   = desc("ishtar_gateway_object_bytes_total", "Object bytes stored (in) and served (out) by the gateway.", "direction")
	descShardOps      = desc("ishtar_gateway_shards_total", "Shard requests to peers that succeeded, by operation.", "op")
	descHedges        = desc("ishtar_gateway_hedged_reads_total", "Reads that went to parity for a late data shard.")
	descRebuilds      = desc("ishtar_gateway_reconstructions_total", "Segment ranges rebuilt by Reed-Solomon on read.")
	descPendingRel    = desc("ishtar_gateway_pending_releases", "Shards waiting for an owner-signed delete.")
	descSegments      = desc("ishtar_segments", "The owner's segments by their healthy shards.", "healthy")
	descNeedRepair    = desc("ishtar_segments_need_repair", "Segments at or under the repair threshold.")
	descWaiting       = desc("ishtar_segments_waiting", "Segments with fewer than k shards readable now.")
	descLostShards    = desc("ishtar_shards_lost", "Shards lost, awaiting repair.")
	descAudits        = desc("ishtar_audits_total", "Audits of the owner's shards since start, by result.", "result")
	descRepairs       = desc("ishtar_repairs_total", "Segments repaired since start.")
	descRepairShards  = desc("ishtar_repaired_shards_total", "Shards rebuilt and placed since start.")
	descRepairBytes   = desc("ishtar_repaired_bytes_total", "Bytes of the shards rebuilt since start.")
	descRepairFails   = desc("ishtar_repair_failures_total", "Repairs that failed since start.")
	descLeases        = desc("ishtar_leases_renewed_total", "Shard leases renewed since start.")
	descBackupLag     = desc("ishtar_backup_lag_seconds", "Age of the oldest catalog change not backed up (0: up to date).")
	descBackupPending = desc("ishtar_backup_pending_changes", "Catalog changes not backed up yet.")
	descBackupRoot    = desc("ishtar_backup_root_seq", "Sequence number of the last root record posted.")
	descBackupHolders = desc("ishtar_backup_root_holders", "Peers that took the last root record.")
	descBackupFails   = desc("ishtar_backup_failures_total", "Backup steps that failed since start.")
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descNodeCapacity, descNodeUsed, descNodeFree, descNodeShards, descNodeHeld,
		descNodeOwners, descNodeRefused, descPeersKnown, descPeersVerified, descPeersPlaceable, descPeersOnline,
		descPeerRecRefused, descObjects, descLogicalBytes, descStoredBytes, descInlineBytes, descQuota, descObjectBytes,
		descShardOps, descHedges, descRebuilds, descPendingRel, descSegments, descNeedRepair, descWaiting, descLostShards,
		descAudits, descRepairs, descRepairShards, descRepairBytes, descRepairFails, descLeases, descBackupLag,
		descBackupPending, descBackupRoot, descBackupHolders, descBackupFails} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	d := c.d
	if u, err := d.node.Usage(); err != nil {
		ch <- prometheus.NewInvalidMetric(descNodeUsed, err)
	} else {
		gauge(descNodeCapacity, float64(u.Capacity))
		gauge(descNodeUsed, float64(u.Used))
		gauge(descNodeFree, float64(u.Free))
		gauge(descNodeShards, float64(u.Shards))
		gauge(descNodeHeld, float64(u.Bytes))
		gauge(descNodeOwners, float64(u.Owners))
	}
	for code, n := range d.node.Refusals() {
		counter(descNodeRefused, float64(n), code)
	}
	rs := d.reg.Stats()
	gauge(descPeersKnown, float64(rs.New+rs.Tried))
	gauge(descPeersVerified, float64(rs.Tried))
	gauge(descPeersPlaceable, float64(rs.Placeable))
	gauge(descPeersOnline, float64(onlinePeers(d.reg.Peers())))
	for reason, n := range rs.Refused {
		counter(descPeerRecRefused, float64(n), reason)
	}
	if d.gw == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	gs, err := d.gw.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descObjects, err)
	} else {
		gauge(descObjects, float64(gs.Objects))
		gauge(descLogicalBytes, float64(gs.LogicalBytes))
		gauge(descStoredBytes, float64(gs.StoredBytes))
		gauge(descInlineBytes, float64(gs.InlineBytes))
		gauge(descQuota, float64(gs.Capacity))
		counter(descObjectBytes, float64(gs.BytesIn), "in")
		counter(descObjectBytes, float64(gs.BytesOut), "out")
		counter(descShardOps, float64(gs.ShardsStored), "store")
		counter(descShardOps, float64(gs.ShardsRead), "read")
		counter(descShardOps, float64(gs.Released), "release")
		counter(descHedges, float64(gs.Hedges))
		counter(descRebuilds, float64(gs.Reconstructions))
		gauge(descPendingRel, float64(gs.PendingReleases))
	}
	sv, err := d.up.Survey(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descSegments, err)
	} else {
		for h := 0; h <= sv.N; h++ { // every count, zeros included: a chart's axis
			gauge(descSegments, float64(sv.Segments[h]), strconv.Itoa(h))
		}
		gauge(descNeedRepair, float64(sv.NeedRepair))
		gauge(descWaiting, float64(sv.Waiting))
		gauge(descLostShards, float64(sv.LostShards))
	}
	us := d.up.Stats()
	counter(descAudits, float64(us.AuditsPassed), "passed")
	counter(descAudits, float64(us.AuditsFailed), "failed")
	counter(descRepairs, float64(us.Repairs))
	counter(descRepairShards, float64(us.ShardsRepaired))
	counter(descRepairBytes, float64(us.BytesRepaired))
	counter(descRepairFails, float64(us.RepairFailures))
	counter(descLeases, float64(us.LeasesRenewed))
	if d.bk == nil {
		return
	}
	bs, err := d.bk.Status()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descBackupLag, err)
		return
	}
	gauge(descBackupLag, bs.Lag.Seconds())
	gauge(descBackupPending, float64(bs.Pending))
	gauge(descBackupRoot, float64(bs.RootSeq))
	gauge(descBackupHolders, float64(bs.RootHolders))
	counter(descBackupFails, float64(bs.Failures))
}
