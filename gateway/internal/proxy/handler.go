package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// httpHandler serves the HTTP requests of one listener, whichever engine
// parsed them.
type httpHandler struct {
	s   *Pipeline
	key listener.Key
}

// request is what the gateway works out about a request once, before
// routing, and carries through serving it.
type request struct {
	snap *Generation
	lc   *listener.Config
	// conn is what the gateway knows of the request's connection.
	conn *listener.ConnInfo
	// view is what the decision reads (admit fills it).
	view
	// upgrade is "websocket" when the client asks for one, else "".
	upgrade string
	// origin is the CORS Origin header.
	origin string
	// decision is the security engine's, once decide authorized the
	// request.
	decision authz.Decision
}

// ServeDownstream serves one request in an Istio gateway's order: it
// reads the snapshot once, then admits, decides and plans it (see
// decide.go) as explain does, and answers as the decision says.
func (h *httpHandler) ServeDownstream(w downstream.ResponseWriter, r *downstream.Request) {
	rq := request{snap: h.s.Current(), conn: listener.ConnInfoOf(r.Context())}
	if r.TLS == nil {
		// An HTTPS connection served behind the request validator: the
		// engine cannot see its *tls.Conn, so the state comes from the
		// connection.
		r.TLS = rq.conn.TLS
	}
	// Every request is counted in the metrics; logged if the access log is on.
	lw := beginLog(w, r)
	defer finishLog(h.s.Metrics, rq.snap, lw, r, rq.conn)
	w = lw
	rq.lc = rq.snap.Listeners[h.key]
	if rq.lc == nil {
		notFound(w, r)
		return
	}
	if r.H2CUpgrade && rq.lc.H2C && r.TLS == nil {
		w.UpgradeH2C() // the connection's streams are the requests
		return
	}
	v := rq.admit(r, noTrace{})
	if v.kind == verdictAdmitted {
		v = rq.decide(r.Context(), noTrace{})
		r.RawQuery = rq.rawQuery // a verified token's parameter is not forwarded
	}
	if v.ar != nil {
		h.s.logDecision(&rq.decision, v.ar)
	}
	h.s.answer(w, r, &rq, &v)
}

// answer carries out a verdict: a local reply, or the route.
func (s *Pipeline) answer(w downstream.ResponseWriter, r *downstream.Request, rq *request, v *verdict) {
	switch v.kind {
	case verdictRefused, verdictMalformed:
		note(w, "DPE", "request_rejected")
		w.Header().Set("Connection", "close")
		localReply(w, r, v.status, v.msg)
	case verdictMisdirected:
		s.Metrics.Misdirected()
		note(w, "NR", "misdirected_request")
		localReply(w, r, http.StatusMisdirectedRequest, "")
	case verdictUnauthenticated:
		note(w, "", "jwt_authn_access_denied{"+strings.ReplaceAll(v.reject.Body, " ", "_")+"}")
		v.reject.Write(w)
	case verdictDenied:
		noteDenied(w, &rq.decision)
		rq.decision.Write(w)
	case verdictNotFound:
		notFound(w, r)
	case verdictHTTPSRedirect:
		note(w, "", "direct_response")
		httpsRedirect(w, r)
	default:
		if e := entryOf(w); e != nil {
			e.RouteName = v.rt.Name
		}
		s.serveRoute(w, r, rq, v.rt)
	}
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

// notFound answers a request no route takes: 404, as Envoy's NR.
func notFound(w downstream.ResponseWriter, r *downstream.Request) {
	note(w, "NR", "route_not_found")
	localReply(w, r, http.StatusNotFound, "")
}

func scheme(r *downstream.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// httpsRedirect answers a plaintext request on a server with httpsRedirect
// as Envoy does: 301 to the same Host and path over https.
func httpsRedirect(w downstream.ResponseWriter, r *downstream.Request) {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URI()
	}
	w.Header().Set("Location", "https://"+r.Host+uri)
	w.WriteHeader(http.StatusMovedPermanently)
}

// hostServer finds the terminating servers of a TLS listener that the
// connection's SNI and the request's host select (-1: none). ok is false
// when they differ in TLS settings (see request.table); owner is then the
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
