package router

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// l4Route is one compiled TCP or TLS route of a VirtualService.
type l4Route struct {
	index   int
	matches []l4Match
	dests   []RouteDestination
}

type l4Match struct {
	port     uint32
	gateways []string
	subnets  []netip.Prefix
	sniHosts []string
}

// L4Table routes the connections of one TCP or TLS-passthrough server.
// It is immutable.
type L4Table struct {
	tcp []*L4Route
	sni map[string]*L4Route // exact and "*.suffix" SNI names, lower-cased
	// sniLens are the distinct wildcard suffix lengths, longest first.
	sniLens []int
	star    *L4Route
}

// L4Route is a TCP or TLS route: where a matching connection goes.
type L4Route struct {
	// VirtualService and Index name the route's origin, for logs.
	VirtualService string
	Index          int
	// SNI is the SNI name the route was selected by (TLS routes).
	SNI     string
	Forward *Forward
	subnets []netip.Prefix
}

func (c *compiler) tcpRoutes(vs *VirtualService, ns string) []*l4Route {
	var out []*l4Route
	for i, r := range vs.TCP {
		path := fmt.Sprintf("spec.tcp[%d]", i)
		lr := &l4Route{index: i, dests: r.Route}
		for j, m := range r.Match {
			mp := fmt.Sprintf("%s.match[%d]", path, j)
			lr.matches = append(lr.matches, l4Match{
				port: m.Port, gateways: resolveAll(m.Gateways, ns), subnets: c.subnets(mp, m.DestinationSubnets),
			})
		}
		c.l4Dests(path, r.Route)
		out = append(out, lr)
	}
	return out
}

func (c *compiler) tlsRoutes(vs *VirtualService, hosts []string, ns string) []*l4Route {
	var out []*l4Route
	for i, r := range vs.TLS {
		path := fmt.Sprintf("spec.tls[%d]", i)
		if len(r.Match) == 0 {
			c.errf(path+".match", "a TLS route needs at least one match with sniHosts")
		}
		lr := &l4Route{index: i, dests: r.Route}
		for j, m := range r.Match {
			mp := fmt.Sprintf("%s.match[%d]", path, j)
			if len(m.SNIHosts) == 0 {
				c.errf(mp+".sniHosts", "required")
			}
			for k, h := range m.SNIHosts {
				if !slices.ContainsFunc(hosts, func(vh string) bool { return HostSubsetOf(QualifyHost(h, ns), vh) }) {
					c.errf(fmt.Sprintf("%s.sniHosts[%d]", mp, k), "SNI host %q is not one of the VirtualService's hosts", h)
				}
			}
			lr.matches = append(lr.matches, l4Match{
				port: m.Port, gateways: resolveAll(m.Gateways, ns), subnets: c.subnets(mp, m.DestinationSubnets),
				sniHosts: m.SNIHosts,
			})
		}
		c.l4Dests(path, r.Route)
		out = append(out, lr)
	}
	return out
}

func resolveAll(refs []string, ns string) []string {
	var out []string
	for _, g := range refs {
		out = append(out, ResolveGateway(g, ns))
	}
	return out
}

