package router

import (
	"cmp"
	"slices"
)

// Server is one Gateway server that shares a route table with others: all
// plain HTTP servers on one port, or a single HTTPS server.
type Server struct {
	// Gateway is the Gateway's "namespace/name".
	Gateway string
	// Hosts are the server hosts as written ("ns/host", "./host", "host").
	Hosts []string
	// Port is the server port number.
	Port uint32
	// HTTPSRedirect makes every virtual host of this server answer 301 to
	// https.
	HTTPSRedirect bool
}

// Table is a compiled route configuration: the virtual hosts of one HTTP
// listener port, or of one HTTPS server. It is immutable.
type Table struct {
	exact    map[string]*VHost
	wild     map[string]*VHost // keyed by the suffix after '*'
	wildLens []int             // distinct wildcard suffix lengths, longest first
	star     *VHost
	vhosts   []*VHost
	warnings []Warning
}

// VHost is one virtual host: the domains it serves and its ordered routes.
type VHost struct {
	// Domain is the lower-cased host name or wildcard.
	Domain string
	// RequireTLS answers every plaintext request with a redirect to https.
	RequireTLS bool
	// Routes are tried in order; the first match wins.
	Routes []*Route
}

// Route is one compiled match entry of an HTTPRoute, with its action.
type Route struct {
	// Name is the HTTPRoute name, with ".matchName" when the match entry
	// has one.
	Name string
	// VirtualService is the "namespace/name" the route came from, and
	// Index its position in that VirtualService's http list.
	VirtualService string
	Index          int
	// Match is the position of the match entry, -1 when the route has none.
	Match int
	// PrefixMatch is true when the route matched the path by prefix,
	// including a match entry without uri (Istio matches prefix "/"); a
	// rewrite then replaces only the matched prefix, PrefixLen bytes long.
	// Otherwise (exact, regex) it replaces the whole path.
	PrefixMatch bool
	PrefixLen   int
	Action      *Action
	Forward     *Forward
	// Mirrors are the resolved mirror destinations (forwarded requests
	// only), shared by the Routes of one HTTPRoute.
	Mirrors []Mirror
	// ServerPort is the Gateway server port the table was built for; a
	// redirect with derivePort FROM_REQUEST_PORT uses it.
	ServerPort uint32
	// Delegate is the "namespace/name" of the delegate VirtualService the
	// route was merged from, "" for a route of VirtualService itself.
	Delegate string
	cond     *condition
	catchAll bool
}

// Matches reports whether r satisfies the route's match conditions.
func (rt *Route) Matches(r *Request) bool { return rt.cond.match(r) }

// VHost returns the virtual host for host, which must already be
// normalized (NormalizeHost): exact domain first, then the longest matching
// wildcard, then "*". It returns nil when none matches.
func (t *Table) VHost(host string) *VHost {
	if t == nil {
		return nil
	}
	if v := t.exact[host]; v != nil {
		return v
	}
	for _, l := range t.wildLens {
		if len(host) > l {
			if v := t.wild[host[len(host)-l:]]; v != nil {
				return v
			}
		}
	}
	return t.star
}

// Match returns the first route of v that matches r, or nil.
func (v *VHost) Match(r *Request) *Route {
	for _, rt := range v.Routes {
		if rt.cond.match(r) {
			return rt
		}
	}
	return nil
}

// VHosts returns the table's virtual hosts in a stable order.
func (t *Table) VHosts() []*VHost { return t.vhosts }

// Match returns the route for r, choosing the virtual host by
// r.Authority (NormalizeHost is applied), or nil when no virtual host or no
// route matches (404). It allocates nothing for a lower-case authority.
func (t *Table) Match(r *Request) *Route {
	v := t.VHost(NormalizeHost(r.Authority))
	if v == nil {
		return nil
	}
	return v.Match(r)
}

// BuildTable merges the VirtualServices bound to servers into one route
// table, as Istio builds a gateway's route configuration.
func BuildTable(servers []Server, vss []*VS, resolve Resolver) *Table {
	vss = SortVS(vss)
	b := &tableBuilder{byDomain: map[string]*VHost{}, seen: map[seenKey]bool{}}
	b.expandDelegates(vss)
	idx := newHostIndex(vss)
	for _, s := range servers {
		gwNS, _, _ := cutNS(s.Gateway)
		b.bindServer(s, gwNS, vss, idx, resolve)
		if s.HTTPSRedirect {
			for _, h := range s.Hosts {
				_, name, ok := cutNS(h)
				if !ok {
					name = h
				}
				b.vhost(lower(name)).RequireTLS = true
			}
		}
	}
	return b.table()
}

type seenKey struct {
	vs     *VS
	domain string
}

