package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"golang.org/x/net/http/httpguts"
)

// ExplainRequest describes a request for Explain: what the client sends
// and from where.
type ExplainRequest struct {
	// Method defaults to GET.
	Method string
	// URL is absolute: "http://app.example.com/path?q=1". Its scheme says
	// whether the request arrives over TLS; its host is the Host header
	// (and the SNI for https) unless Header or SNI say otherwise.
	URL string
	// Header holds the request headers (X-Forwarded-For, Authorization...).
	Header http.Header
	// Port is the Gateway port the request arrives on; 0 takes the URL's
	// port, else 80 or 443 by scheme.
	Port uint32
	// Peer is the physical peer address ("10.0.0.5" or "10.0.0.5:41234");
	// 127.0.0.1 when empty.
	Peer string
	// ProxySource is the source address of a PROXY protocol header the
	// peer sends, "" for none.
	ProxySource string
	// SNI overrides the TLS server name; "" uses the URL's host.
	SNI string
	// Principal is the client certificate's identity for mTLS
	// ("cluster.local/ns/default/sa/client"), "" for none.
	Principal string
}

// Explanation is Explain's account of one request.
type Explanation struct {
	// Lines are "section: text" lines in the order the gateway works.
	Lines []string
	// Status is the status the client would get (0 when the connection is
	// closed or forwarded as TCP); Outcome says what happens in words.
	Status  int
	Outcome string
}

// String returns the lines, then the outcome.
func (x *Explanation) String() string {
	return strings.Join(x.Lines, "\n") + "\nresult:   " + x.Outcome + "\n"
}

// explainer accumulates an explanation.
type explainer struct {
	x    Explanation
	snap *Generation
	// principal is the client certificate identity the request claims.
	principal string
	// received are the request's headers before authentication edits
	// them, which the security engine's explanation runs on.
	received http.Header
}

func (e *explainer) line(section, format string, args ...any) {
	e.x.Lines = append(e.x.Lines, fmt.Sprintf("%-9s %s", section+":", fmt.Sprintf(format, args...)))
}

func (e *explainer) done(status int, format string, args ...any) *Explanation {
	e.x.Status, e.x.Outcome = status, fmt.Sprintf(format, args...)
	return &e.x
}

// Explain says how the snapshot would serve req, step by step: the
// listener and server, the client addresses and the trust behind them,
// the normalized path, the JWT verdict, each route tried and why it did or
// did not match, each policy and rule that decided, and the final action
// with its upstream, timeout and retries. Remote JWT key sets are fetched
// as serving would (waiting for a first fetch in flight). Nothing is sent.
func (s *Generation) Explain(ctx context.Context, req ExplainRequest) (*Explanation, error) {
	r, port, err := req.httpRequest()
	if err != nil {
		return nil, err
	}
	e := &explainer{snap: s, principal: req.Principal}
	lc := s.listenerFor(port)
	if lc == nil {
		e.line("listener", "no listener on port %d (ports: %v)", port, s.Ports())
		return e.done(0, "connection refused"), nil
	}
	e.line("listener", "%s %s, served by %s", lc.Key, lc.Family, describeServers(lc))
	if p := lc.Proxy; p != nil {
		e.line("listener", "PROXY protocol %s", p.Describe())
	}
	ci, x := e.connection(lc, req, r)
	if x != nil {
		return x, nil
	}
	if lc.Family == listener.FamilyTCP || (r.TLS != nil && lc.TLS == nil) || (r.TLS != nil && !terminatesHTTP(lc, r.TLS.ServerName)) {
		return e.tcp(ctx, lc, r, ci), nil
	}
	return e.http(ctx, lc, r, ci), nil
}