func (c *compiler) subnets(path string, ss []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range ss {
		p, err := ParsePrefix(s)
		if err != nil {
			c.errf(fmt.Sprintf("%s.destinationSubnets[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// ParsePrefix parses a CIDR or a single address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (c *compiler) l4Dests(path string, ds []RouteDestination) {
	if len(ds) == 0 {
		c.errf(path+".route", "at least one destination is required")
	}
	var total int64
	for i := range ds {
		c.destination(fmt.Sprintf("%s.route[%d].destination", path, i), &ds[i].Destination)
		if ds[i].Weight < 0 {
			c.errf(fmt.Sprintf("%s.route[%d].weight", path, i), "weight must not be negative")
		}
		total += int64(max(ds[i].Weight, 0))
	}
	if len(ds) > 1 && total == 0 {
		c.errf(path+".route", "every destination has weight 0, so no connection could be routed")
	}
}

func l4Forward(ds []RouteDestination, ns string, port uint32, resolve Resolver) *Forward {
	hs := make([]HTTPRouteDestination, len(ds))
	for i, d := range ds {
		hs[i] = HTTPRouteDestination{Destination: d.Destination, Weight: d.Weight}
	}
	return resolveForward(&httpRoute{spec: &HTTPRoute{Route: hs}}, ns, port, resolve)
}

// matchesServer reports whether the match entry applies to server s.
func (m *l4Match) matchesServer(vs *VS, s Server) bool {
	if m.port != 0 && m.port != s.Port {
		return false
	}
	if len(m.gateways) > 0 {
		return slices.Contains(m.gateways, s.Gateway)
	}
	return slices.Contains(vs.Gateways, s.Gateway)
}

// serverMatchesVS reports whether the server's hosts overlap the
// VirtualService's hosts (Istio requires it for TCP and TLS routes too).
func serverMatchesVS(s Server, vs *VS) bool {
	gwNS, _, _ := cutNS(s.Gateway)
	for _, sh := range ServerHostsFor(s.Hosts, vs.Meta.Namespace, gwNS) {
		for _, vh := range vs.Hosts {
			if HostsMatch(sh, vh) {
				return true
			}
		}
	}
	return false
}

// BuildTCP builds the route table of a TCP server: the tcp routes of the
// VirtualServices bound to it, in order. A connection takes the first route
// whose destinationSubnets (if any) contain the address it was accepted on.
func BuildTCP(s Server, vss []*VS, resolve Resolver) *L4Table {
	t := &L4Table{}
	for _, vs := range SortVS(vss) {
		if !serverMatchesVS(s, vs) {
			continue
		}
		for _, r := range vs.tcp {
			for _, m := range r.matchesOrAny() {
				if !m.matchesServer(vs, s) {
					continue
				}
				t.tcp = append(t.tcp, &L4Route{
					VirtualService: vs.Meta.Key(), Index: r.index, subnets: m.subnets,
					Forward: l4Forward(r.dests, vs.Meta.Namespace, s.Port, resolve),
				})
			}
		}
	}
	return t
}

func (r *l4Route) matchesOrAny() []l4Match {
	if len(r.matches) == 0 {
		return []l4Match{{}}
	}
	return r.matches
}

// BuildTLS builds the SNI table of a TLS passthrough server: every sniHosts
// entry of a bound tls route becomes a route selected by SNI; the first
// definition of a name wins.
func BuildTLS(s Server, vss []*VS, resolve Resolver) *L4Table {
	return BuildPassthrough([]Server{s}, vss, resolve)
}

// BuildPassthrough builds one SNI table for every TLS passthrough server on
// a port, as Envoy builds one filter chain per SNI name: a name defined by
// an earlier server or VirtualService wins.
func BuildPassthrough(servers []Server, vss []*VS, resolve Resolver) *L4Table {
	t := &L4Table{sni: map[string]*L4Route{}}
	vss = SortVS(vss)
	for _, s := range servers {
		for _, vs := range vss {
			for _, r := range vs.tls {
				for _, m := range r.matches {
					if !m.matchesServer(vs, s) {
						continue
					}
					fwd := l4Forward(r.dests, vs.Meta.Namespace, s.Port, resolve)
					for _, h := range m.sniHosts {
						t.addSNI(strings.ToLower(h), &L4Route{
							VirtualService: vs.Meta.Key(), Index: r.index, SNI: h, subnets: m.subnets, Forward: fwd,
						})
					}
				}
			}
		}
	}
	slices.SortFunc(t.sniLens, func(a, b int) int { return b - a })
	return t
}

func (t *L4Table) addSNI(name string, r *L4Route) {
	if name == "*" {
		if t.star == nil {
			t.star = r
		}
		return
	}
	if _, dup := t.sni[name]; dup {
		return
	}
	t.sni[name] = r
	if isWild(name) && !slices.Contains(t.sniLens, len(name)-1) {
		t.sniLens = append(t.sniLens, len(name)-1)
	}
}

// MatchTCP returns the route for a TCP connection accepted on local.
func (t *L4Table) MatchTCP(local netip.Addr) *L4Route {
	for _, r := range t.tcp {
		if r.allows(local) {
			return r
		}
	}
	return nil
}

// MatchSNI returns the TLS route for a ClientHello's server name (already
// lower-cased): exact name, then the longest wildcard, then "*".
func (t *L4Table) MatchSNI(sni string, local netip.Addr) *L4Route {
	if r := t.sni[sni]; r != nil && r.allows(local) {
		return r
	}
	for _, l := range t.sniLens {
		if len(sni) > l {
			if r := t.sni["*"+sni[len(sni)-l:]]; r != nil && r.allows(local) {
				return r
			}
		}
	}
	if t.star != nil && t.star.allows(local) {
		return t.star
	}
	return nil
}

// Empty reports whether the table has no routes at all.
func (t *L4Table) Empty() bool { return len(t.tcp) == 0 && len(t.sni) == 0 && t.star == nil }

func (r *L4Route) allows(local netip.Addr) bool {
	if len(r.subnets) == 0 {
		return true
	}
	local = local.Unmap()
	for _, p := range r.subnets {
		if p.Contains(local) {
			return true
		}
	}
	return false
}
