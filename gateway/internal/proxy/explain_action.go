package proxy

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// action explains what the matched route does, as serving's plan decides
// it, with explain's dice: a fault aborts only when it always does, and
// the first destination is picked.
func (e *explainer) action(rq *request, rt *router.Route) *Explanation {
	info := rt.Describe()
	if info.Fault != "" {
		e.line("fault", "%s", info.Fault)
	}
	p := rq.plan(rt, certainOnly)
	switch p.kind {
	case planAbort:
		if p.grpc >= 0 {
			return e.done(http.StatusOK, "gRPC status %d from the fault's abort (fault filter abort); nothing is forwarded", p.grpc)
		}
		return e.done(p.status, "%d \"fault filter abort\" from the fault's abort; nothing is forwarded", p.status)
	case planPreflight:
		return e.done(p.status, "%d CORS preflight answered by the route's corsPolicy; nothing is forwarded", p.status)
	case planRedirect:
		return e.done(p.status, "%d redirect to %s", p.status, p.location)
	case planDirect:
		return e.done(p.status, "%d direct response (%s)", p.status, info.DirectResponse)
	}
	e.route(rq, rt, &p, &info)
	if p.kind == planNoCluster {
		return e.done(p.status, "503: the route has no destination gatehouse can reach (cluster_not_found)")
	}
	e.cluster(p.cluster)
	path := p.path
	if rq.rawQuery != "" {
		path += "?" + rq.rawQuery
	}
	return e.done(0, "forward %s %s%s to %s (the upstream's answer is relayed)", rq.method, p.authority, path, p.cluster.Name)
}

// route explains a forwarding route: its rewrite, timeout, retries,
// destinations and mirrors.
func (e *explainer) route(rq *request, rt *router.Route, p *plan, info *router.RouteInfo) {
	if rt.Action.Rewrite != nil {
		e.line("rewrite", "%s: path %q becomes %q", info.Rewrite, rq.path, p.path)
	}
	timeout := "none (Istio's default: disabled)"
	if info.Timeout != "" {
		timeout = info.Timeout
	}
	e.line("timeout", "%s", timeout)
	e.line("retries", "%s", orNone(info.Retry))
	for _, d := range info.Destinations {
		e.line("upstream", "%s", d)
	}
	for _, m := range info.Mirrors {
		e.line("mirror", "%s", m)
	}
}

// cluster describes an upstream cluster and its endpoints.
func (e *explainer) cluster(c *upstream.Cluster) {
	var eps []string
	for _, ep := range c.Endpoints {
		eps = append(eps, ep.Addr)
	}
	e.line("cluster", "%s: load balancer %s, connect timeout %s, endpoints %s", c.Name, c.LBName, c.ConnectTimeout, orNone(strings.Join(eps, ", ")))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// tcp explains a connection forwarded as raw TCP: a TCP port, a TLS
// passthrough, or TLS terminated for a TCP server.
func (e *explainer) tcp(ctx context.Context, lc *listener.Config, r *downstream.Request, ci *listener.ConnInfo) *Explanation {
	local := ci.Local.Addr()
	var rt *router.L4Route
	sni := ""
	switch {
	case r.TLS == nil:
		rt = lc.TCPRoute(local)
	case lc.PassthroughRoute(r.TLS.ServerName, local) != nil:
		sni = r.TLS.ServerName
		rt = lc.PassthroughRoute(sni, local)
		e.line("tls", "SNI %q is passed through untouched", sni)
	default:
		sni = r.TLS.ServerName
		var i int
		i, _, rt = lc.TerminatedRoute(sni, local)
		e.line("tls", "SNI %q selects %s; the decrypted stream is forwarded as TCP", sni, describeServer(lc, i))
	}
	if rt == nil {
		return e.done(0, "connection closed: no TCP or TLS route takes it")
	}
	e.line("route", "%s tcp/tls route %d", rt.VirtualService, rt.Index)
	if eng := e.snap.Authz; eng != nil {
		remote := ci.Peer.Addr()
		if ci.Proxied {
			remote = addrOf(r.RemoteAddr)
		}
		ar := tcpRequest(e.snap, rt.Forward, ci, remote, sni, e.principal)
		tr := eng.Explain(ctx, ar)
		e.trace(tr)
		if !tr.Decision.Allowed {
			return e.done(0, "connection closed: denied (%s)", tr.Decision.Reason)
		}
	}
	d := rt.Forward.Pick(0)
	if d == nil || e.snap.Cluster(d.Upstream) == nil {
		return e.done(0, "connection closed: the route has no reachable destination")
	}
	c := e.snap.Cluster(d.Upstream)
	e.cluster(c)
	return e.done(0, "bytes forwarded both ways to %s", c.Name)
}

// addrOf parses the address part of "host:port".
func addrOf(hostport string) netip.Addr {
	a, _ := parseAddrPort(hostport, "")
	return a.Addr()
}
