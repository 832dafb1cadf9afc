package gateway

import (
	"crypto/tls"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// httpHandler serves the HTTP requests of one listener.
type httpHandler struct {
	s   *Server
	key listener.Key
	h2c http.Handler // upgrades HTTP/1.1 connections to h2c
}

// request is what the gateway works out about a request once, before
// routing, and carries through serving it.
type request struct {
	snap *Snapshot
	lc   *listener.Config
	// path is the normalized path, without the query: what routes and
	// policies match and what the upstream receives.
	path string
	// policyPath is path with slashes merged and dot segments resolved,
	// when the normalization mode (BASE, NONE) left it different: an
	// upstream may well read it so, and policies must hold for both
	// forms (see authorize). "" when it is path itself.
	policyPath string
	// host is the Host (or :authority) in its one normal form: lower
	// case, no port, no trailing dot (router.NormalizeHost). Routing,
	// authorization, explain, the access log and the upstream all use it.
	host string
	// upgrade is "websocket" when the client asks for one, else "".
	upgrade string
	// origin is the CORS Origin header.
	origin string
	// client holds the peer, downstream and trusted client addresses.
	client clientAddrs
}

// ServeHTTP serves one request in an Istio gateway's order: it reads the
// snapshot once, refuses malformed requests, normalizes the path, works
// out the client address, authenticates, matches a route, authorizes
// (so a denied request gets 403 even where no route matches), and only
// then redirects, answers 404 or forwards.
func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := request{snap: h.s.snap.Load()}
	ci := listener.ConnInfoOf(r.Context())
	if r.TLS == nil {
		// An HTTPS connection served behind the request validator: net/http
		// cannot see its *tls.Conn, so the state comes from the connection.
		r.TLS = ci.TLS
	}
	// Every request is counted in the metrics; logged if the access log is on.
	lw := beginLog(w, r)
	defer finishLog(h.s.metrics, rq.snap, lw, r, ci)
	w = lw
	rq.lc = rq.snap.listeners[h.key]
	if rq.lc == nil {
		notFound(w, r)
		return
	}
	if isH2CUpgrade(r) && rq.lc.H2C && r.TLS == nil {
		lw.SetH2C() // metrics: the connection's streams are the requests
		h.h2c.ServeHTTP(w, r)
		return
	}
	if !rq.prologue(w, r) {
		return
	}
	table, ok := routesFor(rq.lc, r.TLS, rq.host)
	if !ok {
		h.s.metrics.Misdirected()
		note(w, "NR", "misdirected_request")
		localReply(w, r, http.StatusMisdirectedRequest, "")
		return
	}
	vh := table.VHost(rq.host)
	rt, ok := h.s.secureMatch(w, r, &rq, vh)
	switch {
	case !ok:
	case vh == nil:
		notFound(w, r)
	case vh.RequireTLS && !securelyReceived(r):
		note(w, "", "direct_response")
		httpsRedirect(w, r)
	case rt == nil:
		notFound(w, r)
	default:
		if e := entryOf(w); e != nil {
			e.RouteName = rt.Name
		}
		rq.origin = r.Header.Get("Origin")
		h.s.serveRoute(w, r, &rq, rt)
	}
}

// prologue refuses requests no route may see, removes the headers a
// client may not set, normalizes the path and sets the forwarding
// headers. It answers and returns false when the request is refused.
func (rq *request) prologue(w http.ResponseWriter, r *http.Request) bool {
	status, msg := checkRequest(r)
	if status == 0 {
		rq.upgrade, status = upgradeOf(r)
	}
	if status == 0 && headerFields(r) > rq.lc.Options.HeaderLimit() {
		status, msg = http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large"
	}
	if status == 0 && !checkUnderscores(r.Header, rq.lc.Options.Underscores) {
		status, msg = http.StatusBadRequest, "Bad Request"
	}
	if status == 0 {
		var err error
		rq.path, err = router.NormalizePath(rawPath(r), rq.lc.PathMode)
		if err != nil || (!rq.lc.Options.KeepParams && strings.IndexByte(rq.path, ';') >= 0) {
			status, msg = http.StatusBadRequest, "Bad Request"
		}
		rq.policyPath = policyPath(rq.path, rq.lc.PathMode)
	}
	if status != 0 {
		note(w, "DPE", "request_rejected")
		w.Header().Set("Connection", "close")
		localReply(w, r, status, msg)
		return false
	}
	rq.host, r.Host = normalizeAuthority(r.Host)
	sanitizeRequestHeaders(r.Header)
	sanitizeTrustHeaders(r.Header, rq.lc.TrustedHops)
	ci := listener.ConnInfoOf(r.Context())
	rq.client = resolveClient(ci, r, rq.lc.TrustedHops)
	setForwardingHeaders(r, &rq.client, ci, rq.lc.XFCC)
	return true
}

