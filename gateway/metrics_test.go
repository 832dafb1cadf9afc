package gateway

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsConfig routes /ok to httpbin.default (a ServiceEntry), /dead to
// a port nobody listens on (1, tcpmux), and TCP port 9000 to echo.db, on a gateway
// with an HTTP, a GRPC (h2c upgrade) and a TCP port; every request and
// connection is logged to file.
func metricsConfig(t *testing.T, file string) map[string]string {
	ok := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	}))
	echo := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		io.Copy(c, c)
	})
	return map[string]string{
		"gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 81, name: grpc, protocol: GRPC}
    hosts: ["*"]
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
`,
		"se.yaml": serviceEntry("httpbin", "httpbin.default.svc.cluster.local", fmt.Sprint(ok)) + "---\n" +
			serviceEntry("dead", "dead.example.com", "1") + fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: db}
spec:
  hosts: [echo.db.svc.cluster.local]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {tcp: %d}}]
`, echo),
		"vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /ok}}]
    route: [{destination: {host: httpbin, port: {number: 8000}}}]
  - match: [{uri: {prefix: /dead}}]
    route: [{destination: {host: dead.example.com, port: {number: 8000}}}]
    retries: {attempts: 0}
  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: echo.db.svc.cluster.local, port: {number: 5432}}}]
`,
		"mesh.yaml": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: mesh, namespace: istio-system}
spec:
  meshConfig: {accessLogFile: ` + file + `}
`,
	}
}

// scrape fetches path from the admin handler and parses it.
func scrape(t *testing.T, g *gw, path string) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	g.srv.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s = %d\n%s", path, rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return fams
}

// series returns the metrics of family name whose labels include want
// ("k=v" pairs).
func series(fams map[string]*dto.MetricFamily, name string, want ...string) []*dto.Metric {
	var out []*dto.Metric
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// value is the counter, gauge or histogram count of the one series of
// name matching want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	s := series(fams, name, want...)
	if len(s) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(s))
	}
	switch m := s[0]; {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// Requests and forwarded connections are counted with Istio's metric
// names and labels, as an ingress gateway reports them.
func TestMetricsIstio(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, metricsConfig(t, file))
	if code, _, _ := g.get(80, "a.example.com", "/ok"); code != 200 {
		t.Fatalf("GET /ok = %d", code)
	}
	req, _ := http.NewRequest("POST", g.url(80)+"/ok", strings.NewReader("payload"))
	if code, _, _ := do(t, req); code != 200 {
		t.Fatalf("POST /ok = %d", code)
	}
	if code, _, _ := g.get(80, "a.example.com", "/nothing"); code != 404 {
		t.Fatalf("GET /nothing = %d", code)
	}
	if code, body, h := g.get(80, "a.example.com", "/dead"); code != 503 {
		t.Fatalf("GET /dead = %d %q %v", code, body, h)
	}
	h2cUpgrade(t, g.srv.Addr(81).String(), "/ok")
	tcpEcho(t, g.srv.Addr(9000).String(), "ping")
	// Seven lines (the h2c upgrade is the request that upgrades and stream
	// 1) mean every request and the connection have been recorded.
	deadline := time.Now().Add(5 * time.Second)
	for len(readLog(t, g, file)) < 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	fams := scrape(t, g, "/stats/prometheus")
	common := []string{"reporter=source", "source_workload=gatehouse", "source_workload_namespace=gatehouse",
		"destination_workload=unknown", "connection_security_policy=unknown"}
	httpbin := append(common, "destination_service=httpbin.default.svc.cluster.local", "destination_service_name=httpbin",
		"destination_service_namespace=default", "request_protocol=http", "response_code=200", "response_flags=-", "grpc_response_status=")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"istio_requests_total", httpbin, 3},
		{"istio_request_duration_milliseconds", httpbin, 3},
		{"istio_response_bytes", httpbin, 3},
		{"istio_requests_total", append(common, "destination_service=unknown", "destination_service_name=unknown",
			"destination_service_namespace=unknown", "response_code=404", "response_flags=NR"), 1},
		{"istio_requests_total", append(common, "destination_service=dead.example.com", "destination_service_name=dead.example.com",
			"destination_service_namespace=unknown", "response_code=503", "response_flags=UF"), 1},
		{"istio_requests_total", []string{"response_code=0"}, -1},
		{"istio_tcp_connections_opened_total", append(common, "destination_service=echo.db.svc.cluster.local",
			"destination_service_name=echo", "destination_service_namespace=db", "request_protocol=tcp", "response_flags=-"), 1},
		{"istio_tcp_connections_closed_total", []string{"destination_service=echo.db.svc.cluster.local"}, 1},
		{"istio_tcp_received_bytes_total", []string{"destination_service=echo.db.svc.cluster.local"}, 4},
		{"istio_tcp_sent_bytes_total", []string{"destination_service=echo.db.svc.cluster.local"}, 4},
		{"gatehouse_upstream_active_requests", []string{"cluster=outbound|8000||httpbin.default.svc.cluster.local"}, 0},
		{"gatehouse_config_generation", nil, 1},
		{"gatehouse_access_log_dropped_lines", nil, 0},
	} {
		if c.want < 0 {
			if s := series(fams, c.name, c.labels...); len(s) != 0 {
				t.Errorf("%s%v: %d series, want none", c.name, c.labels, len(s))
			}
			continue
		}
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	resp := series(fams, "istio_response_bytes", httpbin...)[0].Histogram
	reqb := series(fams, "istio_request_bytes", httpbin...)[0].Histogram
	if resp.GetSampleSum() != 15 || reqb.GetSampleSum() != 7 || len(resp.Bucket) != len(metrics.Buckets())+1 {
		t.Errorf("response bytes sum %v, request bytes sum %v, %d buckets; want 15, 7, %d (with +Inf)",
			resp.GetSampleSum(), reqb.GetSampleSum(), len(resp.Bucket), len(metrics.Buckets())+1)
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Error("no Go runtime or process metrics")
	}
	if same := scrape(t, g, "/metrics"); value(t, same, "istio_requests_total", httpbin...) != 3 {
		t.Error("/metrics does not serve the same metrics")
	}
}

