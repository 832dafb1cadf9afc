package authz

import (
	"net/http"
	"net/netip"
	"strings"
)

// condKind is the request attribute one compiled condition looks at.
type condKind uint8

const (
	kPrincipal      condKind = iota // principals, source.principal: peer identity
	kNamespace                      // namespaces, source.namespace
	kServiceAccount                 // serviceAccounts, source.serviceAccount
	kTrustDomain                    // trustDomains, source.trustDomain
	kSourceIP                       // ipBlocks, source.ip
	kRemoteIP                       // remoteIpBlocks, remote.ip
	kDestIP                         // destination.ip
	kDestPort                       // ports, destination.port
	kSNI                            // connection.sni
	kNever                          // attributes gatehouse never has
	kDestService                    // legacy RBAC: ServiceRole services
	kDestName                       // legacy RBAC: destination.name
	kDestNamespace                  // legacy RBAC: destination.namespace
	// The kinds below only exist on HTTP requests.
	kHost
	kMethod
	kPath
	kReqPrincipal
	kAudience
	kPresenter
	kClaim
	kHeader
)

func (k condKind) httpOnly() bool { return k >= kHost }

// pseudo names the request field a request.headers[...] key reads when the
// header is not in http.Header (Go keeps Host and the pseudo-headers out).
type pseudo uint8

const (
	pseudoNone pseudo = iota
	pseudoAuthority
	pseudoMethod
	pseudoPath
	pseudoScheme
)

// cond is one compiled condition: a source or operation field, a "when"
// values or notValues list, a legacy constraint or a RBAC service scope.
// It holds only the matcher its kind needs. Evaluation allocates nothing.
type cond struct {
	field   string   // as written in YAML, for explanations
	raw     []string // the values as written, for explanations
	kind    condKind
	not     bool
	present bool // request.headers value "*": the header is present
	pats    []pattern
	hosts   []hostPattern
	princs  []principalPattern
	paths   []pathMatcher
	ips     *ipSet
	ipList  []netip.Prefix // compile-time scratch for ips
	ports   []uint16
	sas     []saRef
	header  string // canonical header name
	pseudo  pseudo
	claim   []string
	ns      string // kDestService: the ServiceRole's namespace
}

// saRef is a serviceAccounts value "ns/sa".
type saRef struct{ ns, sa string }

// evalCtx is what conditions are evaluated against.
type evalCtx struct {
	r         *Request
	tok       *Identity // supplies request.auth.*; nil without a token
	principal bool      // tok also supplies request.auth.principal
	tr        *tracer   // nil unless explaining
}

// eval reports whether the condition holds, applying not.
func (c *cond) eval(x *evalCtx) bool {
	return c.positive(x) != c.not
}

// positive reports whether the attribute matches one of the values. A
// missing attribute never matches, so its notX form always holds.
func (c *cond) positive(x *evalCtx) bool {
	r := x.r
	switch c.kind {
	case kPrincipal:
		return r.PeerPrincipal != "" && anyMatch(c.pats, r.PeerPrincipal)
	case kNamespace, kTrustDomain, kServiceAccount:
		return c.peerMatch(r.PeerPrincipal)
	case kSourceIP:
		return c.ips.Contains(r.SourceIP)
	case kRemoteIP:
		return c.ips.Contains(r.RemoteIP)
	case kDestIP:
		return c.ips.Contains(r.Local.Addr())
	case kDestPort:
		return r.Local.IsValid() && containsPort(c.ports, r.Local.Port())
	case kSNI:
		return anyMatch(c.pats, r.SNI)
	case kDestService:
		return destNamespace(r.Destination) == c.ns && anyMatch(c.pats, r.Destination)
	case kDestName:
		return anyMatch(c.pats, destName(r.Destination))
	case kDestNamespace:
		return anyMatch(c.pats, destNamespace(r.Destination))
	case kHeader:
		return c.headerMatch(r)
	}
	return c.httpPositive(x)
}

// httpPositive handles the HTTP-only kinds.
func (c *cond) httpPositive(x *evalCtx) bool {
	r := x.r
	switch c.kind {
	case kHost:
		return hostMatch(c.hosts, r.Host, r.Port)
	case kMethod:
		return anyMatch(c.pats, r.Method)
	case kPath:
		for i := range c.paths {
			if c.paths[i].match(r.Path) {
				return true
			}
		}
		return false
	case kReqPrincipal:
		return x.tok != nil && x.principal && x.tok.principalMatch(c.princs)
	case kAudience:
		return x.tok != nil && x.tok.audienceMatch(c.pats)
	case kPresenter:
		return x.tok != nil && anyMatch(c.pats, x.tok.Presenter)
	case kClaim:
		return x.tok != nil && x.tok.claimMatch(c.claim, c.pats)
	}
	return false // kNever
}

// peerMatch matches the namespace, trust domain or service account part
// of a peer principal "td/ns/N/sa/S".
func (c *cond) peerMatch(p string) bool {
	td, ns, sa, ok := parsePeer(p)
	if !ok {
		return false
	}
	switch c.kind {
	case kNamespace:
		return anyMatch(c.pats, ns)
	case kTrustDomain:
		return anyMatch(c.pats, td)
	}
	for _, ref := range c.sas {
		if ref.ns == ns && ref.sa == sa {
			return true
		}
	}
	return false
}

// headerMatch checks every value of the header and every comma-separated
// element of each value (security.md AZ-11).
func (c *cond) headerMatch(r *Request) bool {
	var v string
	switch c.pseudo {
	case pseudoAuthority:
		return hostMatch(c.hosts, r.Host, r.Port)
	case pseudoMethod:
		v = r.Method
	case pseudoPath:
		v = r.Path
	case pseudoScheme:
		v = r.Scheme
	default:
		return c.headerValuesMatch(r.Header)
	}
	return (c.present && v != "") || elementsMatch(c.pats, v)
}

func (c *cond) headerValuesMatch(h http.Header) bool {
	vs, ok := h[c.header]
	if !ok {
		return false
	}
	if c.present {
		return true
	}
	for _, v := range vs {
		if elementsMatch(c.pats, v) {
			return true
		}
	}
	return false
}

func containsPort(ps []uint16, p uint16) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// parsePeer splits a peer principal "td/ns/N/sa/S" (a SPIFFE ID without
// "spiffe://") into its parts.
func parsePeer(p string) (td, ns, sa string, ok bool) {
	td, rest, ok1 := strings.Cut(p, "/ns/")
	ns, sa, ok2 := strings.Cut(rest, "/sa/")
	if !ok1 || !ok2 || td == "" || ns == "" || sa == "" || strings.Contains(sa, "/") {
		return "", "", "", false
	}
	return td, ns, sa, true
}

// destName returns "reviews" for "reviews.default.svc.cluster.local".
func destName(fqdn string) string {
	name, _, _ := strings.Cut(fqdn, ".")
	return name
}

// destNamespace returns "default" for "reviews.default.svc.cluster.local",
// and "" for a host that is not a Kubernetes service name.
func destNamespace(fqdn string) string {
	_, rest, ok := strings.Cut(fqdn, ".")
	if !ok {
		return ""
	}
	ns, rest, _ := strings.Cut(rest, ".")
	if rest != "svc" && !strings.HasPrefix(rest, "svc.") {
		return ""
	}
	return ns
}
