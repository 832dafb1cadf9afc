package router

import (
	"net/netip"
	"strings"
)

// DefaultDomain is the cluster domain used to qualify short service names.
const DefaultDomain = "svc.cluster.local"

// NormalizeHost turns a Host header or :authority into the form virtual
// hosts are matched on: the port is dropped (Istio ignores it at gateways),
// then trailing dots ("admin.example.com." names the same host as
// "admin.example.com", and a policy on one must hold for the other), and
// ASCII letters are lower-cased, as Envoy matches domains. Other
// bytes stay as they are: Unicode case mapping would turn an HTTP/2
// :authority with a Kelvin sign into the plain ASCII name of another
// virtual host, and only when another letter was upper case. It
// allocates only when the value has upper-case letters.
func NormalizeHost(h string) string {
	h = stripPort(h)
	h = strings.TrimRight(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			var b strings.Builder
			b.Grow(len(h))
			b.WriteString(h[:i])
			for ; i < len(h); i++ {
				c := h[i]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
			}
			return b.String()
		}
	}
	return h
}

func stripPort(h string) string {
	host, _ := SplitAuthority(h)
	return host
}

// SplitAuthority splits a Host header or :authority into its host and
// port ("" when it has none) the way NormalizeHost drops the port:
// "a.example.com:8080" is "a.example.com" and "8080", "[::1]:80" is
// "[::1]" and "80", and "::1" (an unbracketed IPv6 address) has no port.
// The port is returned as written, unchecked.
func SplitAuthority(h string) (host, port string) {
	if strings.HasPrefix(h, "[") {
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return h, ""
		}
		if rest := h[i+1:]; strings.HasPrefix(rest, ":") {
			return h[:i+1], rest[1:]
		}
		return h[:i+1], ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[:i], ':') < 0 {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// QualifyHost resolves a short service name in namespace ns to its FQDN, as
// Istio does (ResolveShortnameToFQDN): a name without dots that is not "*"
// and not an IP address gets ".<ns>.svc.cluster.local".
func QualifyHost(h, ns string) string {
	if h == "" || strings.ContainsAny(h, ".*") {
		return h
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return h
	}
	return h + "." + ns + "." + DefaultDomain
}

func isWild(h string) bool { return strings.HasPrefix(h, "*") }

// HostsMatch reports whether two host names overlap, as Istio's
// host.Name.Matches: plain names compare exactly, a wildcard "*X" matches
// any name ending in X, and two wildcards match if one's tail ends with the
// other's.
func HostsMatch(a, b string) bool {
	switch aw, bw := isWild(a), isWild(b); {
	case !aw && !bw:
		return a == b
	case aw && !bw:
		return strings.HasSuffix(b, a[1:])
	case !aw && bw:
		return strings.HasSuffix(a, b[1:])
	default:
		if len(a) < len(b) {
			a, b = b, a
		}
		return strings.HasSuffix(a[1:], b[1:])
	}
}

// HostSubsetOf reports whether every name matched by a is matched by b
// (Istio's host.Name.SubsetOf).
func HostSubsetOf(a, b string) bool {
	switch aw, bw := isWild(a), isWild(b); {
	case !aw && !bw:
		return a == b
	case !aw && bw:
		return strings.HasSuffix(a, b[1:])
	case aw && !bw:
		return false
	default:
		return len(a) >= len(b) && strings.HasSuffix(a[1:], b[1:])
	}
}

// IntersectHosts returns, for every overlapping pair, the more specific
// name, without duplicates and in first-seen order (Istio's
// host.Names.Intersection).
func IntersectHosts(a, b []string) []string {
	var out []string
	add := func(h string) {
		for _, o := range out {
			if o == h {
				return
			}
		}
		out = append(out, h)
	}
	for _, x := range a {
		for _, y := range b {
			switch {
			case HostSubsetOf(x, y):
				add(x)
			case HostSubsetOf(y, x):
				add(y)
			}
		}
	}
	return out
}

// ServerHostsFor returns the server hosts that a VirtualService in
// namespace ns may bind to (Istio's NamesForNamespace). Server hosts are
// written "ns/host", "*/host", "./host" (the Gateway's own namespace gwNS)
// or plain "host" (any namespace).
func ServerHostsFor(serverHosts []string, ns, gwNS string) []string {
	out := make([]string, 0, len(serverHosts))
	for _, h := range serverHosts {
		hostNS, name, ok := strings.Cut(h, "/")
		if !ok {
			out = append(out, h)
			continue
		}
		if hostNS == "." {
			hostNS = gwNS
		}
		if hostNS == "*" || hostNS == ns {
			out = append(out, name)
		}
	}
	return out
}

// ResolveGateway turns a VirtualService's gateway reference into
// "namespace/name" (Istio's resolveGatewayName): "mesh" stays "mesh",
// "ns/name" is kept ("./name" means the VirtualService's namespace ns),
// "name.ns.svc.cluster.local" becomes "ns/name", and a bare "name" is in ns.
func ResolveGateway(ref, ns string) string {
	if ref == "mesh" {
		return ref
	}
	if gwNS, name, ok := strings.Cut(ref, "/"); ok {
		if gwNS == "." {
			gwNS = ns
		}
		return gwNS + "/" + name
	}
	if name, rest, ok := strings.Cut(ref, "."); ok {
		gwNS, _, _ := strings.Cut(rest, ".")
		return gwNS + "/" + name
	}
	return ns + "/" + ref
}
