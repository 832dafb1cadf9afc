package router

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/textproto"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// VS is a validated, compiled VirtualService. It is immutable and may be
// shared by every Table built from one configuration.
type VS struct {
	Meta api.Meta
	// Key is the caller's identifier for the resource, echoed in BuildTable
	// warnings.
	Key int
	// Hosts are the VirtualService hosts with short names qualified.
	Hosts []string
	// Gateways are the resolved "ns/name" references ("mesh" for the mesh).
	Gateways []string
	http     []*httpRoute
	tcp      []*l4Route
	tls      []*l4Route
	delegate bool
}

// httpRoute is one compiled HTTPRoute; its destinations are resolved per
// Table because they may depend on the listener port.
type httpRoute struct {
	index    int
	name     string
	ns       string // namespace for short destination names
	spec     *HTTPRoute
	matches  []*matchEntry
	action   *Action
	delegate string // "ns/name" of the delegate VirtualService it came from
}

// matchEntry is one HTTPMatchRequest with its config-time filters.
type matchEntry struct {
	name     string
	cond     condition
	port     uint32
	gateways []string
	// filtered is true when port, gateways, sourceLabels or
	// sourceNamespace may drop the entry at build time.
	filtered bool
	// broken is true when the entry has an error (a regex that does not
	// compile): its conditions are incomplete, so it is no catch-all.
	broken bool
	// prefix is true for a prefix uri match, or no uri at all (Istio
	// matches prefix "/"): rewrites replace the prefixLen matched bytes.
	prefix    bool
	prefixLen int
}

// CompileVirtualService validates vs and compiles its matchers. Every
// problem is returned, each as an *api.FieldError with its YAML path.
func CompileVirtualService(meta api.Meta, key int, vs *VirtualService) (*VS, []error) {
	return NewCompiler().VirtualService(meta, key, vs)
}

// Compiler compiles the VirtualServices of one configuration, sharing what
// they have in common: a regular expression written in many routes is
// compiled once and kept once. It is not safe for concurrent use.
type Compiler struct {
	regexes map[string]regexResult
	actions map[actionKey]*Action
}

type regexResult struct {
	re   *regexp.Regexp
	err  error
	used bool // looked up since the last Sweep
}

// NewCompiler returns a Compiler with empty caches.
func NewCompiler() *Compiler {
	return &Compiler{regexes: map[string]regexResult{}, actions: map[actionKey]*Action{}}
}

// Sweep forgets what no compile has used since the previous Sweep, so a
// Compiler kept across configuration reloads does not grow without bound.
func (cc *Compiler) Sweep() {
	clear(cc.actions)
	for k, r := range cc.regexes {
		if !r.used {
			delete(cc.regexes, k)
			continue
		}
		r.used = false
		cc.regexes[k] = r
	}
}

// VirtualService validates vs and compiles its matchers, as
// CompileVirtualService does.
func (cc *Compiler) VirtualService(meta api.Meta, key int, vs *VirtualService) (*VS, []error) {
	c := &compiler{shared: cc}
	out := &VS{Meta: meta, Key: key, delegate: len(vs.Hosts) == 0}
	out.Hosts = c.hosts(vs, meta.Namespace)
	for _, g := range vs.Gateways {
		out.Gateways = append(out.Gateways, ResolveGateway(g, meta.Namespace))
	}
	if len(vs.HTTP) == 0 && len(vs.TCP) == 0 && len(vs.TLS) == 0 {
		c.errf("spec", "at least one of http, tcp or tls routes is required")
	}
	c.delegateRules(vs)
	for i := range vs.HTTP {
		if r := c.httpRoute(fmt.Sprintf("spec.http[%d]", i), i, &vs.HTTP[i], meta.Namespace); r != nil {
			out.http = append(out.http, r)
		}
	}
	c.unreachable(out.http)
	out.tcp = c.tcpRoutes(vs, meta.Namespace)
	out.tls = c.tlsRoutes(vs, out.Hosts, meta.Namespace)
	return out, c.errs
}

// IsDelegate reports whether the VirtualService is a delegate: one without
// hosts, whose routes only apply through a root route's delegate field.
func (vs *VS) IsDelegate() bool { return vs.delegate }

// compiler collects the problems of one resource. lenient skips the
// exclusivity checks, for routes merged from a delegate, which Istio
// translates without validating them again.
type compiler struct {
	errs    []error
	lenient bool
	shared  *Compiler // nil: nothing shared
}

