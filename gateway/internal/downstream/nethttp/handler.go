package nethttp

import (
	"net"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
)

// handler adapts one listener's pipeline handler to net/http.
type handler struct {
	next downstream.Handler
	// h2c serves a request that upgrades its connection to h2c: it
	// switches the connection and serves it with this handler.
	h2c http.Handler
}

// NewHandler returns the net/http handler that serves each request
// through next.
func NewHandler(next downstream.Handler) http.Handler {
	h := &handler{next: next}
	h.h2c = listener.NewH2CHandler(h)
	return h
}

// exchange is one request's adapter state, recycled after the request.
type exchange struct {
	req downstream.Request
	rw  responseWriter
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// ServeHTTP fills the request view from r, then serves it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	defer func() {
		x.req.Reset()
		x.rw = responseWriter{}
		exchanges.Put(x)
	}()
	fill(&x.req, r)
	x.rw = responseWriter{w: w, rc: *http.NewResponseController(w), r: r, h: h}
	h.next.ServeDownstream(&x.rw, &x.req)
}

// fill copies what the pipeline reads of r into v; the header maps are
// shared, not copied.
func fill(v *downstream.Request, r *http.Request) {
	v.SetContext(r.Context())
	v.Method, v.Proto, v.ProtoMajor, v.ProtoMinor = r.Method, r.Proto, r.ProtoMajor, r.ProtoMinor
	v.Host, v.RequestURI = r.Host, r.RequestURI
	v.EscapedPath, v.RawQuery, v.ForceQuery = r.URL.EscapedPath(), r.URL.RawQuery, r.URL.ForceQuery
	if u := r.RequestURI; u != "" && u[0] != '/' && u != "*" {
		v.TargetScheme = r.URL.Scheme
	}
	v.Header, v.Trailer, v.ContentLength = r.Header, r.Trailer, r.ContentLength
	if r.Body != nil && r.Body != http.NoBody {
		v.Body = r.Body
	}
	v.RemoteAddr, v.TLS = r.RemoteAddr, r.TLS
	v.LocalAddr, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	v.H2CUpgrade = isH2CUpgrade(r)
}

// isH2CUpgrade reports whether an HTTP/1.1 request asks to upgrade to h2c
// as RFC 7540 (and x/net's h2c) requires: Upgrade: h2c, Connection naming
// HTTP2-Settings, and an HTTP2-Settings header. A request with a body is
// not upgraded (its body would be buffered whole); it is served as
// HTTP/1.1 with the Upgrade header dropped.
func isH2CUpgrade(r *http.Request) bool {
	return r.ProtoMajor == 1 && strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "h2c") &&
		len(r.Header["Http2-Settings"]) == 1 && httpguts.HeaderValuesContainsToken(r.Header["Connection"], "HTTP2-Settings") &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0
}
