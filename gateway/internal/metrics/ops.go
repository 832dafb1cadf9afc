package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Register adds the metrics endpoints to the admin mux: /stats/prometheus,
// where Istio's tooling scrapes Envoy, and the conventional /metrics.
func (m *Metrics) Register(mux *http.ServeMux) {
	// One failing collector must not take every other metric down.
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.Handle("GET /stats/prometheus", h)
	mux.Handle("GET /metrics", h)
}

// State is what the gateway reports about itself at scrape time, so that
// the request path pays nothing for these metrics.
type State struct {
	Generation       uint64           // of the configuration being served
	ReloadOK         bool             // the latest reload attempt succeeded
	AccessLogDropped uint64           // lines the current access log dropped
	ActiveRequests   map[string]int64 // HTTP requests in flight, by upstream cluster name
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

// stateCollector reads the gateway's State at scrape time; a nil state,
// or one that reports false (nothing loaded yet), gives no series.
type stateCollector struct{ state func() (State, bool) }

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descGeneration
	ch <- descReloadOK
	ch <- descDropped
	ch <- descActive
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.state == nil {
		return
	}
	st, ok := c.state()
	if !ok {
		return
	}
	reloadOK := 0.0
	if st.ReloadOK {
		reloadOK = 1
	}
	ch <- prometheus.MustNewConstMetric(descGeneration, prometheus.GaugeValue, float64(st.Generation))
	ch <- prometheus.MustNewConstMetric(descReloadOK, prometheus.GaugeValue, reloadOK)
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.GaugeValue, float64(st.AccessLogDropped))
	for name, n := range st.ActiveRequests {
		ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(n), name)
	}
}
