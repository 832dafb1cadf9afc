package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy/forwarded"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// http explains an HTTP request by running serving's own admit, decide
// and plan with the explainer as their tracer: the lines are what those
// steps saw, the outcome is their verdict.
func (e *explainer) http(ctx context.Context, lc *listener.Config, r *downstream.Request, ci *listener.ConnInfo) *Explanation {
	rq := request{snap: e.snap, lc: lc, conn: ci}
	v := rq.admit(r, e)
	if v.kind == verdictAdmitted {
		rq.principal = e.principal
		v = rq.decide(ctx, e)
	}
	switch v.kind {
	case verdictRefused:
		return e.done(v.status, "%d %s: the method, target or upgrade is refused before routing", v.status, v.msg)
	case verdictMalformed:
		return e.done(v.status, "%d %s", v.status, v.msg)
	case verdictMisdirected:
		return e.done(v.status, "421 Misdirected Request (the client must connect with SNI %q)", rq.host)
	case verdictUnauthenticated:
		return e.done(v.reject.Status, "%d %q: JWT authentication failed", v.reject.Status, v.reject.Body)
	case verdictDenied:
		d := &rq.decision
		return e.done(d.Status, "%d %q (%s)", d.Status, d.Body, d.Reason)
	case verdictNotFound:
		return e.done(v.status, "404 (route_not_found)")
	case verdictHTTPSRedirect:
		return e.done(v.status, "301 to https://%s%s (httpsRedirect)", r.Host, r.RequestURI)
	}
	return e.action(&rq, v.rt)
}

func (e *explainer) tooManyHeaders(n, limit int) {
	e.line("headers", "%d header fields, more than the %d allowed (annotate the Gateway %s to change it)", n, limit, mesh.AnnotationMaxRequestHeaders)
}

func (e *explainer) underscoreHeader() {
	e.line("headers", "a header name holds \"_\" (annotate the Gateway %s: drop or allow to accept it)", mesh.AnnotationHeadersWithUnderscores)
}

func (e *explainer) badPath(raw string, err error) { e.line("path", "%q: %v", raw, err) }

func (e *explainer) pathParameters(p string) {
	e.line("path", "%q holds \";\" parameters (annotate the Gateway %s: keep to allow them)", p, mesh.AnnotationPathParameters)
}

func (e *explainer) normalized(raw, p string, mode router.PathMode) {
	e.line("path", "%q normalized to %q (pathNormalization %s)", raw, p, mode.String())
}

func (e *explainer) hostNormalized(authority, host string) {
	if host != authority {
		e.line("host", "%q is matched as %q (lower case, no port, no trailing dot)", authority, host)
	}
}

func (e *explainer) forwarded(h http.Header) {
	e.line("client", "upstream gets X-Forwarded-For %q, X-Envoy-External-Address %q, X-Forwarded-Proto %q",
		h.Get("X-Forwarded-For"), h.Get("X-Envoy-External-Address"), h.Get("X-Forwarded-Proto"))
}

// client explains where the trusted client address came from.
func (e *explainer) client(c forwarded.Client, received []string) {
	xff := strings.Join(received, ", ")
	switch {
	case c.Hops == 0 && xff != "":
		e.line("client", "X-Forwarded-For %q is not trusted: numTrustedProxies is 0", xff)
	case c.Hops > 0 && c.Via == "X-Forwarded-For":
		e.line("client", "numTrustedProxies %d: address %d from the right of X-Forwarded-For %q", c.Hops, c.Hops, xff)
	case c.Hops > 0:
		e.line("client", "numTrustedProxies %d, but X-Forwarded-For %q has no address there: the downstream address counts", c.Hops, xff)
	}
	e.line("client", "trusted client %s (from the %s): remote.ip and remoteIpBlocks", c.Remote, c.Via)
}

// authenticating keeps the headers as received: the security engine's
// own explanation runs on them.
func (e *explainer) authenticating(ar *authz.Request, preflight bool) {
	e.received = ar.Header.Clone()
	if preflight {
		e.line("security", "CORS preflight: JWT authentication is skipped")
	}
}

func (e *explainer) unauthenticated(ctx context.Context, eng *authz.Engine, ar *authz.Request) {
	e.trace(eng.Explain(ctx, e.asReceived(ar, "")))
}

func (e *explainer) authorized(ctx context.Context, eng *authz.Engine, ar *authz.Request, again string) {
	if again != "" {
		e.line("security", "policies are checked again on %q, the path as an upstream that merges slashes and resolves dot segments reads it", again)
	}
	e.trace(eng.Explain(ctx, e.asReceived(ar, again)))
}

func (e *explainer) unsecured() {
	e.line("security", "no RequestAuthentication, AuthorizationPolicy or legacy policy: nothing to check")
}

// asReceived is a copy of ar with the headers as received and, unless it
// is "", path instead of ar's.
func (e *explainer) asReceived(ar *authz.Request, path string) *authz.Request {
	cp := *ar
	cp.Header = e.received
	if path != "" {
		cp.Path = path
	}
	return &cp
}

// trace adds the security engine's lines.
func (e *explainer) trace(t authz.Trace) {
	for _, l := range t.Lines {
		e.line("security", "%s", l)
	}
}

// matched explains the virtual host choice and each route tried, up to
// the one serving took.
func (e *explainer) matched(host string, vh *router.VHost, rr router.Request, rt *router.Route) {
	if vh == nil {
		e.line("vhost", "no virtual host takes %q", host)
		return
	}
	e.line("vhost", "%q takes %q", vh.Domain, host)
	for i, r := range vh.Routes {
		name := fmt.Sprintf("#%d %s http[%d]", i, r.VirtualService, r.Index)
		if r.Match >= 0 {
			name += fmt.Sprintf(".match[%d]", r.Match)
		}
		if r.Name != "" {
			name += " " + r.Name
		}
		if r == rt {
			e.line("route", "%s: MATCH (%s)", name, r.MatchString())
			return
		}
		e.line("route", "%s: no: %s", name, r.Mismatch(&rr))
	}
	e.line("route", "no route of %q matches", vh.Domain)
}

// describeServer names terminated server i of a TLS listener.
func describeServer(lc *listener.Config, i int) string {
	if i < 0 || i >= len(lc.Terminated) {
		return "no server: the handshake fails"
	}
	s := lc.Terminated[i].Server
	return fmt.Sprintf("Gateway %s server %d (%s)", s.Gateway, s.Index, strings.Join(s.Hosts, ","))
}

// tlsServer explains the TLS server choice of a request on a TLS
// listener, and its 421 when the Host belongs to a server with other TLS
// settings than the one the SNI negotiated.
func (e *explainer) tlsServer(lc *listener.Config, sni, host string, negotiated, owner int, ok bool) {
	e.line("tls", "SNI %q selects %s", sni, describeServer(lc, negotiated))
	switch {
	case !ok:
		e.line("tls", "host %q belongs to %s, whose TLS settings differ from the negotiated server's", host, describeServer(lc, owner))
	case owner >= 0 && owner != negotiated:
		e.line("tls", "host %q belongs to %s, which has the same TLS settings: served from its routes", host, describeServer(lc, owner))
	}
}
