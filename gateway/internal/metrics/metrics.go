package metrics

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// The labels of Istio's standard metrics as an ingress gateway reports
// them (reporter "source"). The labels that cannot vary in gatehouse, the
// source workload and everything Istio learns from peer metadata, are
// constant; the destination service and the outcome vary.
var (
	istioConstLabels = prometheus.Labels{
		"reporter":                       "source",
		"source_workload":                "gatehouse",
		"source_canonical_service":       "gatehouse",
		"source_canonical_revision":      "latest",
		"source_workload_namespace":      "gatehouse",
		"source_principal":               "unknown",
		"source_app":                     "gatehouse",
		"source_version":                 "unknown",
		"source_cluster":                 "unknown",
		"destination_workload":           "unknown",
		"destination_workload_namespace": "unknown",
		"destination_principal":          "unknown",
		"destination_app":                "unknown",
		"destination_version":            "unknown",
		"destination_canonical_service":  "unknown",
		"destination_canonical_revision": "latest",
		"destination_cluster":            "unknown",
		// A source reporter cannot tell the destination's policy.
		"connection_security_policy": "unknown",
	}
	istioServiceLabels = []string{"destination_service", "destination_service_name", "destination_service_namespace"}
	istioHTTPLabels    = append(istioServiceLabels[:3:3], "request_protocol", "response_code", "grpc_response_status", "response_flags")
	istioTCPLabels     = append(istioServiceLabels[:3:3], "request_protocol", "response_flags")
	// istioBuckets are Envoy's default histogram buckets, which Istio uses
	// for durations (milliseconds) and sizes (bytes) alike.
	istioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
		30000, 60000, 300000, 600000, 1800000, 3600000}
)

// Metrics are the Prometheus metrics of one gateway, on a registry of its
// own. The request path finds the children of its label values through a
// lock-free cache (see destService): in steady state it hashes only the
// service host, never the label set, and allocates nothing. Methods are
// safe for concurrent use and nil-safe.
type Metrics struct {
	reg                                        *prometheus.Registry
	requests                                   *prometheus.CounterVec
	duration, reqBytes, respBytes              *prometheus.HistogramVec
	tcpOpened, tcpClosed, tcpSent, tcpReceived *prometheus.CounterVec
	reloads                                    [2]prometheus.Counter // failure, success
	services                                   sync.Map              // service host → *destService
	unknown                                    *destService          // for requests that reached no cluster
	edge                                       edgeMetrics
	security                                   securityMetrics
}

// New returns the metrics of a gateway whose own state (generation,
// reloads, access log, requests in flight) state reports at scrape time;
// state may be nil.
func New(state func() (State, bool)) *Metrics {
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: istioConstLabels}, labels)
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: istioConstLabels,
			Buckets: istioBuckets}, istioHTTPLabels)
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		requests:  counter("istio_requests_total", "Requests handled, by destination service and outcome.", istioHTTPLabels),
		duration:  histogram("istio_request_duration_milliseconds", "Duration of requests, in milliseconds."),
		reqBytes:  histogram("istio_request_bytes", "Request body sizes, in bytes."),
		respBytes: histogram("istio_response_bytes", "Response body sizes, in bytes."),
		tcpOpened: counter("istio_tcp_connections_opened_total", "Forwarded TCP connections opened.", istioTCPLabels),
		tcpClosed: counter("istio_tcp_connections_closed_total", "Forwarded TCP connections closed.", istioTCPLabels),
		tcpSent: counter("istio_tcp_sent_bytes_total",
			"Bytes sent to the downstream of forwarded TCP connections, counted when they close.", istioTCPLabels),
		tcpReceived: counter("istio_tcp_received_bytes_total",
			"Bytes received from the downstream of forwarded TCP connections, counted when they close.", istioTCPLabels),
		unknown: newDestService("unknown"),
	}
	m.edge = newEdgeMetrics(m.reg)
	m.security = newSecurityMetrics(m.reg)
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_config_reloads_total",
		Help: "Configuration reloads that changed something, by result."}, []string{"result"})
	m.reloads[0], m.reloads[1] = reloads.WithLabelValues("failure"), reloads.WithLabelValues("success")
	m.reg.MustRegister(m.requests, m.duration, m.reqBytes, m.respBytes, m.tcpOpened, m.tcpClosed, m.tcpSent, m.tcpReceived,
		reloads, stateCollector{state}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Reloaded counts a reload that changed the configuration, or failed.
func (m *Metrics) Reloaded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads[1].Inc()
	} else {
		m.reloads[0].Inc()
	}
}

// Buckets returns the upper bounds of the histograms' buckets: Envoy's
// defaults, which Istio uses for durations (milliseconds) and sizes
// (bytes) alike.
func Buckets() []float64 { return slices.Clone(istioBuckets) }
