package proxy

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/forwarded"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// How the gateway decides an HTTP request, in an Istio gateway's order:
//
//  1. admit refuses what no route may see, normalizes the path and the
//     host, works out the client address and sets the forwarding headers;
//     it is the HTTP engine's part, and fills the view.
//  2. decide picks the TLS server's routes, authenticates, matches a route
//     and authorizes (so a denied request gets 403 even where no route
//     matches), then settles 404 and the https redirect. It reads only the
//     view and the configuration.
//  3. plan says what the route does: fault abort, CORS preflight,
//     redirect, direct response, or forward to which cluster.
//
// Serving and explain run these same functions. Serving passes noTrace;
// explain passes a recorder that writes each step down, so that explain
// cannot say other than what serving does.

// view is what the decision reads of a request: the facts an HTTP engine
// hands over once admit has normalized them.
type view struct {
	method string
	scheme string
	// host is the Host (or :authority) in its one normal form: lower
	// case, no port, no trailing dot (router.NormalizeHost). Routing,
	// authorization, explain, the access log and the upstream all use it.
	host string
	// authority is host with the client's port, if it sent one: what the
	// request carries on (upstream, redirects).
	authority string
	// path is the normalized path, without the query: what routes and
	// policies match and what the upstream receives.
	path string
	// policyPath is path with slashes merged and dot segments resolved,
	// when the normalization mode (BASE, NONE) left it different: an
	// upstream may well read it so, and policies must hold for both
	// forms (see authorize). "" when it is path itself.
	policyPath string
	// rawQuery is the query without "?"; authentication removes a
	// verified token's parameter from it.
	rawQuery string
	// header is the request's header map, edited in place (forwarding
	// headers, authentication's output headers).
	header http.Header
	// tls is the connection's TLS state, nil for plaintext.
	tls *tls.ConnectionState
	// principal is the client certificate identity; "" reads it from tls
	// (explain sets it, having no certificate).
	principal string
	// client holds the peer, downstream and trusted client addresses.
	client forwarded.Client
	// local is the address the connection arrived on.
	local netip.AddrPort
}

// verdictKind is how a request is answered.
type verdictKind uint8

const (
	verdictAdmitted        verdictKind = iota // admit let it through: decide next
	verdictRoute                              // a route serves it (see plan)
	verdictRefused                            // method, target or upgrade refused
	verdictMalformed                          // too many headers, bad header name or path
	verdictMisdirected                        // 421: the Host needs another TLS server
	verdictUnauthenticated                    // 401 (or other) from JWT authentication
	verdictDenied                             // denied by authorization
	verdictNotFound                           // 404: no virtual host or route
	verdictHTTPSRedirect                      // 301 to https (httpsRedirect)
)

// verdict is the outcome of admit and decide.
type verdict struct {
	kind verdictKind
	// status and msg are the local reply of a refused or malformed request.
	status int
	msg    string
	// rt is the route of verdictRoute.
	rt *router.Route
	// reject is authentication's answer (verdictUnauthenticated).
	reject *authz.Response
	// ar is set when the security engine authorized the request; its
	// decision (denied or not) is then the request's, for the audit and
	// dry-run logs.
	ar *authz.Request
}

// admit refuses requests no route may see, normalizes the path and the
// host, works out the client address and sets the forwarding headers on
// r; then it fills rq's view. verdictAdmitted lets the request through.
func (rq *request) admit(r *downstream.Request, t tracer) verdict {
	lc := rq.lc
	status, msg := checkRequest(r)
	if status == 0 {
		rq.upgrade, status = upgradeOf(r)
	}
	if status != 0 {
		return verdict{kind: verdictRefused, status: status, msg: msg}
	}
	if n := headerFields(r); n > lc.Options.HeaderLimit() {
		t.tooManyHeaders(n, lc.Options.HeaderLimit())
		return verdict{kind: verdictMalformed, status: http.StatusRequestHeaderFieldsTooLarge, msg: "Request Header Fields Too Large"}
	}
	if !checkUnderscores(r.Header, lc.Options.Underscores) {
		t.underscoreHeader()
		return verdict{kind: verdictMalformed, status: http.StatusBadRequest, msg: "Bad Request"}
	}
	raw := rawPath(r)
	p, err := router.NormalizePath(raw, lc.PathMode)
	if err != nil {
		t.badPath(raw, err)
		return verdict{kind: verdictMalformed, status: http.StatusBadRequest, msg: "Bad Request"}
	}
	if !lc.Options.KeepParams && strings.IndexByte(p, ';') >= 0 {
		t.pathParameters(p)
		return verdict{kind: verdictMalformed, status: http.StatusBadRequest, msg: "Bad Request"}
	}
	rq.path, rq.policyPath = p, policyPath(p, lc.PathMode)
	t.normalized(raw, p, lc.PathMode)
	authority := r.Host
	rq.host, r.Host = normalizeAuthority(authority)
	t.hostNormalized(authority, rq.host)
	rq.forwarding(r, t)
	rq.method, rq.scheme, rq.authority, rq.rawQuery = r.Method, scheme(r), r.Host, r.RawQuery
	rq.header, rq.tls, rq.local = r.Header, r.TLS, rq.conn.Local
	return verdict{}
}

