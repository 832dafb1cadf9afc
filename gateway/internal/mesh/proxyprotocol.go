package mesh

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
	"gopkg.in/yaml.v3"
)

// Annotations gatehouse adds to Istio's configuration, on the resource
// that turns the PROXY protocol on (an EnvoyFilter, an IstioOperator, the
// istio ConfigMap, or a Gateway with a proxy.istio.io/config annotation).
// Istio has no way to say which peers may send a PROXY header; these do.
const (
	// AnnotationProxyTrusted lists the addresses and CIDRs of the load
	// balancers allowed to send PROXY headers, comma-separated. Trusting
	// every peer is only possible on purpose, with the value "any": a
	// catch-all CIDR (0.0.0.0/0, ::/0) is an error.
	AnnotationProxyTrusted = "gatehouse.io/proxy-protocol-trusted-cidrs"
	// AnnotationProxyUntrusted says what happens to a connection from any
	// other peer: "reject" (default: closed at once) or "plain" (served as
	// a direct client; a PROXY header it sends is not honoured).
	AnnotationProxyUntrusted = "gatehouse.io/proxy-protocol-untrusted"
	// AnnotationProxyTimeout bounds how long a PROXY header may take to
	// arrive (default 3s).
	AnnotationProxyTimeout = "gatehouse.io/proxy-protocol-timeout"
	// annotationProxyConfig is Istio's per-gateway proxy configuration.
	annotationProxyConfig = "proxy.istio.io/config"
)

// DefaultProxyHeaderTimeout bounds the wait for a PROXY header.
const DefaultProxyHeaderTimeout = 3 * time.Second

// ProxySettings is how a listener takes PROXY protocol headers.
type ProxySettings struct {
	// Trusted are the peers that may send a header; nil means every peer
	// must (Istio's behaviour).
	Trusted []netip.Prefix
	// PlainUntrusted serves peers outside trusted as direct clients
	// instead of closing their connections.
	PlainUntrusted bool
	// AllowMissing lets trusted peers connect without a header (Envoy's
	// allow_requests_without_proxy_protocol).
	AllowMissing bool
	Timeout      time.Duration
	// From names the resource that turned it on, for logs and dumps.
	From string
}

// ProxyAdmission is what a listener with PROXY settings does with a new
// connection, by its peer.
type ProxyAdmission uint8

const (
	// ProxyDirect serves the connection with its peer as the client: the
	// listener takes no PROXY headers (nil settings), or takes none from
	// this peer and serves such peers directly.
	ProxyDirect ProxyAdmission = iota
	// ProxyReadHeader reads a PROXY header first (a missing one is
	// refused unless AllowMissing).
	ProxyReadHeader
	// ProxyRefuse closes the connection: an untrusted peer.
	ProxyRefuse
)

// Admit says what a listener with settings p does with a connection from
// peer; the listener and explain both ask it.
func (p *ProxySettings) Admit(peer netip.Addr) ProxyAdmission {
	switch {
	case p == nil:
		return ProxyDirect
	case p.IsTrusted(peer):
		return ProxyReadHeader
	case p.PlainUntrusted:
		return ProxyDirect
	}
	return ProxyRefuse
}

// IsTrusted reports whether peer may send a PROXY header.
func (p *ProxySettings) IsTrusted(peer netip.Addr) bool {
	if p.Trusted == nil {
		return true
	}
	peer = peer.Unmap()
	for _, t := range p.Trusted {
		if t.Contains(peer) {
			return true
		}
	}
	return false
}

// proxySettingsOf reads the gatehouse.io annotations of the resource that
// turned the PROXY protocol on.
func proxySettingsOf(r *config.Resource, allowMissing bool, ps *config.Problems) *ProxySettings {
	p := &ProxySettings{Timeout: DefaultProxyHeaderTimeout, AllowMissing: allowMissing, From: r.Kind + " " + r.Meta.Key()}
	ann := r.Meta.Annotations
	if v, ok := ann[AnnotationProxyTrusted]; ok && strings.TrimSpace(v) == "any" {
		ps.Warnf(r, "metadata.annotations", "%s: any: every peer may send PROXY headers and so choose its own client address; only safe when this port is reachable through your load balancer alone", AnnotationProxyTrusted)
	} else if ok {
		p.Trusted = trustedPrefixes(r, v, ps)
	} else {
		ps.Warnf(r, "metadata", "PROXY protocol headers are accepted from any peer, which lets any client choose its own address; annotate %s with the load balancer's addresses", AnnotationProxyTrusted)
	}
	switch v := ann[AnnotationProxyUntrusted]; v {
	case "", "reject":
	case "plain":
		p.PlainUntrusted = true
	default:
		ps.Errf(r, "metadata.annotations", "%s: %q: want reject or plain", AnnotationProxyUntrusted, v)
	}
	if v, ok := ann[AnnotationProxyTimeout]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > time.Minute {
			ps.Errf(r, "metadata.annotations", "%s: %q: want a duration such as 2s (at most 1m)", AnnotationProxyTimeout, v)
		} else {
			p.Timeout = d
		}
	}
	if allowMissing {
		ps.Warnf(r, "spec", "allow_requests_without_proxy_protocol: connections without a PROXY header are served as direct clients")
	}
	return p
}

// trustedPrefixes parses the trusted-cidrs annotation. A prefix that
// covers every address is refused (security.md CIP-07): trusting every
// peer lets any client pick its own address, so it must be asked for by
// name ("any"), never reached by a CIDR typed in haste.
func trustedPrefixes(r *config.Resource, v string, ps *config.Problems) []netip.Prefix {
	out := []netip.Prefix{}
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pfx, err := router.ParsePrefix(s)
		switch {
		case err != nil:
			ps.Errf(r, "metadata.annotations", "%s: %v", AnnotationProxyTrusted, err)
		case pfx.Bits() == 0:
			ps.Errf(r, "metadata.annotations", "%s: %s trusts every peer to send PROXY headers, which lets any client choose its own address; list your load balancers' addresses, or write \"any\" to trust every peer on purpose", AnnotationProxyTrusted, s)
		default:
			out = append(out, pfx)
		}
	}
	return out
}

// parseProxyConfig reads a proxy.istio.io/config annotation value.
func parseProxyConfig(r *config.Resource, v string, ps *config.Problems) *ProxyConfig {
	var pc ProxyConfig
	dec := yaml.NewDecoder(strings.NewReader(v))
	if err := dec.Decode(&pc); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// gatewayTopology's only numbers are numTrustedProxies.
			for i, e := range te.Errors {
				_, msg, _ := strings.Cut(e, ": ")
				te.Errors[i] = "numTrustedProxies: " + config.FriendlyYAML(msg)
			}
			err = errors.New(strings.Join(te.Errors, "; "))
		}
		ps.Errf(r, "metadata.annotations", "%s: %v", annotationProxyConfig, err)
		return nil
	}
	return &pc
}

// Describe names the PROXY settings for dumps.
func (p *ProxySettings) Describe() string {
	if p == nil {
		return ""
	}
	s := "required from any peer"
	if p.Trusted != nil {
		s = fmt.Sprintf("required from %v", p.Trusted)
		if p.PlainUntrusted {
			s += ", others served as direct clients"
		} else {
			s += ", others refused"
		}
	}
	if p.AllowMissing {
		s += ", optional"
	}
	return s + " (" + p.From + ")"
}