type tableBuilder struct {
	byDomain  map[string]*VHost
	order     []*VHost
	seen      map[seenKey]bool
	expanded  map[*VS][]*httpRoute // HTTP routes with delegates merged in
	delegates map[string]*VS       // delegate VirtualServices by "ns/name"
	warnings  []Warning
	forwards  map[Dest]*Forward // single-destination Forwards, shared
}

// internForward returns a shared Forward equal to f when f has a single
// destination: in a large configuration most routes send to a few
// services.
func (b *tableBuilder) internForward(f *Forward) *Forward {
	if len(f.Dests) != 1 {
		return f
	}
	if shared, ok := b.forwards[f.Dests[0]]; ok {
		return shared
	}
	if b.forwards == nil {
		b.forwards = map[Dest]*Forward{}
	}
	b.forwards[f.Dests[0]] = f
	return f
}

func (b *tableBuilder) vhost(domain string) *VHost {
	v := b.byDomain[domain]
	if v == nil {
		v = &VHost{Domain: domain}
		b.byDomain[domain] = v
		b.order = append(b.order, v)
	}
	return v
}

// bind adds the routes of vs to the virtual hosts of the names (hosts) it
// shares with server s.
func (b *tableBuilder) bind(s Server, vs *VS, hosts []string, resolve Resolver) {
	if len(hosts) == 0 || !vs.boundTo(s.Gateway) {
		return
	}
	routes := b.translate(vs, b.routesOf(vs), s, resolve)
	for _, h := range hosts {
		d := lower(h)
		if b.seen[seenKey{vs, d}] {
			continue
		}
		b.seen[seenKey{vs, d}] = true
		v := b.vhost(d)
		v.Routes = append(v.Routes, routes...)
		if s.HTTPSRedirect {
			v.RequireTLS = true
		}
	}
}

// translate turns a VirtualService's HTTP routes (delegates merged in)
// into Routes for server s, dropping match entries filtered out by port or
// gateways and stopping after the first catch-all, as Istio's
// BuildHTTPRoutesForVirtualService does.
func (b *tableBuilder) translate(vs *VS, hrs []*httpRoute, s Server, resolve Resolver) []*Route {
	var out []*Route
	key := vs.Meta.Key()
	for _, hr := range hrs {
		fwd := b.internForward(resolveForward(hr, hr.ns, s.Port, resolve))
		mirrors := resolveMirrors(hr.action, hr.ns, s.Port, resolve)
		for i, m := range hr.matches {
			if !m.applies(vs, s) {
				continue
			}
			rt := &Route{
				Name: routeName(hr.name, m.name), VirtualService: key, Index: hr.index, Match: i,
				Action: hr.action, Forward: fwd, Mirrors: mirrors, ServerPort: s.Port, Delegate: hr.delegate,
				cond: &m.cond, catchAll: m.cond.catchAll(),
			}
			if m.prefix {
				rt.PrefixMatch, rt.PrefixLen = true, m.prefixLen
			}
			if len(hr.spec.Match) == 0 {
				rt.Match = -1
			}
			out = append(out, rt)
			if rt.catchAll {
				return out
			}
		}
	}
	return out
}

// boundTo reports whether the VirtualService applies to gateway gw at all:
// through its top-level gateways or through a match entry's gateways.
func (vs *VS) boundTo(gw string) bool {
	if slices.Contains(vs.Gateways, gw) {
		return true
	}
	for _, hr := range vs.http {
		for _, m := range hr.matches {
			if slices.Contains(m.gateways, gw) {
				return true
			}
		}
	}
	return false
}

func (m *matchEntry) applies(vs *VS, s Server) bool {
	if m.port != 0 && m.port != s.Port {
		return false
	}
	if len(m.gateways) > 0 {
		return slices.Contains(m.gateways, s.Gateway)
	}
	return slices.Contains(vs.Gateways, s.Gateway)
}

func routeName(route, match string) string {
	if match == "" {
		return route
	}
	return route + "." + match
}

func (b *tableBuilder) table() *Table {
	t := &Table{exact: map[string]*VHost{}, wild: map[string]*VHost{}, vhosts: b.order, warnings: b.warnings}
	for _, v := range b.order {
		// Catch-all routes go last, keeping the others in order (Istio's
		// SortVHostRoutes).
		slices.SortStableFunc(v.Routes, func(a, b *Route) int {
			return cmp.Compare(boolInt(a.catchAll), boolInt(b.catchAll))
		})
		switch {
		case v.Domain == "*":
			t.star = v
		case isWild(v.Domain):
			suffix := v.Domain[1:]
			t.wild[suffix] = v
			if !slices.Contains(t.wildLens, len(suffix)) {
				t.wildLens = append(t.wildLens, len(suffix))
			}
		default:
			t.exact[v.Domain] = v
		}
	}
	slices.SortFunc(t.wildLens, func(a, b int) int { return cmp.Compare(b, a) })
	return t
}
