package proxy

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// authzRequest describes the request to the security engine: the
// normalized path, the addresses clientAddrs worked out and the client
// certificate's identity.
func (rq *request) authzRequest() *authz.Request {
	principal := rq.principal
	if principal == "" {
		principal = peerPrincipal(rq.tls)
	}
	return &authz.Request{
		Method:        rq.method,
		Scheme:        rq.scheme,
		Host:          rq.host,
		Port:          uint16(rq.lc.Key.Port),
		Path:          rq.path,
		RawQuery:      rq.rawQuery,
		Header:        rq.header,
		SourceIP:      rq.client.Peer,
		RemoteIP:      rq.client.Remote,
		Local:         rq.local,
		SNI:           serverName(rq.tls),
		PeerPrincipal: principal,
	}
}

func serverName(cs *tls.ConnectionState) string {
	if cs == nil {
		return ""
	}
	return cs.ServerName
}

// peerPrincipal is Istio's identity of a client certificate: its SPIFFE
// URI SAN without "spiffe://", or "" without one.
func peerPrincipal(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ""
	}
	for _, u := range cs.PeerCertificates[0].URIs {
		if u.Scheme == "spiffe" {
			return strings.TrimPrefix(u.String(), "spiffe://")
		}
	}
	return ""
}

// corsPreflight reports whether the request is a CORS preflight, which
// JWT authentication lets through as Istio's does (bypass_cors_preflight);
// authorization still applies.
func (v *view) corsPreflight() bool {
	return v.method == http.MethodOptions && len(v.header["Origin"]) > 0 && len(v.header["Access-Control-Request-Method"]) > 0
}

// destinationOf is the service a route forwards to, for legacy Policy and
// RBAC scoping: the qualified host of its first destination.
func destinationOf(snap *Generation, f *router.Forward) string {
	if f == nil || len(f.Dests) == 0 {
		return ""
	}
	d := &f.Dests[0]
	if c := snap.Cluster(d.Upstream); c != nil {
		return c.Host
	}
	return d.Host
}

// claimsOf returns the verified claims for route matching, or nil.
func claimsOf(id *authz.Identity) router.ClaimSource {
	if !id.Authenticated() {
		return nil
	}
	return id
}

// logDecision records what AUDIT and dry-run policies saw; enforcement
// itself is the caller's.
func (s *Pipeline) logDecision(d *authz.Decision, ar *authz.Request) {
	if d.Audit {
		s.Log.Info("authorization audit", "policy", d.AuditPolicy, "method", ar.Method, "host", ar.Host, "path", ar.Path,
			"source", ar.SourceIP.String(), "remote", ar.RemoteIP.String())
	}
	if d.DryRun.Evaluated {
		verdict := "allow"
		if !d.DryRun.Allowed {
			verdict = "deny"
		}
		s.Log.Info("authorization dry-run", "would", verdict, "policy", d.DryRun.Policy, "rule", d.DryRun.Rule,
			"enforced", d.Allowed, "method", ar.Method, "host", ar.Host, "path", ar.Path,
			"source", ar.SourceIP.String(), "remote", ar.RemoteIP.String())
	}
}

// allowTCP authorizes a TCP connection (forwarded, or passed through by
// SNI) before anything is dialled; a denied connection is closed. Rules
// with HTTP-only fields behave as Istio's do on TCP.
func (s *Pipeline) allowTCP(c net.Conn, snap *Generation, f *router.Forward, sni string, cs *tls.ConnectionState) bool {
	e := snap.Authz
	if e == nil {
		return true
	}
	ci := listener.NewConnInfo(c)
	remote := ci.Peer.Addr().Unmap()
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = a.AddrPort().Addr().Unmap() // a PROXY header's source
	}
	ar := tcpRequest(snap, f, ci, remote, sni, peerPrincipal(cs))
	d := e.Authorize(ar, nil)
	s.logDecision(&d, ar)
	if !d.Allowed {
		if snap.AccessLog != nil {
			e := tcpEntry(c, sni)
			e.Policy, e.TerminationDetails = d.Policy, deniedDetails(&d)
			snap.AccessLog.Log(e)
		}
		s.Log.Debug("TCP connection denied", slog.String("policy", d.Policy), slog.String("reason", d.Reason),
			slog.String("source", ar.SourceIP.String()), slog.String("remote", ar.RemoteIP.String()))
		c.Close()
		return false
	}
	return true
}

// tcpRequest is what the security engine decides a TCP connection on:
// the peer (source.ip), the downstream address remote (remoteIpBlocks),
// the local address, the SNI, the client certificate's principal and the
// destination service. Serving and explain both build it here.
func tcpRequest(snap *Generation, f *router.Forward, ci *listener.ConnInfo, remote netip.Addr, sni, principal string) *authz.Request {
	return &authz.Request{TCP: true, SourceIP: ci.Peer.Addr().Unmap(), RemoteIP: remote, Local: ci.Local, SNI: sni,
		PeerPrincipal: principal, Destination: destinationOf(snap, f)}
}

// noteDenied records an authorization denial for the access log, in
// Envoy's response code details form.
func noteDenied(w downstream.ResponseWriter, d *authz.Decision) {
	e := entryOf(w)
	if e == nil {
		return
	}
	e.Policy, e.Details = d.Policy, deniedDetails(d)
}

// deniedDetails is Envoy's response code details for a denial.
func deniedDetails(d *authz.Decision) string {
	ns, name, ok := strings.Cut(d.Policy, "/")
	switch {
	case d.Reason == authz.ReasonOriginFailed:
		return "jwt_authn_access_denied{Origin_authentication_failed.}"
	case ok:
		return "rbac_access_denied_matched_policy[ns[" + ns + "]-policy[" + name + "]-rule[" + strconv.Itoa(d.Rule) + "]]"
	}
	return "rbac_access_denied_matched_policy[none]"
}
