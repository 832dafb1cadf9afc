package gateway

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// A RouteRule (Istio 0.2-0.7) applies to all traffic for its destination
// service. At a gateway that traffic comes from Ingress routes (RouteRules
// predate Gateways), so each RouteRule refines the Ingress routes whose
// destination is its service: legacy_vs.go puts, before each such route,
// one route per RouteRule (highest precedence first) matching the
// intersection of the Ingress path and the rule's match, with the rule's
// actions. The translation of each field follows what Pilot 0.x generated
// for Envoy (pilot/pkg/proxy/envoy/v1 route.go, header.go, fault.go) where
// it differs from the proto comments.

// routeRule is a validated RouteRule, translated except for what depends
// on the Ingress route it refines (match, ports).
type routeRule struct {
	res  *resource
	spec *RouteRuleSpec
	host string // destination FQDN
	uri  *router.StringMatch
	re   legacyRegex
	cond router.HTTPMatchRequest // scheme, method, authority, headers
	// route holds the actions; its destinations lack ports.
	route      router.HTTPRoute
	dests      []legacyDest
	mirror     *legacyDest
	prefixLike string // the prefix a rewrite.uri replaces ("" when the whole path)
	routedTo   bool   // an Ingress routes to host
	overlaps   bool   // its match overlaps the path of such a route
	applied    bool   // it refined at least one Ingress route
}

// legacyDest is a RouteRule destination: a service and the labels of the
// DestinationRule subset to synthesize.
type legacyDest struct {
	host   string
	labels map[string]string
}

// legacyRegex is a RouteRule uri regex, compiled for full matches, with
// the literal every match starts with.
type legacyRegex struct {
	full     *regexp.Regexp
	literal  string
	complete bool
}

// ingressSources are the services an Istio 0.x ingress ran as; a
// match.source naming one of them applies at the gateway.
var ingressSources = []string{"istio-ingress", "istio-ingressgateway"}

// routeRules validates every RouteRule and groups the usable ones by
// destination host, highest precedence first (ties by name, namespace).
func (t *legacyTranslator) routeRules(rs []*resource) map[string][]*routeRule {
	out := map[string][]*routeRule{}
	for _, r := range rs {
		if rr := t.routeRule(r); rr != nil {
			out[rr.host] = append(out[rr.host], rr)
		}
	}
	for _, list := range out {
		slices.SortStableFunc(list, func(a, b *routeRule) int {
			if c := cmp.Compare(b.spec.Precedence, a.spec.Precedence); c != 0 {
				return c
			}
			if c := cmp.Compare(a.res.Meta.Name, b.res.Meta.Name); c != 0 {
				return c
			}
			if c := cmp.Compare(a.res.Meta.Namespace, b.res.Meta.Namespace); c != 0 {
				return c
			}
			return cmp.Compare(a.res.order, b.res.order)
		})
	}
	return out
}

// rrHost is IstioService's FQDN (model.ResolveHostname): service when set,
// else name.namespace.svc.domain, namespace and domain defaulting to the
// rule's namespace and cluster.local.
func rrHost(s *RouteRuleService, ns string) string {
	if s.Service != "" {
		return s.Service
	}
	if s.Namespace != "" {
		ns = s.Namespace
	}
	domain := legacyClusterDomain
	if s.Domain != "" {
		domain = s.Domain
	}
	return s.Name + "." + ns + ".svc." + domain
}

// routeRule validates and translates one RouteRule; nil when it has errors
// or cannot apply at a gateway.
func (t *legacyTranslator) routeRule(r *resource) *routeRule {
	spec := r.Spec.(*RouteRuleSpec)
	ps := t.ps
	before := ps.errorCount()
	rr := &routeRule{res: r, spec: spec}
	switch d := spec.Destination; {
	case d == nil:
		ps.errf(r, "spec.destination", "required: the service the rule applies to")
		return nil
	case d.Name == "" && d.Service == "":
		ps.errf(r, "spec.destination.name", "required")
		return nil
	case len(d.Labels) > 0:
		ps.warnf(r, "spec.destination.labels", "ignored: a RouteRule destination is the whole service; pick versions with route[].labels")
	}
	rr.host = rrHost(spec.Destination, r.Meta.Namespace)
	if !t.rrMatch(rr) {
		return nil
	}
	rr.route.Name = "routerule." + r.Meta.Namespace + "." + r.Meta.Name
	t.rrRoute(rr)
	t.rrPolicies(rr)
	if ps.errorCount() > before {
		return nil
	}
	if !t.rrCompiles(rr) {
		return nil
	}
	return rr
}

// rrMatch translates match; false when the rule cannot apply at a gateway.
func (t *legacyTranslator) rrMatch(rr *routeRule) bool {
	m, r := rr.spec.Match, rr.res
	if m == nil {
		return true
	}
	if s := m.Source; s != nil && !slices.Contains(ingressSources, s.Name) && !slices.Contains(ingressSources, strings.Split(s.Service, ".")[0]) {
		t.ps.warnf(r, "spec.match.source", "RouteRule skipped: it only applies to requests from %s, and at a gateway requests come from the gateway itself (istio-ingress)", rrHost(s, r.Meta.Namespace))
		return false
	}
	for _, l4 := range []struct {
		name string
		set  bool
	}{{"tcp", m.TCP != nil}, {"udp", m.UDP != nil}} {
		if l4.set {
			t.ps.warnf(r, "spec.match."+l4.name, "ignored: layer 4 conditions only apply to TCP and UDP traffic")
		}
	}
	if m.Request == nil {
		return true
	}
	for _, k := range slices.Sorted(maps.Keys(m.Request.Headers)) {
		p := "spec.match.request.headers." + k
		sm := rrStringMatch(m.Request.Headers[k])
		n := 0
		for _, s := range []*string{sm.Exact, sm.Prefix, sm.Regex} {
			if s != nil {
				n++
			}
		}
		if n != 1 {
			t.ps.errf(r, p, "exactly one of exact, prefix or regex is required")
			continue
		}
		switch k {
		case "uri":
			rr.uri = sm
			if sm.Regex != nil {
				re, err := router.CompileRegex(*sm.Regex)
				if err != nil {
					t.ps.errf(r, p+".regex", "%v", err)
					continue
				}
				rr.re.full = re
				rr.re.literal, rr.re.complete = re.LiteralPrefix()
			}
		case "scheme":
			rr.cond.Scheme = sm
		case "method":
			rr.cond.Method = sm
		case "authority":
			rr.cond.Authority = sm
		default:
			if rr.cond.Headers == nil {
				rr.cond.Headers = map[string]*router.StringMatch{}
			}
			rr.cond.Headers[strings.ToLower(k)] = sm
		}
	}
	return true
}

