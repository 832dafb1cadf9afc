package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// http explains an HTTP request in ServeHTTP's order.
func (e *explainer) http(ctx context.Context, lc *listener.Config, r *http.Request, ci *listener.ConnInfo) *Explanation {
	rq := request{snap: e.snap, lc: lc}
	if x := e.prologue(&rq, r, ci); x != nil {
		return x
	}
	if x := e.misdirected(lc, r, rq.host); x != nil {
		return x
	}
	table, _ := routesFor(lc, r.TLS, rq.host)
	host := rq.host
	vh := table.VHost(host)
	eng := e.snap.authz
	var ar *authz.Request
	var id *authz.Identity
	var received http.Header // the headers before authentication edits them
	if eng != nil {
		ar = authzRequest(r, &rq, ci)
		ar.PeerPrincipal = e.principal
		received = r.Header.Clone()
		if isCORSPreflight(r) {
			e.line("security", "CORS preflight: JWT authentication is skipped")
			eng.SanitizeHeaders(r.Header)
		} else if x := e.authenticate(ctx, ar, received, &id); x != nil {
			return x
		}
	}
	rt := e.routes(r, &rq, host, vh, id)
	if eng != nil {
		if rt != nil {
			ar.Destination = destinationOf(e.snap, rt.Forward)
		}
		cp := *ar
		cp.Header = received
		tr := eng.Explain(ctx, &cp)
		e.trace(tr)
		if !tr.Decision.Allowed {
			return e.done(tr.Decision.Status, "%d %q (%s)", tr.Decision.Status, tr.Decision.Body, tr.Decision.Reason)
		}
		if rq.policyPath != "" {
			e.line("security", "policies are checked again on %q, the path as an upstream that merges slashes and resolves dot segments reads it", rq.policyPath)
			cp.Path = rq.policyPath
			tr := eng.Explain(ctx, &cp)
			e.trace(tr)
			if !tr.Decision.Allowed {
				return e.done(tr.Decision.Status, "%d %q (%s)", tr.Decision.Status, tr.Decision.Body, tr.Decision.Reason)
			}
		}
	} else {
		e.line("security", "no RequestAuthentication, AuthorizationPolicy or legacy policy: nothing to check")
	}
	switch {
	case vh == nil || (rt == nil && !(vh.RequireTLS && !securelyReceived(r))):
		return e.done(http.StatusNotFound, "404 (route_not_found)")
	case vh.RequireTLS && !securelyReceived(r):
		return e.done(http.StatusMovedPermanently, "301 to https://%s%s (httpsRedirect)", r.Host, r.RequestURI)
	}
	return e.action(r, &rq, rt)
}

