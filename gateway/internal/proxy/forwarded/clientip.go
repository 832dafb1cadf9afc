package forwarded

import (
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// Client are the addresses the gateway knows a request by, in Envoy's
// terms (use_remote_address: true, xff_num_trusted_hops: N).
type Client struct {
	// Peer is the physical peer of the connection: source.ip and ipBlocks.
	// PROXY protocol and X-Forwarded-For never change it.
	Peer netip.Addr
	// Downstream is the connection's remote address: the PROXY source
	// when the connection carried a PROXY header, else the peer. It is
	// appended to X-Forwarded-For.
	Downstream string
	// Remote is the trusted client address: the Nth address from the right
	// of the X-Forwarded-For received (N = numTrustedProxies), or the
	// downstream address when N is 0, the header has fewer than N entries
	// or that entry is not an address. It is remote.ip, remoteIpBlocks and
	// X-Envoy-External-Address.
	Remote netip.Addr
	// Hops is N, the number of trusted proxies in front of the gateway.
	Hops uint32
	// Via names where remote came from, for explain: "peer", "PROXY
	// header" or "X-Forwarded-For".
	Via string
}

// Resolve works out a request's addresses from its connection and
// its X-Forwarded-For header, trusting hops proxies.
func Resolve(ci *listener.ConnInfo, r *downstream.Request, hops uint32) Client {
	c := Client{Downstream: transport.HostOf(r.RemoteAddr), Hops: hops, Via: "peer"}
	down, _ := netip.ParseAddr(c.Downstream)
	down = down.Unmap()
	c.Peer = ci.Peer.Addr().Unmap()
	if !c.Peer.IsValid() {
		c.Peer = down
	}
	if ci.Proxied {
		c.Via = "PROXY header"
	}
	c.Remote = down
	if a, ok := xffFromRight(r.Header["X-Forwarded-For"], hops); ok {
		c.Remote, c.Via = a, "X-Forwarded-For"
	}
	return c
}

// xffFromRight returns the nth address from the right of X-Forwarded-For
// (its header lines read as one comma-separated list). It fails when n is
// 0, the list is shorter than n, or that entry is not an IP address: the
// leftmost entries are whatever the client wrote, and never trusted.
func xffFromRight(vs []string, n uint32) (netip.Addr, bool) {
	if n == 0 {
		return netip.Addr{}, false
	}
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		for {
			j := strings.LastIndexByte(v, ',')
			n--
			if n == 0 {
				a, err := netip.ParseAddr(strings.Trim(v[j+1:], " \t"))
				if err != nil || a.Zone() != "" {
					return netip.Addr{}, false
				}
				return a.Unmap(), true
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return netip.Addr{}, false
}

// SetHeaders adds what an Istio gateway adds to every request:
// the downstream address appended to X-Forwarded-For, the trusted client
// address as X-Envoy-External-Address, X-Forwarded-Proto (the client's is
// kept only behind trusted proxies), an X-Request-Id when the client sent
// none, and X-Forwarded-Client-Cert for an mTLS client.
func SetHeaders(r *downstream.Request, c *Client, ci *listener.ConnInfo, mode mesh.XFCCMode) {
	h := r.Header
	setClientCert(h, r.TLS, ci, mode)
	// The values set here share one backing array (each capped at its
	// own element, so an append elsewhere copies): one allocation a
	// request instead of three.
	vals := make([]string, 0, 3)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	if prior := h["X-Forwarded-For"]; len(prior) > 0 {
		set("X-Forwarded-For", joinXFF(prior, c.Downstream))
	} else {
		set("X-Forwarded-For", c.Downstream)
	}
	if c.Remote.IsValid() {
		set("X-Envoy-External-Address", c.Remote.String())
	}
	if c.Hops == 0 || !validProto(h["X-Forwarded-Proto"]) {
		h["X-Forwarded-Proto"] = protoValue(r)
	}
	if len(h["X-Request-Id"]) == 0 {
		set("X-Request-Id", newRequestID())
	}
}

// validProto reports whether a received X-Forwarded-Proto is a single
// "http" or "https".
func validProto(vs []string) bool {
	return len(vs) == 1 && (vs[0] == "http" || vs[0] == "https")
}

// UntrustedHeaders are client-supplied claims about the client that only
// a trusted proxy may make; they are removed when the gateway trusts no
// proxy in front of it.
var UntrustedHeaders = []string{"Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-Ip", "X-Client-Ip"}

// OverrideHeaders ask some frameworks to act on another method or path
// than the one policy checked; they never reach an upstream.
var OverrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Rewrite-Url"}

// SanitizeTrust removes the headers a client may not set for the
// upstream given how many proxies the gateway trusts.
func SanitizeTrust(h http.Header, hops uint32) {
	if hops == 0 {
		for _, k := range UntrustedHeaders {
			delete(h, k)
		}
	}
	for _, k := range OverrideHeaders {
		delete(h, k)
	}
}

// Written are the headers SetHeaders writes.
var Written = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "X-Envoy-External-Address", "X-Forwarded-Client-Cert"}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

func protoValue(r *downstream.Request) []string {
	if r.TLS != nil {
		return protoHTTPS
	}
	return protoHTTP
}

// joinXFF appends addr to the X-Forwarded-For values received; empty
// values add nothing.
func joinXFF(prior []string, addr string) string {
	n := len(addr)
	for _, p := range prior {
		n += len(p) + 2
	}
	b := make([]byte, 0, n)
	for _, p := range prior {
		if p = strings.TrimSpace(p); p != "" {
			b = append(b, p...)
			b = append(b, ", "...)
		}
	}
	return string(append(b, addr...))
}

// newRequestID returns a random version 4 UUID.
func newRequestID() string {
	const hex = "0123456789abcdef"
	hi := rand.Uint64()&^(0xf<<12) | 0x4<<12
	lo := rand.Uint64()&^(0x3<<62) | 0x2<<62
	var b [36]byte
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		v := hi
		if i >= 16 {
			v = lo
		}
		b[j] = hex[(v>>(60-4*(i%16)))&0xf]
		j++
	}
	return string(b[:])
}