// h2cUpgrade sends GET path with "Upgrade: h2c" and reads until the
// answer's body arrives on stream 1.
func h2cUpgrade(t *testing.T, addr, path string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"+
		"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "hello") {
		n, err := c.Read(buf)
		if got = append(got, buf[:n]...); err != nil {
			t.Fatalf("h2c upgrade: %v after %q", err, got)
		}
	}
}

// tcpEcho sends msg through a TCP port to the echo upstream and reads it back.
func tcpEcho(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || string(b) != msg {
		t.Fatalf("TCP echo: %q, %v", b, err)
	}
}

// Reloads are counted by result, and the generation follows them.
func TestMetricsReload(t *testing.T) {
	t.Parallel()
	g := startGW(t, oneRoute(startUpstream(t, named("a")), ""))
	g.write("se.yaml", serviceEntry("extra", "extra.example.com", "1"))
	g.waitGen(2)
	g.write("bad.yaml", "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: bad}\nspec: {serverz: []}\n")
	for ev := g.waitReload(); ev.err == nil; ev = g.waitReload() {
		if ev.gen > 2 {
			t.Fatal("a broken file reloaded")
		}
	}
	fams := scrape(t, g, "/metrics")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gatehouse_config_reloads_total", []string{"result=success"}, 1},
		{"gatehouse_config_generation", nil, 2},
		{"gatehouse_config_last_reload_successful", nil, 0},
	} {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Every attempt at the broken file counts (the watcher may make more than one).
	if got := value(t, fams, "gatehouse_config_reloads_total", "result=failure"); got < 1 {
		t.Errorf("gatehouse_config_reloads_total{result=failure} = %v, want >= 1", got)
	}
}
