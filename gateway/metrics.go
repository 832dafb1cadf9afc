package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
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

// metrics are the Prometheus metrics of one Server, on a registry of its
// own. The request path finds the children of its label values through a
// lock-free cache (see destService): in steady state it hashes only the
// service host, never the label set, and allocates nothing. Methods are
// safe for concurrent use and nil-safe.
type metrics struct {
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

func newMetrics(s *Server) *metrics {
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: istioConstLabels}, labels)
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: istioConstLabels,
			Buckets: istioBuckets}, istioHTTPLabels)
	}
	m := &metrics{
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
		reloads, opsCollector{s}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// reloaded counts a reload that changed the configuration, or failed.
func (m *metrics) reloaded(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads[1].Inc()
	} else {
		m.reloads[0].Inc()
	}
}

// destService holds the label values of one destination service and the
// children already made for it. Lists are copied on write, so readers
// take no lock; they stay short (one entry per distinct outcome).
type destService struct {
	host, name, namespace string
	mu                    sync.Mutex // serialises writers
	http                  atomic.Pointer[[]*httpSeries]
	tcp                   atomic.Pointer[[]*tcpSeries]
}

// newDestService derives Istio's destination_service_name and
// destination_service_namespace from a qualified host: the parts of a
// Kubernetes "name.namespace.svc.cluster.local"; else the host itself and
// "unknown", as for a ServiceEntry host seen from a gateway.
func newDestService(host string) *destService {
	sv := &destService{host: host, name: host, namespace: "unknown"}
	if short, ok := strings.CutSuffix(host, ".svc.cluster.local"); ok {
		if name, ns, ok := strings.Cut(short, "."); ok && name != "" && ns != "" && !strings.Contains(ns, ".") {
			sv.name, sv.namespace = name, ns
		}
	}
	return sv
}

// dest returns the destination service of requests sent to the service
// host ("": to no cluster).
func (m *metrics) dest(host string) *destService {
	if host == "" {
		return m.unknown
	}
	if v, ok := m.services.Load(host); ok {
		return v.(*destService)
	}
	v, _ := m.services.LoadOrStore(host, newDestService(host))
	return v.(*destService)
}

// serviceOf is the destination service host of c, "" for none.
func serviceOf(c *cluster) string {
	if c == nil {
		return ""
	}
	return c.host
}

// httpKey is what tells the HTTP series of one service apart.
type httpKey struct {
	code       int
	grpc       bool
	flags      string // "" for none
	grpcStatus string
}

// httpSeries are the children of the HTTP metrics for one label set.
type httpSeries struct {
	key                           httpKey
	requests                      prometheus.Counter
	duration, reqBytes, respBytes prometheus.Observer
}

func (sv *destService) httpSeries(m *metrics, k httpKey) *httpSeries {
	if l := sv.http.Load(); l != nil {
		for _, hs := range *l {
			if hs.key == k {
				return hs
			}
		}
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var cur []*httpSeries
	if l := sv.http.Load(); l != nil {
		cur = *l
		for _, hs := range cur {
			if hs.key == k {
				return hs
			}
		}
	}
	proto, flags := "http", k.flags
	if k.grpc {
		proto = "grpc"
	}
	if flags == "" {
		flags = "-"
	}
	lv := []string{sv.host, sv.name, sv.namespace, proto, strconv.Itoa(k.code), k.grpcStatus, flags}
	hs := &httpSeries{key: k, requests: m.requests.WithLabelValues(lv...), duration: m.duration.WithLabelValues(lv...),
		reqBytes: m.reqBytes.WithLabelValues(lv...), respBytes: m.respBytes.WithLabelValues(lv...)}
	next := append(cur[:len(cur):len(cur)], hs)
	sv.http.Store(&next)
	return hs
}

// recordHTTP counts a finished request. w is the client's writer, whose
// header (and trailers) carry the gRPC status of a gRPC request.
func (m *metrics) recordHTTP(e *accesslog.Entry, r *http.Request, w http.ResponseWriter) {
	if m == nil {
		return
	}
	k := httpKey{code: e.Code, flags: e.Flags}
	if r.ProtoMajor == 2 && isGRPC(r) { // gRPC needs HTTP/2: HTTP/1 requests skip the header lookup
		k.grpc, k.grpcStatus = true, grpcStatusOf(e, w.Header())
	}
	hs := m.dest(e.DestinationService).httpSeries(m, k)
	hs.requests.Inc()
	hs.duration.Observe(float64(e.Duration) / float64(time.Millisecond))
	hs.reqBytes.Observe(float64(e.BytesReceived))
	hs.respBytes.Observe(float64(e.BytesSent))
}

// grpcStatusOf is the grpc-status of a response: the trailer, or the
// header of a trailers-only response; "" when absent.
func grpcStatusOf(e *accesslog.Entry, h http.Header) string {
	if e.GRPCStatus != "" {
		return e.GRPCStatus
	}
	if v := h[http.TrailerPrefix+"Grpc-Status"]; len(v) > 0 {
		return v[0]
	}
	return h.Get("Grpc-Status")
}

// tcpSeries are the children of the TCP metrics for one label set.
type tcpSeries struct {
	flags                          string
	opened, closed, sent, received prometheus.Counter
}

func (sv *destService) tcpSeries(m *metrics, flags string) *tcpSeries {
	if l := sv.tcp.Load(); l != nil {
		for _, ts := range *l {
			if ts.flags == flags {
				return ts
			}
		}
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var cur []*tcpSeries
	if l := sv.tcp.Load(); l != nil {
		cur = *l
		for _, ts := range cur {
			if ts.flags == flags {
				return ts
			}
		}
	}
	f := flags
	if f == "" {
		f = "-"
	}
	lv := []string{sv.host, sv.name, sv.namespace, "tcp", f}
	ts := &tcpSeries{flags: flags, opened: m.tcpOpened.WithLabelValues(lv...), closed: m.tcpClosed.WithLabelValues(lv...),
		sent: m.tcpSent.WithLabelValues(lv...), received: m.tcpReceived.WithLabelValues(lv...)}
	next := append(cur[:len(cur):len(cur)], ts)
	sv.tcp.Store(&next)
	return ts
}

// tcpOpen counts a TCP connection forwarded to c; close counts its end.
func (m *metrics) tcpOpen(c *cluster) *tcpSeries {
	if m == nil {
		return nil
	}
	ts := m.dest(serviceOf(c)).tcpSeries(m, "")
	ts.opened.Inc()
	return ts
}

// close counts the end of a forwarded connection and the bytes it
// received from and sent to the downstream.
func (ts *tcpSeries) close(received, sent int64) {
	if ts == nil {
		return
	}
	ts.received.Add(float64(received))
	ts.sent.Add(float64(sent))
	ts.closed.Inc()
}

// tcpFailed counts a TCP connection that could not be forwarded to c
// (flags "UH", "UF"), opened and closed at once as Istio reports it.
func (m *metrics) tcpFailed(c *cluster, flags string) {
	if m == nil {
		return
	}
	ts := m.dest(serviceOf(c)).tcpSeries(m, flags)
	ts.opened.Inc()
	ts.closed.Inc()
}
