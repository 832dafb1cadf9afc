package metrics

import "github.com/prometheus/client_golang/prometheus"

// edgeMetrics count what the gateway refuses before a request reaches a
// route: requests for a host of another TLS server (421), requests its
// HTTP/1.1 parser refuses, and connections refused at the PROXY protocol
// header. Their label values are constant strings, so the set of series
// is bounded whatever clients send.
type edgeMetrics struct {
	misdirected prometheus.Counter
	refused     *prometheus.CounterVec // by status and reason
	proxy       *prometheus.CounterVec // by reason
	conns       *prometheus.CounterVec // connections refused, by reason
	fdExhausted prometheus.Counter
	h2Closed    *prometheus.CounterVec // by reason
}

func newEdgeMetrics(reg *prometheus.Registry) edgeMetrics {
	m := edgeMetrics{
		misdirected: prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_misdirected_requests_total",
			Help: "Requests answered 421 because their Host belongs to a TLS server other than the one their connection negotiated."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_downstream_requests_refused_total",
			Help: "HTTP/1.1 requests refused by the request parser before routing (malformed, smuggling, oversized), by status and reason."},
			[]string{"code", "reason"}),
		proxy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_proxy_protocol_refused_total",
			Help: "Connections closed at the PROXY protocol header, by reason."}, []string{"reason"}),
	}
	m.conns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_downstream_connections_refused_total",
		Help: "Downstream connections closed as soon as they were accepted, by reason (max_connections: the listener's cap)."},
		[]string{"reason"})
	m.fdExhausted = prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_accept_fd_exhausted_total",
		Help: "Accepts that failed for want of file descriptors; each closes the longest idle keep-alive connections."})
	m.h2Closed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_http2_connections_closed_total",
		Help: "HTTP/2 connections closed for abuse, by reason (premature_resets: rapid reset)."}, []string{"reason"})
	reg.MustRegister(m.misdirected, m.refused, m.proxy, m.conns, m.fdExhausted, m.h2Closed)
	return m
}

// Misdirected counts a 421.
func (m *Metrics) Misdirected() {
	if m != nil {
		m.edge.misdirected.Inc()
	}
}

// RefusedRequest counts a request the parser refused.
func (m *Metrics) RefusedRequest(code, reason string) {
	if m != nil {
		m.edge.refused.WithLabelValues(code, reason).Inc()
	}
}

// ProxyRefused counts a connection refused at its PROXY header.
func (m *Metrics) ProxyRefused(reason string) {
	if m != nil {
		m.edge.proxy.WithLabelValues(reason).Inc()
	}
}

// ConnRefused counts a connection closed as soon as it was accepted.
func (m *Metrics) ConnRefused(reason string) {
	if m != nil {
		m.edge.conns.WithLabelValues(reason).Inc()
	}
}

// FDExhausted counts an accept that ran out of file descriptors.
func (m *Metrics) FDExhausted() {
	if m != nil {
		m.edge.fdExhausted.Inc()
	}
}

// H2Closed counts an HTTP/2 connection closed for abuse.
func (m *Metrics) H2Closed(reason string) {
	if m != nil {
		m.edge.h2Closed.WithLabelValues(reason).Inc()
	}
}
