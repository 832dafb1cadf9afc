package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	dto "github.com/prometheus/client_model/go"
)

// benchEntry is a finished request to httpbin.default.
func benchEntry() (*Metrics, *accesslog.Entry) {
	m := New(nil)
	e := &accesslog.Entry{Code: 200, BytesSent: 512, Duration: 3 * time.Millisecond,
		UpstreamCluster: "outbound|8000||httpbin.default.svc.cluster.local", DestinationService: "httpbin.default.svc.cluster.local"}
	return m, e
}

// Recording a request in steady state allocates nothing.
func TestMetricsRecordNoAllocs(t *testing.T) {
	m, e := benchEntry()
	m.RecordHTTP(e)
	if n := testing.AllocsPerRun(1000, func() { m.RecordHTTP(e) }); n != 0 {
		t.Errorf("RecordHTTP: %v allocs/op, want 0", n)
	}
	h := http.Header{"Trailer:Grpc-Status": {"5"}}
	m.RecordGRPC(e, h)
	if n := testing.AllocsPerRun(1000, func() { m.RecordGRPC(e, h) }); n != 0 {
		t.Errorf("RecordGRPC: %v allocs/op, want 0", n)
	}
	ts := m.TCPOpen(e.DestinationService)
	ts.Closed(10, 20)
	if n := testing.AllocsPerRun(1000, func() { m.TCPOpen(e.DestinationService).Closed(10, 20) }); n != 0 {
		t.Errorf("TCPOpen+Closed: %v allocs/op, want 0", n)
	}
}

// gRPC requests are counted as request_protocol "grpc" with their
// status, from the trailers or a trailers-only response's header, or
// from the entry when the proxy recorded it.
func TestMetricsRecordGRPC(t *testing.T) {
	m, e := benchEntry()
	for _, h := range []http.Header{{"Trailer:Grpc-Status": {"5"}}, {"Grpc-Status": {"14"}}, {}} {
		m.RecordGRPC(e, h)
	}
	e.GRPCStatus = "7"
	m.RecordGRPC(e, http.Header{"Grpc-Status": {"14"}})
	fams := gather(t, m)
	for status, want := range map[string]float64{"5": 1, "14": 1, "": 1, "7": 1} {
		if got := value(t, fams, "istio_requests_total", "request_protocol=grpc", "response_code=200",
			"grpc_response_status="+status); got != want {
			t.Errorf("grpc_response_status=%s: %v requests, want %v", status, got, want)
		}
	}
}

// gather returns m's metric families by name.
func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range mfs {
		fams[f.GetName()] = f
	}
	return fams
}

// value is the counter, gauge or histogram count of the one series of
// family name whose labels include want ("k=v" pairs).
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	var found []*dto.Metric
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		found = append(found, m)
	}
	if len(found) != 1 {
		t.Fatalf("%s%v: %d series, want 1", name, want, len(found))
	}
	switch m := found[0]; {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func BenchmarkMetricsRecord(b *testing.B) {
	m, e := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		m.RecordHTTP(e)
	}
}

func BenchmarkMetricsRecordParallel(b *testing.B) {
	m, e := benchEntry()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RecordHTTP(e)
		}
	})
}

// BenchmarkMetricsRecordLabels is what RecordHTTP saves: resolving the
// children by label values on every request.
func BenchmarkMetricsRecordLabels(b *testing.B) {
	m, e := benchEntry()
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