// regex compiles a whole-string RE2 expression through the shared cache.
func (c *compiler) regex(expr string) (*regexp.Regexp, error) {
	if c.shared == nil {
		return CompileRegex(expr)
	}
	r, ok := c.shared.regexes[expr]
	if !ok {
		r.re, r.err = CompileRegex(expr)
	}
	r.used = true
	c.shared.regexes[expr] = r
	return r.re, r.err
}

func (c *compiler) errf(path, format string, args ...any) {
	c.errs = append(c.errs, api.Errorf(path, format, args...))
}

func (c *compiler) warnf(path, format string, args ...any) {
	c.errs = append(c.errs, api.Warning(api.Errorf(path, format, args...)))
}

// MaxHosts bounds the hosts of one VirtualService or Gateway server. A
// list that long is a generated mistake, and every host costs compile
// time and memory on each reload (security.md CFG-07).
const MaxHosts = 10000

func (c *compiler) hosts(vs *VirtualService, ns string) []string {
	if len(vs.Hosts) > MaxHosts {
		c.errf("spec.hosts", "%d hosts; the limit is %d", len(vs.Hosts), MaxHosts)
		return nil
	}
	var out []string
	// Overlaps are found without comparing every host with every other
	// (a VirtualService may list 100 000): a plain name against the plain
	// names seen, through a map; wildcards, which are few, one by one.
	exact := map[string]int{}
	var wild []int
	for i, h := range vs.Hosts {
		path := fmt.Sprintf("spec.hosts[%d]", i)
		if err := validateVSHost(h); err != nil {
			c.errf(path, "%v", err)
			continue
		}
		q := QualifyHost(h, ns)
		for _, j := range overlaps(out, exact, wild, q) {
			c.errf(path, "duplicate host %q overlaps %q in the same VirtualService", h, out[j])
		}
		if isWild(q) {
			wild = append(wild, len(out))
		} else if _, seen := exact[q]; !seen {
			exact[q] = len(out)
		}
		out = append(out, q)
	}
	return out
}

// overlaps returns the indexes, in order, of the hosts in out that q
// overlaps (HostsMatch); exact indexes out's plain names, wild its
// wildcards.
func overlaps(out []string, exact map[string]int, wild []int, q string) []int {
	var found []int
	if isWild(q) {
		for j, o := range out {
			if HostsMatch(o, q) {
				found = append(found, j)
			}
		}
		return found
	}
	if j, ok := exact[q]; ok {
		found = append(found, j)
	}
	for _, j := range wild {
		if HostsMatch(out[j], q) {
			found = append(found, j)
		}
	}
	slices.Sort(found)
	return found
}

func validateVSHost(h string) error {
	switch {
	case h == "":
		return errors.New("empty host")
	case strings.Contains(h, "/"):
		return fmt.Errorf("host %q must not contain '/'", h)
	case strings.Contains(h[1:], "*"):
		return fmt.Errorf("host %q: '*' is only allowed as the first character", h)
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	for _, label := range strings.Split(strings.TrimPrefix(h, "*"), ".") {
		if len(label) > 63 {
			return fmt.Errorf("host %q: label longer than 63 characters", h)
		}
	}
	return nil
}

func (c *compiler) httpRoute(path string, index int, r *HTTPRoute, ns string) *httpRoute {
	out := &httpRoute{index: index, name: r.Name, ns: ns, spec: r}
	c.routeKind(path, r)
	for i := range r.Match {
		if m := c.matchEntry(fmt.Sprintf("%s.match[%d]", path, i), &r.Match[i], ns); m != nil {
			out.matches = append(out.matches, m)
		}
	}
	if len(r.Match) == 0 {
		out.matches = []*matchEntry{{prefix: true, prefixLen: 1}}
	}
	out.action = c.action(path, r, out.matches)
	for i := range r.Route {
		c.destination(fmt.Sprintf("%s.route[%d].destination", path, i), &r.Route[i].Destination)
		if r.Route[i].Weight < 0 {
			c.errf(fmt.Sprintf("%s.route[%d].weight", path, i), "weight must not be negative")
		}
	}
	if len(r.Route) > 1 && totalWeight(r.Route) == 0 {
		c.errf(path+".route", "every destination has weight 0, so no request could be routed")
	}
	return out
}

func totalWeight(ds []HTTPRouteDestination) int64 {
	var t int64
	for _, d := range ds {
		t += int64(max(d.Weight, 0))
	}
	return t
}

func (c *compiler) routeKind(path string, r *HTTPRoute) {
	n := 0
	for _, set := range []bool{len(r.Route) > 0, r.Redirect != nil, r.DirectResponse != nil, r.Delegate != nil} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		c.errf(path, "one of route, redirect, directResponse or delegate is required")
	case n > 1:
		c.errf(path, "only one of route, redirect, directResponse or delegate may be set")
	}
}

