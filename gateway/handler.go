package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/router"
	"golang.org/x/net/http/httpguts"
)

// httpHandler serves the HTTP requests of one listener.
type httpHandler struct {
	s   *Server
	key listenerKey
	h2c http.Handler // upgrades HTTP/1.1 connections to h2c
}

// request is what the gateway works out about a request once, before
// routing, and carries through serving it.
type request struct {
	snap *Snapshot
	lc   *listenerConfig
	// path is the normalized path, without the query: what routes and
	// policies match and what the upstream receives.
	path string
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
	// Every request is counted in the metrics; logged if the access log is on.
	lw, cb := beginLog(w, r)
	defer finishLog(h.s.metrics, rq.snap.alog, lw, cb, r, connInfoOf(r.Context()))
	w = lw
	rq.lc = rq.snap.listeners[h.key]
	if rq.lc == nil {
		notFound(w, r)
		return
	}
	if isH2CUpgrade(r) && rq.lc.h2c && r.TLS == nil {
		lw.h2c = true // metrics: the connection's streams are the requests
		h.h2c.ServeHTTP(w, r)
		return
	}
	if !rq.prologue(w, r) {
		return
	}
	table := routesFor(rq.lc, r)
	vh := table.VHost(router.NormalizeHost(r.Host))
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
	if status == 0 {
		var err error
		rq.path, err = router.NormalizePath(rawPath(r), rq.lc.pathMode)
		if err != nil || (!rq.lc.keepParams && strings.IndexByte(rq.path, ';') >= 0) {
			status, msg = http.StatusBadRequest, "Bad Request"
		}
	}
	if status != 0 {
		note(w, "DPE", "request_rejected")
		w.Header().Set("Connection", "close")
		localReply(w, r, status, msg)
		return false
	}
	sanitizeRequestHeaders(r.Header)
	sanitizeTrustHeaders(r.Header, rq.lc.trustedHops)
	ci := connInfoOf(r.Context())
	rq.client = resolveClient(ci, r, rq.lc.trustedHops)
	setForwardingHeaders(r, &rq.client, ci, rq.lc.xfcc)
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
		ar = authzRequest(r, rq, connInfoOf(r.Context()))
		if isCORSPreflight(r) {
			e.SanitizeHeaders(r.Header) // no token is checked, but no client may set the output headers
		} else {
			var rej *authz.Response
			if id, rej = e.Authenticate(r.Context(), ar); rej != nil {
				note(w, "", "jwt_authn_access_denied{"+strings.ReplaceAll(rej.Body, " ", "_")+"}")
				rej.Write(w)
				return nil, false
			}
		}
	}
	var rt *router.Route
	if vh != nil {
		rr := router.Request{Method: r.Method, Scheme: scheme(r), Authority: r.Host, Path: rq.path, RawQuery: r.URL.RawQuery, Header: r.Header, Claims: claimsOf(id)}
		rt = vh.Match(&rr)
	}
	if e == nil {
		return rt, true
	}
	if rt != nil {
		ar.Destination = destinationOf(rq.snap, rt.Forward)
	}
	d := e.Authorize(ar, id)
	s.logDecision(&d, ar)
	if !d.Allowed {
		noteDenied(w, &d)
		d.Write(w)
		return nil, false
	}
	return rt, true
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

// upgradeOf reports the protocol switch a request asks for. As at an Istio
// gateway, only WebSocket is allowed: another Upgrade gets 403, and
// Upgrade: h2c (which a plaintext HTTP2 or GRPC port performs itself) is
// dropped. An upgrade request with a body is malformed.
func upgradeOf(r *http.Request) (string, int) {
	u := strings.TrimSpace(r.Header.Get("Upgrade"))
	if u == "" || isH2C(u) || !headerHasToken(r.Header["Connection"], "upgrade") {
		return "", 0
	}
	if !strings.EqualFold(u, "websocket") {
		return "", http.StatusForbidden
	}
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		return "", http.StatusBadRequest
	}
	return u, 0
}

// checkRequest refuses requests no route may see: methods that are not
// upper case (Istio rejects them), a Host or :authority with characters a
// host name cannot have (net/http checks HTTP/1 Host headers, not HTTP/2
// :authority), CONNECT (Envoy's default) and TRACE.
func checkRequest(r *http.Request) (int, string) {
	for i := 0; i < len(r.Method); i++ {
		if c := r.Method[i]; c < 'A' || c > 'Z' {
			return http.StatusBadRequest, "Bad Request"
		}
	}
	if !httpguts.ValidHostHeader(r.Host) {
		return http.StatusBadRequest, "Bad Request"
	}
	switch r.Method {
	case http.MethodConnect:
		return http.StatusForbidden, ""
	case http.MethodTrace:
		return http.StatusMethodNotAllowed, ""
	}
	return 0, ""
}

// rawPath returns the request path exactly as the client sent it, without
// the query, so normalization sees every escape and backslash.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
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

// isH2CUpgrade reports whether an HTTP/1.1 request asks to upgrade to h2c
// as RFC 7540 (and x/net's h2c) requires: Upgrade: h2c, Connection naming
// HTTP2-Settings, and an HTTP2-Settings header. A request with a body is
// not upgraded (its body would be buffered whole); it is served as
// HTTP/1.1 with the Upgrade header dropped.
func isH2CUpgrade(r *http.Request) bool {
	return r.ProtoMajor == 1 && isH2C(r.Header.Get("Upgrade")) && len(r.Header["Http2-Settings"]) == 1 &&
		headerHasToken(r.Header["Connection"], "HTTP2-Settings") && r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

func isH2C(u string) bool { return strings.EqualFold(strings.TrimSpace(u), "h2c") }

// routesFor returns the route table for a request: on a TLS port, the
// table of the server its connection's SNI selected (Istio gives each
// HTTPS server its own), else the port's table.
func routesFor(lc *listenerConfig, r *http.Request) *router.Table {
	switch {
	case lc == nil:
		return nil
	case r.TLS != nil && lc.tls != nil:
		if i, ok := lc.tls.Server(r.TLS.ServerName); ok && i < len(lc.terminated) {
			return lc.terminated[i].routes
		}
		return nil
	}
	return lc.routes
}

// headerHasToken reports whether a comma-separated header lists tok.
func headerHasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
