package gateway

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	dto "github.com/prometheus/client_model/go"
)

// benchEntry is a finished request to httpbin.default.
func benchEntry() (*metrics, *accesslog.Entry, *http.Request, http.ResponseWriter) {
	m := newMetrics(&Server{})
	e := &accesslog.Entry{Code: 200, BytesSent: 512, Duration: 3 * time.Millisecond,
		UpstreamCluster: "outbound|8000||httpbin.default.svc.cluster.local", DestinationService: "httpbin.default.svc.cluster.local"}
	return m, e, httptest.NewRequest("GET", "/status/200", nil), httptest.NewRecorder()
}

// Recording a request in steady state allocates nothing.
func TestMetricsRecordNoAllocs(t *testing.T) {
	m, e, r, w := benchEntry()
	m.recordHTTP(e, r, w)
	if n := testing.AllocsPerRun(1000, func() { m.recordHTTP(e, r, w) }); n != 0 {
		t.Errorf("recordHTTP: %v allocs/op, want 0", n)
	}
	c := &cluster{name: e.UpstreamCluster, host: e.DestinationService}
	ts := m.tcpOpen(c)
	ts.close(10, 20)
	if n := testing.AllocsPerRun(1000, func() { m.tcpOpen(c).close(10, 20) }); n != 0 {
		t.Errorf("tcpOpen+close: %v allocs/op, want 0", n)
	}
}

// gRPC requests are counted as request_protocol "grpc" with their
// status, from the trailers or a trailers-only response's header.
func TestMetricsGRPC(t *testing.T) {
	m, e, _, _ := benchEntry()
	for _, h := range []http.Header{{"Trailer:Grpc-Status": {"5"}}, {"Grpc-Status": {"14"}}} {
		r := httptest.NewRequest("POST", "/pkg.Svc/Get", nil)
		r.ProtoMajor, r.ProtoMinor = 2, 0
		r.Header.Set("Content-Type", "application/grpc+proto")
		w := httptest.NewRecorder()
		maps.Copy(w.Header(), h)
		m.recordHTTP(e, r, w)
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range mfs {
		fams[f.GetName()] = f
	}
	for _, status := range []string{"5", "14"} {
		if got := value(t, fams, "istio_requests_total", "request_protocol=grpc", "response_code=200",
			"grpc_response_status="+status); got != 1 {
			t.Errorf("grpc_response_status=%s: %v requests, want 1", status, got)
		}
	}
}

func BenchmarkMetricsRecord(b *testing.B) {
	m, e, r, w := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		m.recordHTTP(e, r, w)
	}
}

func BenchmarkMetricsRecordParallel(b *testing.B) {
	m, e, r, w := benchEntry()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.recordHTTP(e, r, w)
		}
	})
}

// BenchmarkMetricsRecordLabels is what recordHTTP saves: resolving the
// children by label values on every request.
func BenchmarkMetricsRecordLabels(b *testing.B) {
	m, e, _, _ := benchEntry()
	sv := m.dest(e.DestinationService)
	b.ReportAllocs()
	for b.Loop() {
		lv := []string{sv.host, sv.name, sv.namespace, "http", strconv.Itoa(e.Code), "", "-"}
		m.requests.WithLabelValues(lv...).Inc()
		m.duration.WithLabelValues(lv...).Observe(float64(e.Duration) / float64(time.Millisecond))
		m.reqBytes.WithLabelValues(lv...).Observe(float64(e.BytesReceived))
		m.respBytes.WithLabelValues(lv...).Observe(float64(e.BytesSent))
	}
}