// forwarding removes the headers a client may not set, works out the
// client's addresses and sets the forwarding headers.
func (rq *request) forwarding(r *downstream.Request, t tracer) {
	forwarded.Sanitize(r.Header)
	forwarded.SanitizeTrust(r.Header, rq.lc.TrustedHops)
	xff := r.Header["X-Forwarded-For"]
	rq.client = forwarded.Resolve(rq.conn, r, rq.lc.TrustedHops)
	t.client(rq.client, xff)
	forwarded.SetHeaders(r, &rq.client, rq.conn, rq.lc.XFCC)
	t.forwarded(r.Header)
}

// decide authenticates an admitted request, matches its route (claims
// included), authorizes it and settles 404 and the https redirect. It
// edits the view as serving needs: authentication's headers, the query
// without a verified token.
func (rq *request) decide(ctx context.Context, t tracer) verdict {
	table, ok := rq.table(t)
	if !ok {
		return verdict{kind: verdictMisdirected, status: http.StatusMisdirectedRequest}
	}
	vh := table.VHost(rq.host)
	e := rq.snap.Authz
	if e == nil {
		rt := rq.match(vh, nil, t)
		t.unsecured()
		return rq.conclude(vh, rt)
	}
	ar := rq.authzRequest()
	var id *authz.Identity
	preflight := rq.corsPreflight()
	t.authenticating(ar, preflight)
	if preflight {
		e.SanitizeHeaders(rq.header) // no token is checked, but no client may set the output headers
	} else {
		var rej *authz.Response
		if id, rej = e.Authenticate(ctx, ar); rej != nil {
			t.unauthenticated(ctx, e, ar)
			return verdict{kind: verdictUnauthenticated, status: rej.Status, reject: rej}
		}
		rq.rawQuery = ar.RawQuery
	}
	rt := rq.match(vh, id, t)
	if rt != nil {
		ar.Destination = destinationOf(rq.snap, rt.Forward)
	}
	rq.decision = authorize(ctx, e, ar, id, rq.policyPath, t)
	if !rq.decision.Allowed {
		return verdict{kind: verdictDenied, status: rq.decision.Status, ar: ar}
	}
	v := rq.conclude(vh, rt)
	v.ar = ar
	return v
}

// table returns the route table for the request. A plaintext port has
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
func (rq *request) table(t tracer) (*router.Table, bool) {
	lc := rq.lc
	if rq.tls == nil || lc.TLS == nil {
		return lc.Routes, true
	}
	sni := rq.tls.ServerName
	negotiated, owner, ok := hostServer(lc, sni, rq.host)
	t.tlsServer(lc, sni, rq.host, negotiated, owner, ok)
	if !ok {
		return nil, false
	}
	if owner < 0 {
		owner = negotiated
	}
	if owner < 0 || owner >= len(lc.Terminated) {
		return nil, true
	}
	return lc.Terminated[owner].Routes, true
}

// match returns the first route of vh that takes the request, nil if none.
func (rq *request) match(vh *router.VHost, id *authz.Identity, t tracer) *router.Route {
	if vh == nil {
		t.matched(rq.host, nil, router.Request{}, nil)
		return nil
	}
	rr := router.Request{Method: rq.method, Scheme: rq.scheme, Authority: rq.host, Path: rq.path,
		RawQuery: rq.rawQuery, Header: rq.header, Claims: claimsOf(id)}
	rt := vh.Match(&rr)
	t.matched(rq.host, vh, rr, rt)
	return rt
}

// conclude answers 404 when no virtual host or route takes the request
// and redirects plaintext requests to a server with httpsRedirect, before
// the route; otherwise the route serves the request.
func (rq *request) conclude(vh *router.VHost, rt *router.Route) verdict {
	switch {
	case vh == nil:
		return verdict{kind: verdictNotFound, status: http.StatusNotFound}
	case vh.RequireTLS && !rq.securelyReceived():
		return verdict{kind: verdictHTTPSRedirect, status: http.StatusMovedPermanently}
	case rt == nil:
		return verdict{kind: verdictNotFound, status: http.StatusNotFound}
	}
	rq.origin = rq.header.Get("Origin")
	return verdict{kind: verdictRoute, rt: rt}
}

// securelyReceived reports whether the client used TLS: to gatehouse, or
// to a trusted proxy in front of it (X-Forwarded-Proto, which
// setForwardingHeaders kept only behind trusted proxies), as Envoy's
// require_tls decides.
func (v *view) securelyReceived() bool {
	return v.tls != nil || v.header.Get("X-Forwarded-Proto") == "https"
}

// authorize decides a request with its path as normalized and, where the
// normalization mode leaves room (policyPath), as an upstream that merges
// slashes would read it: allowed only if allowed both ways, so a DENY on
// /admin holds for //admin (security.md AZ-01) whatever the mode, while
// the path forwarded stays as Istio's mode makes it.
func authorize(ctx context.Context, e *authz.Engine, ar *authz.Request, id *authz.Identity, policyPath string, t tracer) authz.Decision {
	d := e.Authorize(ar, id)
	t.authorized(ctx, e, ar, "")
	if !d.Allowed || policyPath == "" {
		return d
	}
	alt := *ar
	alt.Path = policyPath
	d2 := e.Authorize(&alt, id)
	t.authorized(ctx, e, ar, policyPath)
	if !d2.Allowed {
		return d2
	}
	return d
}
