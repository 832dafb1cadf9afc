package gateway

import (
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// The metrics' wiring into the gateway: what it reports about itself at
// scrape time, and the values requests and connections are counted by.

// newMetrics returns the metrics of s, on a registry of their own.
func newMetrics(s *Server) *metrics.Metrics { return metrics.New(s.metricsState) }

// metricsState is the Server's own state at scrape time; false before a
// configuration is loaded.
func (s *Server) metricsState() (metrics.State, bool) {
	snap := s.snap.Load()
	if snap == nil {
		return metrics.State{}, false
	}
	st := metrics.State{Generation: snap.Gen, ReloadOK: s.status.info().OK, AccessLogDropped: snap.AccessLog.Dropped(),
		ActiveRequests: make(map[string]int64, len(snap.Clusters))}
	// Cluster names are unique in a snapshot, but sum to be sure: a
	// duplicate series would fail the scrape.
	for _, cl := range snap.Clusters {
		if cl != nil {
			st.ActiveRequests[cl.Name] += cl.Active()
		}
	}
	return st, true
}

// recordHTTP counts a finished request. w is the client's writer, whose
// header (and trailers) carry the gRPC status of a gRPC request.
func recordHTTP(m *metrics.Metrics, e *accesslog.Entry, r *http.Request, w http.ResponseWriter) {
	if r.ProtoMajor == 2 && isGRPC(r) { // gRPC needs HTTP/2: HTTP/1 requests skip the header lookup
		m.RecordGRPC(e, w.Header())
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