// httpRequest builds the request the client would send, as an engine
// would hand it to the pipeline.
func (req *ExplainRequest) httpRequest() (*downstream.Request, uint32, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, fmt.Errorf("explain: URL %q: want an absolute http:// or https:// URL", req.URL)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return nil, 0, fmt.Errorf("explain: invalid method %q", method)
	}
	r := &downstream.Request{Method: method, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host:       strings.TrimSuffix(u.Host, ":"), // as http.NewRequest drops an empty port
		RequestURI: u.RequestURI(), EscapedPath: u.EscapedPath(), RawQuery: u.RawQuery, ForceQuery: u.ForceQuery, Header: http.Header{}}
	if u.RawPath == "" && u.Path != "" && !strings.HasPrefix(r.RequestURI, "/") {
		r.RequestURI = "/" + r.RequestURI
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	if h := r.Header.Get("Host"); h != "" {
		r.Host = h
		r.Header.Del("Host")
	}
	port := req.Port
	if port == 0 {
		port = 80
		if u.Scheme == "https" {
			port = 443
		}
		if p := u.Port(); p != "" {
			n, _ := strconv.Atoi(p)
			port = uint32(n)
		}
	}
	if u.Scheme == "https" {
		sni := req.SNI
		if sni == "" {
			sni = u.Hostname()
		}
		r.TLS = &tls.ConnectionState{ServerName: sni, HandshakeComplete: true}
	}
	return r, port, nil
}

// listenerFor finds the listener of a Gateway port on any bind address.
func (s *Generation) listenerFor(port uint32) *listener.Config {
	for k, lc := range s.Listeners {
		if k.Port == port {
			return lc
		}
	}
	return nil
}

func describeServers(lc *listener.Config) string {
	var parts []string
	for _, s := range lc.Servers {
		parts = append(parts, fmt.Sprintf("Gateway %s server %d (%s %s)", s.Gateway, s.Index, s.Protocol, strings.Join(s.Hosts, ",")))
	}
	return strings.Join(parts, "; ")
}

// terminatesHTTP reports whether the TLS server chosen by sni serves
// HTTPS (rather than forwarding the decrypted stream as TCP).
func terminatesHTTP(lc *listener.Config, sni string) bool {
	if lc.PassthroughRoute(sni, netip.Addr{}) != nil {
		return false
	}
	_, https, _ := lc.TerminatedRoute(sni, netip.Addr{})
	return https
}

// connection works out the connection's addresses, as accepting it would:
// a PROXY header from an untrusted peer refuses the connection.
func (e *explainer) connection(lc *listener.Config, req ExplainRequest, r *downstream.Request) (*listener.ConnInfo, *Explanation) {
	peer, err := parseAddrPort(req.Peer, "127.0.0.1")
	if err != nil {
		e.line("client", "peer %q: %v", req.Peer, err)
		return nil, e.done(0, "bad peer address")
	}
	ci := &listener.ConnInfo{Peer: peer, Local: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lc.Key.Port))}
	r.RemoteAddr = peer.String()
	e.line("client", "physical peer %s: source.ip and ipBlocks", peer.Addr())
	admit := lc.Proxy.Admit(peer.Addr())
	switch {
	case admit == mesh.ProxyRefuse:
		e.line("client", "peer %s may not send PROXY headers", peer.Addr())
		return nil, e.done(0, "connection closed: untrusted peer on a PROXY protocol listener")
	case admit == mesh.ProxyReadHeader && req.ProxySource == "" && !lc.Proxy.AllowMissing:
		e.line("client", "no PROXY header, and this listener requires one")
		return nil, e.done(0, "connection closed without a response: PROXY header missing")
	case req.ProxySource != "" && admit == mesh.ProxyDirect:
		e.line("client", "PROXY header from %s not honoured: the listener does not take PROXY headers from this peer", req.ProxySource)
		if lc.Proxy == nil {
			return nil, e.done(0, "connection fails: the PROXY header is read as a malformed request")
		}
	case req.ProxySource != "":
		src, err := parseAddrPort(req.ProxySource, "")
		if err != nil {
			e.line("client", "PROXY source %q: %v", req.ProxySource, err)
			return nil, e.done(0, "bad PROXY source address")
		}
		ci.Proxied = true
		r.RemoteAddr = src.String()
		e.line("client", "PROXY header source %s: the downstream address", src.Addr())
	}
	return ci, nil
}

// parseAddrPort reads "ip" or "ip:port" (port 40000 when absent).
func parseAddrPort(s, def string) (netip.AddrPort, error) {
	if s == "" {
		s = def
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, errors.New("want an IP address, optionally with a port")
	}
	return netip.AddrPortFrom(a.Unmap(), 40000), nil
}