func (c *compiler) destination(path string, d *Destination) {
	switch {
	case d.Host == "":
		c.errf(path+".host", "required")
	case d.Host == "*" || strings.Contains(d.Host, "*"):
		c.errf(path+".host", "a destination host cannot be a wildcard (%q)", d.Host)
	}
	if d.Port != nil && (d.Port.Number == 0 || d.Port.Number > 65535) {
		c.errf(path+".port.number", "port %d out of range 1-65535", d.Port.Number)
	}
}

func (c *compiler) matchEntry(path string, m *HTTPMatchRequest, ns string) *matchEntry {
	e := &matchEntry{name: m.Name, port: m.Port, prefix: m.URI == nil, prefixLen: 1}
	before := len(c.errs)
	defer func() {
		for _, err := range c.errs[before:] {
			if !api.IsWarning(err) {
				e.broken = true
			}
		}
	}()
	e.filtered = m.Port != 0 || len(m.Gateways) > 0 || len(m.SourceLabels) > 0 || m.SourceNamespace != ""
	if m.Port > 65535 {
		c.errf(path+".port", "port %d out of range", m.Port)
	}
	for _, g := range m.Gateways {
		e.gateways = append(e.gateways, ResolveGateway(g, ns))
	}
	e.cond.uri = c.strMatch(path+".uri", m.URI, false)
	if m.URI != nil && m.URI.Prefix != nil {
		e.prefix, e.prefixLen = true, len(*m.URI.Prefix)
	}
	if m.IgnoreURICase && e.cond.uri.kind != matchRegex {
		e.cond.uri.fold = true
	}
	var rest matchRest
	rest.scheme = c.strMatch(path+".scheme", m.Scheme, false)
	rest.method = c.strMatch(path+".method", m.Method, false)
	rest.authority = c.strMatch(path+".authority", m.Authority, false)
	rest.headers = c.headerMatchers(path+".headers", m.Headers)
	rest.without = c.headerMatchers(path+".withoutHeaders", m.WithoutHeaders)
	for _, k := range slices.Sorted(maps.Keys(m.QueryParams)) {
		rest.query = append(rest.query, queryMatcher{name: k, m: c.strMatch(path+".queryParams."+k, m.QueryParams[k], true)})
	}
	if !rest.empty() {
		e.cond.rest = &rest
	}
	return e
}

func (c *compiler) headerMatchers(path string, hs map[string]*StringMatch) []headerMatcher {
	var out []headerMatcher
	for _, k := range slices.Sorted(maps.Keys(hs)) {
		p := path + "." + k
		h := headerMatcher{m: c.strMatch(p, hs[k], true)}
		if claim, ok := claimPath(k); ok {
			if claim == nil {
				c.errf(p, "malformed claim reference %q", k)
				continue
			}
			h.claim = claim
		} else {
			if !validHeaderName(k) {
				c.errf(p, "invalid header name %q", k)
				continue
			}
			h.name = textproto.CanonicalMIMEHeaderKey(k)
		}
		out = append(out, h)
	}
	return out
}

// claimPath parses "@request.auth.claims.a.b" or "@request.auth.claims[a][b]".
func claimPath(k string) ([]string, bool) {
	rest, ok := strings.CutPrefix(k, "@request.auth.claims")
	if !ok {
		return nil, false
	}
	if dotted, ok := strings.CutPrefix(rest, "."); ok {
		parts := strings.Split(dotted, ".")
		for _, p := range parts {
			if p == "" {
				return nil, true
			}
		}
		return parts, true
	}
	var parts []string
	for rest != "" {
		if rest[0] != '[' {
			return nil, true
		}
		end := strings.IndexByte(rest, ']')
		if end <= 1 {
			return nil, true
		}
		parts = append(parts, rest[1:end])
		rest = rest[end+1:]
	}
	if len(parts) == 0 {
		return nil, true
	}
	return parts, true
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}