// secureMatch authenticates the request, matches its route (claims
// included) and authorizes it. It answers and returns false when
// authentication or authorization refuses the request.
func (s *Server) secureMatch(w http.ResponseWriter, r *http.Request, rq *request, vh *router.VHost) (*router.Route, bool) {
	e := rq.snap.authz
	var ar *authz.Request
	var id *authz.Identity
	if e != nil {
		ar = authzRequest(r, rq, listener.ConnInfoOf(r.Context()))
		if isCORSPreflight(r) {
			e.SanitizeHeaders(r.Header) // no token is checked, but no client may set the output headers
		} else {
			var rej *authz.Response
			if id, rej = e.Authenticate(r.Context(), ar); rej != nil {
				note(w, "", "jwt_authn_access_denied{"+strings.ReplaceAll(rej.Body, " ", "_")+"}")
				rej.Write(w)
				return nil, false
			}
			// A verified token's query parameter is not forwarded.
			r.URL.RawQuery = ar.RawQuery
		}
	}
	var rt *router.Route
	if vh != nil {
		rr := router.Request{Method: r.Method, Scheme: scheme(r), Authority: rq.host, Path: rq.path, RawQuery: r.URL.RawQuery, Header: r.Header, Claims: claimsOf(id)}
		rt = vh.Match(&rr)
	}
	if e == nil {
		return rt, true
	}
	if rt != nil {
		ar.Destination = destinationOf(rq.snap, rt.Forward)
	}
	d := authorize(e, ar, id, rq.policyPath)
	s.logDecision(&d, ar)
	if !d.Allowed {
		noteDenied(w, &d)
		d.Write(w)
		return nil, false
	}
	return rt, true
}

// policyPath returns the form of path an upstream that merges slashes and
// resolves dot segments sees, when the mode left path otherwise (BASE
// keeps "//", as Istio does; NONE keeps everything): "" when it is the
// same. A clean BASE path costs one scan for "//".
func policyPath(path string, mode router.PathMode) string {
	if mode != router.PathBase && mode != router.PathNone {
		return ""
	}
	if mode == router.PathBase && !strings.Contains(path, "//") {
		return ""
	}
	m, err := router.NormalizePath(path, router.PathMergeSlashes)
	if err != nil || m == path {
		return ""
	}
	return m
}

// authorize decides a request with its path as normalized and, where the
// normalization mode leaves room (policyPath), as an upstream that merges
// slashes would read it: allowed only if allowed both ways, so a DENY on
// /admin holds for //admin (security.md AZ-01) whatever the mode, while
// the path forwarded stays as Istio's mode makes it.
func authorize(e *authz.Engine, ar *authz.Request, id *authz.Identity, policyPath string) authz.Decision {
	d := e.Authorize(ar, id)
	if !d.Allowed || policyPath == "" {
		return d
	}
	alt := *ar
	alt.Path = policyPath
	if d2 := e.Authorize(&alt, id); !d2.Allowed {
		return d2
	}
	return d
}

// normalizeAuthority returns the normal form of a Host header or
// :authority (router.NormalizeHost: lower case, no port, no trailing dot),
// which every decision uses, and the authority the request carries on
// from here (upstream, redirects, mirrors, header formatters): the same
// host with the client's port, if it sent one, kept as Istio keeps it.
// It allocates only when the host part was not already in normal form.
func normalizeAuthority(raw string) (host, authority string) {
	host = router.NormalizeHost(raw)
	h, port := router.SplitAuthority(raw)
	switch {
	case h == host:
		return host, raw
	case port == "":
		return host, host
	}
	return host, host + ":" + port
}

// securelyReceived reports whether the client used TLS: to gatehouse, or
// to a trusted proxy in front of it (X-Forwarded-Proto, which
// setForwardingHeaders kept only behind trusted proxies), as Envoy's
// require_tls decides.
func securelyReceived(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// notFound answers a request no route takes: 404, as Envoy's NR.
func notFound(w http.ResponseWriter, r *http.Request) {
	note(w, "NR", "route_not_found")
	localReply(w, r, http.StatusNotFound, "")
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// httpsRedirect answers a plaintext request on a server with httpsRedirect
// as Envoy does: 301 to the same Host and path over https.
func httpsRedirect(w http.ResponseWriter, r *http.Request) {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	w.Header().Set("Location", "https://"+r.Host+uri)
	w.WriteHeader(http.StatusMovedPermanently)
}

// routesFor returns the route table for a request whose Host is host (in
// normal form), on a connection with TLS state cs. A plaintext port has
// one table. On a TLS port each terminating server has its own, and the
// request is served from the table of the server its connection's SNI
// negotiated, or, when the Host belongs to another server that applies
// exactly the same TLS settings (HTTP/2 coalescing under one
// certificate), from that server's. ok is false when the Host belongs to
// a server with other settings: serving it would let a client that
// handshook with a server asking no client certificate reach the hosts
// of one that requires it, so the request gets 421 Misdirected Request
// and is never routed. A Host no server owns is left to the SNI server's
// table (it finds no virtual host: 404).
func routesFor(lc *listener.Config, cs *tls.ConnectionState, host string) (t *router.Table, ok bool) {
	if lc == nil {
		return nil, true
	}
	if cs == nil || lc.TLS == nil {
		return lc.Routes, true
	}
	sni, owner, ok := hostServer(lc, cs.ServerName, host)
	if !ok {
		return nil, false
	}
	if owner < 0 {
		owner = sni
	}
	if owner < 0 || owner >= len(lc.Terminated) {
		return nil, true
	}
	return lc.Terminated[owner].Routes, true
}

// hostServer finds the terminating servers of a TLS listener that the
// connection's SNI and the request's host select (-1: none). ok is false
// when they differ in TLS settings (see routesFor); owner is then the
// Host's server, for explain. An empty Host selects nothing.
func hostServer(lc *listener.Config, sni, host string) (negotiated, owner int, ok bool) {
	negotiated, found := lc.TLS.Server(sni)
	if !found {
		negotiated = -1
	}
	owner, owned := -1, false
	if host != "" {
		owner, owned = lc.TLS.Server(host)
	}
	switch {
	case !owned:
		return negotiated, -1, true
	case owner == negotiated:
		return negotiated, owner, true
	case lc.TLS.SamePolicy(negotiated, owner) && owner < len(lc.Terminated) && lc.Terminated[owner].Routes != nil:
		return negotiated, owner, true
	}
	return negotiated, owner, false
}
