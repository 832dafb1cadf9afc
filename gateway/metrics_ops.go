package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serve adds the metrics endpoints to the admin mux: /stats/prometheus,
// where Istio's tooling scrapes Envoy, and the conventional /metrics.
func (m *metrics) serve(mux *http.ServeMux) {
	// One failing collector must not take every other metric down.
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.Handle("GET /stats/prometheus", h)
	mux.Handle("GET /metrics", h)
}

var (
	descGeneration = prometheus.NewDesc("gatehouse_config_generation",
		"Generation of the configuration being served (1 at start, +1 per reload that changed it).", nil, nil)
	descReloadOK = prometheus.NewDesc("gatehouse_config_last_reload_successful",
		"Whether the latest reload attempt succeeded (1) or was rejected (0).", nil, nil)
	descDropped = prometheus.NewDesc("gatehouse_access_log_dropped_lines",
		"Lines the current access log has dropped (queue full, write errors) since it was opened.", nil, nil)
	descActive = prometheus.NewDesc("gatehouse_upstream_active_requests",
		"HTTP requests in flight to each upstream cluster.", []string{"cluster"}, nil)
)

// opsCollector reads gatehouse's own state at scrape time, so that the
// request path pays nothing for these metrics.
type opsCollector struct{ s *Server }

func (opsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descGeneration
	ch <- descReloadOK
	ch <- descDropped
	ch <- descActive
}

func (c opsCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.s.snap.Load()
	if snap == nil {
		return
	}
	ok := 0.0
	if c.s.status.info().OK {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(snap.Gen))
	ch <- prometheus.MustNewConstMetric(descReloadOK, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.GaugeValue, float64(snap.alog.Dropped()))
	// Cluster names are unique in a snapshot, but sum to be sure: a
	// duplicate series would fail the scrape.
	active := make(map[string]int64, len(snap.clusters))
	for _, cl := range snap.clusters {
		if cl != nil {
			active[cl.name] += cl.active.Load()
		}
	}
	for name, n := range active {
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(n), name)
	}
}
