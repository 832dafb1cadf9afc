package router

import (
	"cmp"
	"fmt"
)

// delegateRules applies Istio's validation of delegation: a VirtualService
// without hosts is a delegate (no gateways, tcp, tls or further
// delegation); a root route that delegates needs gateways.
func (c *compiler) delegateRules(vs *VirtualService) {
	if len(vs.Hosts) == 0 {
		if len(vs.Gateways) > 0 {
			c.errf("spec.gateways", "a delegate VirtualService (one without hosts) must not specify gateways")
		}
		if len(vs.TCP) > 0 {
			c.errf("spec.tcp", "a delegate VirtualService (one without hosts) must not have tcp routes")
		}
		if len(vs.TLS) > 0 {
			c.errf("spec.tls", "a delegate VirtualService (one without hosts) must not have tls routes")
		}
	}
	for i := range vs.HTTP {
		d := vs.HTTP[i].Delegate
		path := fmt.Sprintf("spec.http[%d].delegate", i)
		switch {
		case d == nil:
		case len(vs.Hosts) == 0:
			c.errf(path, "a delegate VirtualService cannot delegate again (only one level is supported)")
		case len(vs.Gateways) == 0:
			c.errf(path, "delegation only applies to gateways, and this VirtualService has none")
		case d.Name == "":
			c.errf(path+".name", "required")
		}
	}
}

// routesOf returns vs's HTTP routes with every delegating route replaced
// by the merged routes of its delegate, computing them once per table.
func (b *tableBuilder) routesOf(vs *VS) []*httpRoute {
	if hrs, ok := b.expanded[vs]; ok {
		return hrs
	}
	var out []*httpRoute
	for _, hr := range vs.http {
		if hr.spec.Delegate == nil {
			out = append(out, hr)
			continue
		}
		out = append(out, b.merge(vs, hr)...)
	}
	b.expanded[vs] = out
	return out
}

// expandDelegates indexes the delegate VirtualServices by "ns/name"; the
// first in merge order wins.
func (b *tableBuilder) expandDelegates(vss []*VS) {
	b.expanded = map[*VS][]*httpRoute{}
	b.delegates = map[string]*VS{}
	for _, vs := range vss {
		if k := vs.Meta.Key(); vs.IsDelegate() && b.delegates[k] == nil {
			b.delegates[k] = vs
		}
	}
}

// merge replaces the delegating route hr of root with its delegate's
// routes, as Istio's mergeHTTPRoutes does. A missing delegate skips the
// route; a delegate route whose match cannot be narrowed into the root's
// matches is dropped. Both are reported as warnings.
func (b *tableBuilder) merge(root *VS, hr *httpRoute) []*httpRoute {
	d := hr.spec.Delegate
	key := cmp.Or(d.Namespace, root.Meta.Namespace) + "/" + d.Name
	del := b.delegates[key]
	if del == nil {
		b.warn(root, fmt.Sprintf("spec.http[%d].delegate", hr.index),
			"delegate VirtualService %s not found (a delegate is a VirtualService without hosts); the route is skipped", key)
		return nil
	}
	var out []*httpRoute
	for j, dr := range del.http {
		spec, ok := mergeRoute(hr.spec, root.Meta.Namespace, dr.spec, del.Meta.Namespace)
		if !ok {
			b.warn(del, fmt.Sprintf("spec.http[%d].match", j),
				"route dropped when merged into %s http[%d]: one of its matches is not within any match of the root route", root.Meta.Key(), hr.index)
			continue
		}
		c := &compiler{lenient: true}
		m := c.httpRoute(fmt.Sprintf("spec.http[%d]", j), hr.index, spec, del.Meta.Namespace)
		m.delegate = key
		out = append(out, m)
	}
	return out
}

// mergeRoute is Istio's mergeHTTPRoute on copies: the delegate route with
// its matches intersected with the root's and its unset fields inherited.
// Short names are qualified with their own VirtualService's namespace
// first, since the merged route mixes two.
func mergeRoute(root *HTTPRoute, rootNS string, del *HTTPRoute, delNS string) (*HTTPRoute, bool) {
	matches, ok := mergeMatches(resolveMatches(root.Match, rootNS), resolveMatches(del.Match, delNS))
	if !ok {
		return nil, false
	}
	out := *del
	out.Match, out.Name, out.Delegate = matches, joinName(root.Name, del.Name), nil
	out.Route = make([]HTTPRouteDestination, len(del.Route))
	for i, d := range del.Route {
		d.Destination = qualifyDest(d.Destination, delNS)
		out.Route[i] = d
	}
	mirror, mirrors := qualifyMirrors(del, delNS)
	if del.Mirror == nil && root.Mirror != nil {
		mirror, _ = qualifyMirrors(root, rootNS)
	}
	if del.Mirrors == nil {
		_, mirrors = qualifyMirrors(root, rootNS)
	}
	out.Mirror, out.Mirrors = mirror, mirrors
	out.Rewrite = cmp.Or(out.Rewrite, root.Rewrite)
	out.DirectResponse = cmp.Or(out.DirectResponse, root.DirectResponse)
	out.Timeout = cmp.Or(out.Timeout, root.Timeout)
	out.Retries = cmp.Or(out.Retries, root.Retries)
	out.Fault = cmp.Or(out.Fault, root.Fault)
	out.MirrorPercent = cmp.Or(out.MirrorPercent, root.MirrorPercent)
	out.MirrorPercentage = cmp.Or(out.MirrorPercentage, root.MirrorPercentage)
	out.CorsPolicy = cmp.Or(out.CorsPolicy, root.CorsPolicy)
	out.Headers = cmp.Or(out.Headers, root.Headers)
	return &out, true
}

func qualifyDest(d Destination, ns string) Destination {
	d.Host = QualifyHost(d.Host, ns)
	return d
}

func qualifyMirrors(r *HTTPRoute, ns string) (*Destination, []HTTPMirrorPolicy) {
	var mirror *Destination
	if r.Mirror != nil {
		d := qualifyDest(*r.Mirror, ns)
		mirror = &d
	}
	var mirrors []HTTPMirrorPolicy
	for _, m := range r.Mirrors {
		m.Destination = qualifyDest(m.Destination, ns)
		mirrors = append(mirrors, m)
	}
	return mirror, mirrors
}

// resolveMatches copies ms with gateway references resolved in ns, so
// that merged entries keep the meaning they had in their own resource.
func resolveMatches(ms []HTTPMatchRequest, ns string) []HTTPMatchRequest {
	out := make([]HTTPMatchRequest, len(ms))
	for i, m := range ms {
		m.Gateways = resolveAll(m.Gateways, ns)
		out[i] = m
	}
	return out
}

func joinName(root, del string) string {
	switch {
	case del == "":
		return root
	case root == "":
		return del
	}
	return root + "-" + del
}