// prologue explains the checks, path normalization and client address.
func (e *explainer) prologue(rq *request, r *http.Request, ci *listener.ConnInfo) *Explanation {
	status, msg := checkRequest(r)
	if status == 0 {
		rq.upgrade, status = upgradeOf(r)
	}
	if status != 0 {
		return e.done(status, "%d %s: the method, target or upgrade is refused before routing", status, msg)
	}
	if n := headerFields(r); n > rq.lc.Options.HeaderLimit() {
		e.line("headers", "%d header fields, more than the %d allowed (annotate the Gateway %s to change it)", n, rq.lc.Options.HeaderLimit(), mesh.AnnotationMaxRequestHeaders)
		return e.done(http.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large")
	}
	if !checkUnderscores(r.Header, rq.lc.Options.Underscores) {
		e.line("headers", "a header name holds \"_\" (annotate the Gateway %s: drop or allow to accept it)", mesh.AnnotationHeadersWithUnderscores)
		return e.done(http.StatusBadRequest, "400 Bad Request")
	}
	raw := rawPath(r)
	p, err := router.NormalizePath(raw, rq.lc.PathMode)
	if err != nil {
		e.line("path", "%q: %v", raw, err)
		return e.done(http.StatusBadRequest, "400 Bad Request")
	}
	if !rq.lc.Options.KeepParams && strings.IndexByte(p, ';') >= 0 {
		e.line("path", "%q holds \";\" parameters (annotate the Gateway %s: keep to allow them)", p, mesh.AnnotationPathParameters)
		return e.done(http.StatusBadRequest, "400 Bad Request")
	}
	rq.path = p
	rq.policyPath = policyPath(p, rq.lc.PathMode)
	e.line("path", "%q normalized to %q (pathNormalization %s)", raw, p, pathModeName(rq.lc.PathMode))
	authority := r.Host
	rq.host, r.Host = normalizeAuthority(authority)
	if rq.host != authority {
		e.line("host", "%q is matched as %q (lower case, no port, no trailing dot)", authority, rq.host)
	}
	sanitizeRequestHeaders(r.Header)
	sanitizeTrustHeaders(r.Header, rq.lc.TrustedHops)
	xff := strings.Join(r.Header["X-Forwarded-For"], ", ")
	rq.client = resolveClient(ci, r, rq.lc.TrustedHops)
	e.client(&rq.client, xff)
	setForwardingHeaders(r, &rq.client, ci, rq.lc.XFCC)
	e.line("client", "upstream gets X-Forwarded-For %q, X-Envoy-External-Address %q, X-Forwarded-Proto %q",
		r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Envoy-External-Address"), r.Header.Get("X-Forwarded-Proto"))
	return nil
}

func pathModeName(m router.PathMode) string {
	return [...]string{"BASE", "NONE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"}[m]
}

// client explains where the trusted client address came from.
func (e *explainer) client(c *clientAddrs, xff string) {
	switch {
	case c.hops == 0 && xff != "":
		e.line("client", "X-Forwarded-For %q is not trusted: numTrustedProxies is 0", xff)
	case c.hops > 0 && c.via == "X-Forwarded-For":
		e.line("client", "numTrustedProxies %d: address %d from the right of X-Forwarded-For %q", c.hops, c.hops, xff)
	case c.hops > 0:
		e.line("client", "numTrustedProxies %d, but X-Forwarded-For %q has no address there: the downstream address counts", c.hops, xff)
	}
	e.line("client", "trusted client %s (from the %s): remote.ip and remoteIpBlocks", c.remote, c.via)
}

// authenticate runs JWT authentication as serving does, editing the
// (synthetic) request's headers, so that routes then match on what the
// upstream would get. received are the headers before.
func (e *explainer) authenticate(ctx context.Context, ar *authz.Request, received http.Header, id **authz.Identity) *Explanation {
	got, rej := e.snap.authz.Authenticate(ctx, ar)
	if rej != nil {
		cp := *ar
		cp.Header = received
		e.trace(e.snap.authz.Explain(ctx, &cp))
		return e.done(rej.Status, "%d %q: JWT authentication failed", rej.Status, rej.Body)
	}
	*id = got
	return nil
}

// trace adds the security engine's lines.
func (e *explainer) trace(t authz.Trace) {
	for _, l := range t.Lines {
		e.line("security", "%s", l)
	}
}

// routes explains the virtual host choice and each route tried.
func (e *explainer) routes(r *http.Request, rq *request, host string, vh *router.VHost, id *authz.Identity) *router.Route {
	if vh == nil {
		e.line("vhost", "no virtual host takes %q", host)
		return nil
	}
	e.line("vhost", "%q takes %q", vh.Domain, host)
	rr := router.Request{Method: r.Method, Scheme: scheme(r), Authority: rq.host, Path: rq.path, RawQuery: r.URL.RawQuery, Header: r.Header, Claims: claimsOf(id)}
	for i, rt := range vh.Routes {
		why := rt.Mismatch(&rr)
		name := fmt.Sprintf("#%d %s http[%d]", i, rt.VirtualService, rt.Index)
		if rt.Match >= 0 {
			name += fmt.Sprintf(".match[%d]", rt.Match)
		}
		if rt.Name != "" {
			name += " " + rt.Name
		}
		if why != "" {
			e.line("route", "%s: no: %s", name, why)
			continue
		}
		e.line("route", "%s: MATCH (%s)", name, rt.MatchString())
		return rt
	}
	e.line("route", "no route of %q matches", vh.Domain)
	return nil
}

// describeServer names terminated server i of a TLS listener.
func describeServer(lc *listener.Config, i int) string {
	if i < 0 || i >= len(lc.Terminated) {
		return "no server: the handshake fails"
	}
	s := lc.Terminated[i].Server
	return fmt.Sprintf("Gateway %s server %d (%s)", s.Gateway, s.Index, strings.Join(s.Hosts, ","))
}

// misdirected explains the TLS server choice of a request on a TLS
// listener, and its 421 when the Host belongs to a server with other TLS
// settings than the one the SNI negotiated.
func (e *explainer) misdirected(lc *listener.Config, r *http.Request, host string) *Explanation {
	if r.TLS == nil || lc.TLS == nil {
		return nil
	}
	sni := r.TLS.ServerName
	neg, owner, ok := hostServer(lc, sni, host)
	e.line("tls", "SNI %q selects %s", sni, describeServer(lc, neg))
	switch {
	case !ok:
		e.line("tls", "host %q belongs to %s, whose TLS settings differ from the negotiated server's", host, describeServer(lc, owner))
		return e.done(http.StatusMisdirectedRequest, "421 Misdirected Request (the client must connect with SNI %q)", host)
	case owner >= 0 && owner != neg:
		e.line("tls", "host %q belongs to %s, which has the same TLS settings: served from its routes", host, describeServer(lc, owner))
	}
	return nil
}
