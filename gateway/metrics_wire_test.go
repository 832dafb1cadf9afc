package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// gRPC requests are counted as request_protocol "grpc" with their
// status, from the trailers or a trailers-only response's header.
func TestMetricsGRPC(t *testing.T) {
	m := metrics.New(nil)
	e := &accesslog.Entry{Code: 200, BytesSent: 512, Duration: 3 * time.Millisecond,
		UpstreamCluster: "outbound|8000||httpbin.default.svc.cluster.local", DestinationService: "httpbin.default.svc.cluster.local"}
	for _, h := range []http.Header{{"Trailer:Grpc-Status": {"5"}}, {"Grpc-Status": {"14"}}} {
		r := &downstream.Request{Method: "POST", RequestURI: "/pkg.Svc/Get", ProtoMajor: 2, Header: http.Header{}}
		r.Header.Set("Content-Type", "application/grpc+proto")
		proxy.RecordHTTP(m, e, r, h)
	}
	mux := http.NewServeMux()
	m.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{"5", "14"} {
		if got := value(t, fams, "istio_requests_total", "request_protocol=grpc", "response_code=200",
			"grpc_response_status="+status); got != 1 {
			t.Errorf("grpc_response_status=%s: %v requests, want 1", status, got)
		}
	}
}
