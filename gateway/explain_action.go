package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// action explains what the matched route does.
func (e *explainer) action(r *http.Request, rq *request, rt *router.Route) *Explanation {
	info := rt.Describe()
	act := rt.Action
	if info.Fault != "" {
		e.line("fault", "%s", info.Fault)
		if f := act.Fault; f.AbortPPM >= 1_000_000 && (f.AbortHTTP != 0 || f.AbortGRPC >= 0) {
			if f.AbortGRPC >= 0 {
				return e.done(http.StatusOK, "gRPC status %d from the fault's abort (fault filter abort); nothing is forwarded", f.AbortGRPC)
			}
			return e.done(f.AbortHTTP, "%d \"fault filter abort\" from the fault's abort; nothing is forwarded", f.AbortHTTP)
		}
	}
	switch act.Kind {
	case router.ActionRedirect:
		loc := act.Redirect.Location(scheme(r), r.Host, rq.path, r.URL.RawQuery, rt, 0)
		return e.done(act.Redirect.Code, "%d redirect to %s", act.Redirect.Code, loc)
	case router.ActionDirectResponse:
		return e.done(act.DirectResponse.Status, "%d direct response (%s)", act.DirectResponse.Status, info.DirectResponse)
	}
	path := rq.path
	if rw := act.Rewrite; rw != nil {
		path = rw.Path(rq.path, rt)
		e.line("rewrite", "%s: path %q becomes %q", info.Rewrite, rq.path, path)
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
	d := rt.Forward.Pick(0)
	c := (*cluster)(nil)
	if d != nil {
		c = e.snap.cluster(d.Upstream)
	}
	if c == nil {
		return e.done(http.StatusServiceUnavailable, "503: the route has no destination gatehouse can reach (cluster_not_found)")
	}
	e.cluster(c)
	host := r.Host
	if d.Authority != "" {
		host = d.Authority
	}
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	return e.done(0, "forward %s %s%s to %s (the upstream's answer is relayed)", r.Method, host, path, c.name)
}

// cluster describes an upstream cluster and its endpoints.
func (e *explainer) cluster(c *cluster) {
	var eps []string
	for _, ep := range c.endpoints {
		eps = append(eps, ep.addr)
	}
	e.line("cluster", "%s: load balancer %s, connect timeout %s, endpoints %s", c.name, c.lbName, c.connectTimeout, orNone(strings.Join(eps, ", ")))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// tcp explains a connection forwarded as raw TCP: a TCP port, a TLS
// passthrough, or TLS terminated for a TCP server.
func (e *explainer) tcp(ctx context.Context, lc *listener.Config, r *http.Request, ci *listener.ConnInfo) *Explanation {
	local := ci.Local.Addr()
	var rt *router.L4Route
	sni := ""
	switch {
	case r.TLS == nil:
		rt = lc.TCP.MatchTCP(local)
	case lc.Passthrough != nil && lc.Passthrough.MatchSNI(r.TLS.ServerName, local) != nil:
		sni = r.TLS.ServerName
		rt = lc.Passthrough.MatchSNI(sni, local)
		e.line("tls", "SNI %q is passed through untouched", sni)
	default:
		sni = r.TLS.ServerName
		i, _ := lc.TLS.Server(sni)
		e.line("tls", "SNI %q selects %s; the decrypted stream is forwarded as TCP", sni, describeServer(lc, i))
		if i >= 0 && i < len(lc.Terminated) {
			rt = lc.Terminated[i].TCP.MatchTCP(local)
		}
	}
	if rt == nil {
		return e.done(0, "connection closed: no TCP or TLS route takes it")
	}
	e.line("route", "%s tcp/tls route %d", rt.VirtualService, rt.Index)
	if eng := e.snap.authz; eng != nil {
		remote := ci.Peer.Addr()
		if ci.Proxied {
			remote = addrOf(r.RemoteAddr)
		}
		ar := &authz.Request{TCP: true, SourceIP: ci.Peer.Addr(), RemoteIP: remote, Local: ci.Local, SNI: sni,
			PeerPrincipal: e.principal, Destination: destinationOf(e.snap, rt.Forward)}
		tr := eng.Explain(ctx, ar)
		e.trace(tr)
		if !tr.Decision.Allowed {
			return e.done(0, "connection closed: denied (%s)", tr.Decision.Reason)
		}
	}
	d := rt.Forward.Pick(0)
	if d == nil || e.snap.cluster(d.Upstream) == nil {
		return e.done(0, "connection closed: the route has no reachable destination")
	}
	c := e.snap.cluster(d.Upstream)
	e.cluster(c)
	return e.done(0, "bytes forwarded both ways to %s", c.name)
}

// addrOf parses the address part of "host:port".
func addrOf(hostport string) netip.Addr {
	a, _ := parseAddrPort(hostport, "")
	return a.Addr()
}
