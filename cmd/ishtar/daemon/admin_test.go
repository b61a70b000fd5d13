package daemon

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ishtar/node"
	"ishtar/s3api"
)

// httpGet GETs url under the test's context.
func httpGet(t *testing.T, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// scrape fetches base/metrics and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := httpGet(t, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// value is the value of the sample of family name whose labels include
// labels (name=value pairs); -1 if there is none.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func withAdmin(c *Config) { c.Admin = "127.0.0.1:0" }

// The metrics follow what the daemons do: an upload shows in the owner's
// object, byte and segment counts and in the storage nodes' holdings and
// requests; S3 requests are counted by operation and status; audits
// passed by the owner are proofs served by the nodes. No label carries
// the object's key.
func TestMetricsFollowTheDaemon(t *testing.T) {
	storage, urls := startStorage(t, 3, withAdmin)
	gw := startOwner(t, urls, func(c *Config) {
		withAdmin(c)
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3
		c.Upkeep.Interval = time.Second
		c.Upkeep.AuditInterval = time.Second
	})
	base := gw.AdminURL()
	mf := scrape(t, base)
	for name, want := range map[string]float64{"ishtar_gateway_objects": 0, "ishtar_gateway_stored_bytes": 0,
		"ishtar_peers_verified": 3, "ishtar_peers_placeable": 3, "ishtar_node_capacity_bytes": float64(gw.cfg.Capacity)} {
		if got := value(mf, name); got != want {
			t.Errorf("before any upload: %s = %v, want %v", name, got, want)
		}
	}
	if mf["go_goroutines"] == nil || mf["process_cpu_seconds_total"] == nil {
		t.Errorf("no Go runtime or process metrics")
	}

	const key = "secret-name-of-an-object"
	data := make([]byte, 300<<10)
	_, _ = rand.Read(data)
	put(t, gw, key, data)
	mf = scrape(t, base)
	stored := value(mf, "ishtar_gateway_stored_bytes")
	if value(mf, "ishtar_gateway_objects") != 1 || value(mf, "ishtar_gateway_logical_bytes") != float64(len(data)) ||
		stored < float64(len(data))*3/2 || value(mf, `ishtar_segments`, "healthy", "3") != 1 ||
		value(mf, `ishtar_segments`, "healthy", "2") != 0 || value(mf, "ishtar_gateway_object_bytes_total", "direction", "in") != float64(len(data)) ||
		value(mf, "ishtar_gateway_shards_total", "op", "store") != 3 {
		t.Errorf("after one upload: objects %v, logical %v, stored %v, segments %v/%v, bytes in %v, shards stored %v",
			value(mf, "ishtar_gateway_objects"), value(mf, "ishtar_gateway_logical_bytes"), stored,
			value(mf, "ishtar_segments", "healthy", "3"), value(mf, "ishtar_segments", "healthy", "2"),
			value(mf, "ishtar_gateway_object_bytes_total", "direction", "in"), value(mf, "ishtar_gateway_shards_total", "op", "store"))
	}
	var held, in, posts float64
	for _, d := range storage {
		smf := scrape(t, d.AdminURL())
		held += value(smf, "ishtar_node_shards_held")
		in += value(smf, "ishtar_node_http_bytes_total", "direction", "in")
		posts += value(smf, "ishtar_node_requests_total", "route", "/v1/shards/{id}", "method", "POST", "code", "200")
		if smf["ishtar_s3_requests_total"] != nil || smf["ishtar_gateway_objects"] != nil {
			t.Errorf("a storage-only node exports gateway metrics")
		}
	}
	if held != 3 || posts != 3 || in < float64(len(data))*3/2 {
		t.Errorf("the storage nodes hold %v shards, answered %v stores, received %v bytes", held, posts, in)
	}

	// S3 requests, by operation and status: unsigned ones are refused.
	for _, req := range []struct{ method, path string }{{"GET", "/b/" + key}, {"PUT", "/b/" + key}, {"GET", "/b?list-type=2"}, {"GET", "/"}} {
		r, _ := http.NewRequestWithContext(t.Context(), req.method, gw.S3URL()+req.path, nil)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	mf = scrape(t, base)
	for _, op := range []string{"GetObject", "PutObject", "ListObjectsV2", "ListBuckets"} {
		if got := value(mf, "ishtar_s3_requests_total", "op", op, "code", "403"); got != 1 {
			t.Errorf("%s refused %v times, want 1", op, got)
		}
		if got := value(mf, "ishtar_s3_request_duration_seconds", "op", op); got != 1 {
			t.Errorf("%s latency observed %v times, want 1", op, got)
		}
	}

	// Audits run every second: the owner's passes are the nodes' proofs.
	deadline := time.Now().Add(time.Minute)
	for {
		mf = scrape(t, base)
		if value(mf, "ishtar_audits_total", "result", "passed") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit passed in a minute: %v", gw.Upkeep().Stats())
		}
		time.Sleep(100 * time.Millisecond) // polling the counters
	}
	passed := value(mf, "ishtar_audits_total", "result", "passed")
	var proofs float64
	for _, d := range storage {
		proofs += value(scrape(t, d.AdminURL()), "ishtar_node_proofs_served_total")
	}
	if proofs < passed || value(mf, "ishtar_audits_total", "result", "failed") != 0 {
		t.Errorf("%v audits passed, %v failed, %v proofs served", passed, value(mf, "ishtar_audits_total", "result", "failed"), proofs)
	}

	// The key appears in no label of any daemon.
	for _, d := range append(storage, gw) {
		for name, f := range scrape(t, d.AdminURL()) {
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					if strings.Contains(lp.GetValue(), "secret-name") {
						t.Errorf("%s has label %s=%q", name, lp.GetName(), lp.GetValue())
					}
				}
			}
		}
	}

	if err := gw.Gateway().DeleteObject(context.Background(), "b", key); err != nil {
		t.Fatal(err)
	}
	if mf = scrape(t, base); value(mf, "ishtar_gateway_objects") != 0 || value(mf, "ishtar_segments", "healthy", "3") != 0 {
		t.Errorf("after the delete: objects %v, segments %v", value(mf, "ishtar_gateway_objects"), value(mf, "ishtar_segments", "healthy", "3"))
	}
}

