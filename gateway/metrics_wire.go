package gateway

import (
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/metrics"
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