// rrStringMatch converts a StringMatch. A uri regex becomes a path regex:
// Pilot 0.x turned it into a match on a header named "uri", which no
// request has, so the old behaviour is not worth keeping.
func rrStringMatch(m *RouteRuleStringMatch) *router.StringMatch {
	if m == nil {
		return &router.StringMatch{}
	}
	return &router.StringMatch{Exact: m.Exact, Prefix: m.Prefix, Regex: m.Regex}
}

// rrRoute translates route, redirect, rewrite and mirror.
func (t *legacyTranslator) rrRoute(rr *routeRule) {
	spec, r, ps := rr.spec, rr.res, t.ps
	if rd := spec.Redirect; rd != nil {
		for _, c := range []struct {
			set  bool
			what string
		}{{len(spec.Route) > 0, "route"}, {spec.HTTPFault != nil, "httpFault"}, {spec.Rewrite != nil, "rewrite"}} {
			if c.set {
				ps.errf(r, "spec.redirect", "a rule cannot contain both redirect and %s", c.what)
			}
		}
		if rd.URI == "" && rd.Authority == "" {
			ps.errf(r, "spec.redirect", "redirect must set uri, authority or both")
		}
		// Envoy v1 redirects answered 301 (the proto comment says 302).
		rr.route.Redirect = &router.HTTPRedirect{URI: rd.URI, Authority: rd.Authority}
	} else {
		t.rrDestinations(rr)
	}
	if rw := spec.Rewrite; rw != nil {
		if rw.URI == "" && rw.Authority == "" {
			ps.errf(r, "spec.rewrite", "rewrite must set uri, authority or both")
		}
		rr.route.Rewrite = &router.HTTPRewrite{URI: rw.URI, Authority: rw.Authority}
		rr.prefixLike = "/"
		switch {
		case rr.uri == nil:
		case rr.uri.Prefix != nil:
			rr.prefixLike = *rr.uri.Prefix
		default: // exact and regex matches replace the whole path
			rr.prefixLike = ""
		}
	}
	if m := spec.Mirror; m != nil {
		if m.Name == "" && m.Service == "" {
			ps.errf(r, "spec.mirror.name", "required")
			return
		}
		rr.mirror = &legacyDest{host: rrHost(m, r.Meta.Namespace), labels: m.Labels}
		rr.route.Mirror = &router.Destination{Host: rr.mirror.host}
	}
}

// rrDestinations translates route[]: no entry means the rule's service;
// a single entry gets all the traffic whatever its weight; several must
// add up to 100 and each name labels or a destination.
func (t *legacyTranslator) rrDestinations(rr *routeRule) {
	spec, r, ps := rr.spec, rr.res, t.ps
	if len(spec.Route) == 0 {
		rr.dests = []legacyDest{{host: rr.host}}
		rr.route.Route = []router.HTTPRouteDestination{{Destination: router.Destination{Host: rr.host}, Weight: 100}}
		return
	}
	sum := int32(0)
	for i, dw := range spec.Route {
		p := fmt.Sprintf("spec.route[%d]", i)
		d := legacyDest{host: rr.host, labels: dw.Labels}
		if dd := dw.Destination; dd != nil {
			if dd.Name == "" && dd.Service == "" {
				ps.errf(r, p+".destination.name", "required")
			}
			if len(dd.Labels) > 0 {
				ps.warnf(r, p+".destination.labels", "ignored: Istio 0.x took the version from route[].labels")
			}
			d.host = rrHost(dd, r.Meta.Namespace)
		}
		switch {
		case dw.Weight < 0 || dw.Weight > 100:
			ps.errf(r, p+".weight", "weight %d is not in range 0-100", dw.Weight)
		case len(spec.Route) > 1 && dw.Destination == nil && len(dw.Labels) == 0:
			ps.errf(r, p, "with several destinations, each needs labels or a destination")
		}
		sum += dw.Weight
		w := dw.Weight
		if len(spec.Route) == 1 {
			w = 100 // a single destination takes all the traffic
		}
		rr.dests = append(rr.dests, d)
		rr.route.Route = append(rr.route.Route, router.HTTPRouteDestination{Destination: router.Destination{Host: d.host}, Weight: w})
	}
	if len(spec.Route) > 1 && sum != 100 {
		ps.errf(r, "spec.route", "the weights add up to %d; they must total 100", sum)
	}
}

// legacyCondEmpty reports whether m has no condition besides uri.
func legacyCondEmpty(m *router.HTTPMatchRequest) bool {
	return m.Scheme == nil && m.Method == nil && m.Authority == nil && len(m.Headers) == 0
}
