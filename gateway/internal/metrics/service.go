package metrics

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// destService holds the label values of one destination service and the
// children already made for it. Lists are copied on write, so readers
// take no lock; they stay short (one entry per distinct outcome).
type destService struct {
	host, name, namespace string
	mu                    sync.Mutex // serialises writers
	http                  atomic.Pointer[[]*httpSeries]
	tcp                   atomic.Pointer[[]*TCPSeries]
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
func (m *Metrics) dest(host string) *destService {
	if host == "" {
		return m.unknown
	}
	if v, ok := m.services.Load(host); ok {
		return v.(*destService)
	}
	v, _ := m.services.LoadOrStore(host, newDestService(host))
	return v.(*destService)
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

func (sv *destService) httpSeries(m *Metrics, k httpKey) *httpSeries {
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

// TCPSeries are the children of the TCP metrics for one label set: the
// series a forwarded connection is counted in (see Metrics.TCPOpen).
type TCPSeries struct {
	flags                          string
	opened, closed, sent, received prometheus.Counter
}

func (sv *destService) tcpSeries(m *Metrics, flags string) *TCPSeries {
	if l := sv.tcp.Load(); l != nil {
		for _, ts := range *l {
			if ts.flags == flags {
				return ts
			}
		}
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var cur []*TCPSeries
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
	ts := &TCPSeries{flags: flags, opened: m.tcpOpened.WithLabelValues(lv...), closed: m.tcpClosed.WithLabelValues(lv...),
		sent: m.tcpSent.WithLabelValues(lv...), received: m.tcpReceived.WithLabelValues(lv...)}
	next := append(cur[:len(cur):len(cur)], ts)
	sv.tcp.Store(&next)
	return ts
}
