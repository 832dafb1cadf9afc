package metrics

import (
	"net/http"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
)

// RecordHTTP counts a finished request that is not gRPC.
func (m *Metrics) RecordHTTP(e *accesslog.Entry) {
	if m != nil {
		m.record(e, httpKey{code: e.Code, flags: e.Flags})
	}
}

// RecordGRPC counts a finished gRPC request; h is the header of its
// response, whose trailers (or, for a trailers-only response, the header
// itself) carry the gRPC status.
func (m *Metrics) RecordGRPC(e *accesslog.Entry, h http.Header) {
	if m != nil {
		m.record(e, httpKey{code: e.Code, flags: e.Flags, grpc: true, grpcStatus: grpcStatusOf(e, h)})
	}
}

func (m *Metrics) record(e *accesslog.Entry, k httpKey) {
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

// TCPOpen counts a TCP connection forwarded to the service host ("" for
// none); Closed on the result counts its end.
func (m *Metrics) TCPOpen(service string) *TCPSeries {
	if m == nil {
		return nil
	}
	ts := m.dest(service).tcpSeries(m, "")
	ts.opened.Inc()
	return ts
}

// Closed counts the end of a forwarded connection and the bytes it
// received from and sent to the downstream. It is nil-safe.
func (ts *TCPSeries) Closed(received, sent int64) {
	if ts == nil {
		return
	}
	ts.received.Add(float64(received))
	ts.sent.Add(float64(sent))
	ts.closed.Inc()
}

// TCPFailed counts a TCP connection that could not be forwarded to the
// service host (flags "UH", "UF"), opened and closed at once as Istio
// reports it.
func (m *Metrics) TCPFailed(service, flags string) {
	if m == nil {
		return
	}
	ts := m.dest(service).tcpSeries(m, flags)
	ts.opened.Inc()
	ts.closed.Inc()
}