// getJSON GETs url into v and returns the status code.
func getJSON(t *testing.T, url string, header http.Header, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// The admin listener: health, readiness with its reasons, the status
// JSON (the operator query's answer), the page and its assets, a foreign
// Host refused, and the bearer token off loopback.
func TestAdminEndpoints(t *testing.T) {
	_, urls := startStorage(t, 2, nil)
	gw := startOwner(t, urls, func(c *Config) {
		withAdmin(c)
		c.Gateway.Params.K, c.Gateway.Params.N = 2, 3 // 2 peers: not enough for n
	})
	base := gw.AdminURL()
	var ok map[string]bool
	if code := getJSON(t, base+"/healthz", nil, &ok); code != 200 || !ok["ok"] {
		t.Errorf("healthz: %d %v", code, ok)
	}
	var rd Readiness
	if code := getJSON(t, base+"/readyz", nil, &rd); code != http.StatusServiceUnavailable || rd.Ready ||
		len(rd.Problems) != 1 || !strings.Contains(rd.Problems[0], "2 placeable peers, fewer than n=3") {
		t.Errorf("readyz with 2 peers for n=3: %d %+v", code, rd)
	}

	var st Status
	if code := getJSON(t, base+"/api/status", nil, &st); code != 200 {
		t.Fatalf("api/status: %d", code)
	}
	var op Status
	self := node.NewClient(gw.NodeURL(), gw.id.Node, nil)
	if err := self.Operator(context.Background(), OpStatus, nil, &op); err != nil {
		t.Fatal(err)
	}
	if st.Health.OK || op.Health.OK || st.Space != op.Space || st.Node != op.Node || st.Peers.Verified != 2 ||
		op.Peers.Placeable != 2 || len(st.Peers.List) != 2 || st.K != 2 || st.N != 3 {
		t.Errorf("api/status %+v\noperator query %+v", st, op)
	}
	if !strings.Contains(strings.Join(st.Health.Problems, "\n"), "fewer than n=3") {
		t.Errorf("problems %q", st.Health.Problems)
	}

	for path, want := range map[string]string{"/": "<script src=\"static/app.js\">", "/static/app.js": "segments-chart",
		"/static/app.css": ".badge"} {
		resp, err := httpGet(t, base+path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("GET %s: %s, %d bytes, CSP %q", path, resp.Status, len(b), resp.Header.Get("Content-Security-Policy"))
		}
	}
	// DNS rebinding: a name that resolves to loopback is still refused.
	for host, want := range map[string]int{"attacker.example": 403, "attacker.example:9001": 403, "localhost:9001": 200, "[::1]:1": 200} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/healthz", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %s, want %d", host, resp.Status, want)
		}
	}

	// Off loopback, status and metrics need the token of an S3 secret;
	// without S3 credentials, nothing opens them.
	none := httptest.NewServer(gw.adminHandler(false))
	defer none.Close()
	if code := getJSON(t, none.URL+"/metrics", http.Header{"Authorization": {"Bearer " + AdminToken("")}}, nil); code != 401 {
		t.Errorf("metrics off loopback without S3 credentials: %d", code)
	}
	const secret = "an S3 secret"
	gw.id.S3 = s3api.StaticCredentials{"AKID": secret}
	srv := httptest.NewServer(gw.adminHandler(false))
	defer srv.Close()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer " + AdminToken(secret+"x"), 401}, {"Bearer " + AdminToken(secret), 200}} {
		for _, path := range []string{"/api/status", "/metrics"} {
			if code := getJSON(t, srv.URL+path, http.Header{"Authorization": {tc.auth}}, nil); code != tc.want {
				t.Errorf("%s with %q: %d, want %d", path, tc.auth, code, tc.want)
			}
		}
	}
	if code := getJSON(t, srv.URL+"/healthz", nil, &ok); code != 200 {
		t.Errorf("healthz off loopback: %d", code)
	}
}
