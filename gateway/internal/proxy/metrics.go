package proxy

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// RecordHTTP counts a finished request. respHeader is the response's
// header, whose fields (and trailers) carry the gRPC status of a gRPC
// request.
func RecordHTTP(m *metrics.Metrics, e *accesslog.Entry, r *downstream.Request, respHeader http.Header) {
	if r.ProtoMajor == 2 && isGRPC(r) { // gRPC needs HTTP/2: HTTP/1 requests skip the header lookup
		m.RecordGRPC(e, respHeader)
		return
	}
	m.RecordHTTP(e)
}

// serviceOf is the destination service host of c, "" for none.
func serviceOf(c *upstream.Cluster) string {
	if c == nil {
		return ""
	}
	return c.Host
}
