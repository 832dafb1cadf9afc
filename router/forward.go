package router

import "fmt"

// UpstreamID identifies an upstream cluster in the gateway's snapshot. The
// router never interprets it.
type UpstreamID int32

// NoUpstream is returned by a Resolver for a destination that names no
// known cluster; requests routed to it get 503, as Envoy's "NC".
const NoUpstream UpstreamID = -1

// Resolver turns a route destination into an upstream. ns is the
// VirtualService's namespace (for short names) and port the listener port
// (used when the destination names no port and the service has several).
type Resolver func(d Destination, ns string, port uint32) UpstreamID

// Forward holds a route's resolved destinations.
type Forward struct {
	Dests []Dest
	total uint32
}

// Dest is one weighted destination.
type Dest struct {
	Upstream UpstreamID
	Weight   uint32
	// Host, Subset and Port are the destination as written, for logs and
	// config dumps.
	Host   string
	Subset string
	Port   uint32
	// Authority, when not empty, replaces the Host of requests sent to this
	// destination: the route's rewrite.authority or headers.request.set
	// host, else this destination's own headers.request.set host.
	Authority string
	// RequestHeaders and ResponseHeaders are the header operations for a
	// request forwarded to this destination: route-level and
	// destination-level operations merged in Istio's order (see HeaderOps).
	// Nil means none; Apply is nil-safe.
	RequestHeaders  *HeaderOps
	ResponseHeaders *HeaderOps
}

// Pick chooses a destination by weight; n must be a uniformly random
// number. It returns nil when the route has no destinations.
func (f *Forward) Pick(n uint32) *Dest {
	switch len(f.Dests) {
	case 0:
		return nil
	case 1:
		return &f.Dests[0]
	}
	n %= f.total
	for i := range f.Dests {
		if n < f.Dests[i].Weight {
			return &f.Dests[i]
		}
		n -= f.Dests[i].Weight
	}
	return &f.Dests[len(f.Dests)-1]
}

// keptDests returns the indexes of the destinations that receive traffic:
// all of them when there is one, else those with a positive weight.
func keptDests(ds []HTTPRouteDestination) []int {
	var out []int
	for i, d := range ds {
		if len(ds) == 1 || d.Weight > 0 {
			out = append(out, i)
		}
	}
	return out
}

func resolveForward(r *httpRoute, ns string, port uint32, resolve Resolver) *Forward {
	f := &Forward{}
	ds := r.spec.Route
	for _, i := range keptDests(ds) {
		d := ds[i]
		w := uint32(max(d.Weight, 0))
		if len(ds) == 1 {
			w = 1
		}
		dest := Dest{Upstream: resolve(d.Destination, ns, port), Weight: w, Host: d.Destination.Host, Subset: d.Destination.Subset}
		if d.Destination.Port != nil {
			dest.Port = d.Destination.Port.Number
		}
		if r.action != nil && i < len(r.action.dests) {
			eff := r.action.dests[i]
			dest.Authority, dest.RequestHeaders, dest.ResponseHeaders = eff.authority, eff.req, eff.resp
		}
		f.Dests = append(f.Dests, dest)
		f.total += w
	}
	return f
}

// String describes the destination for logs.
func (d *Dest) String() string {
	s := d.Host
	if d.Subset != "" {
		s += "|" + d.Subset
	}
	if d.Port != 0 {
		s += fmt.Sprintf(":%d", d.Port)
	}
	return s
}

// Mirror is one resolved mirror destination of a route: a fire-and-forget
// copy of a share of the forwarded requests. Current Istio sends the copy
// with the same Host (no "-shadow" suffix), after the route's rewrite and
// request header operations.
type Mirror struct {
	// Dest is the mirror destination; Weight is unused.
	Dest Dest
	// PPM is the share of requests mirrored, in parts per million
	// (1_000_000 when the percentage is absent).
	PPM uint32
}

// Sample reports whether this request is mirrored; rnd must be uniformly
// random.
func (m *Mirror) Sample(rnd uint64) bool { return sample(m.PPM, rnd) }

// String describes the mirror for config dumps.
func (m *Mirror) String() string {
	return fmt.Sprintf("%s at %.4f%%", m.Dest.String(), float64(m.PPM)/10000)
}

// mirrorSpec is a mirror before its destination is resolved per table.
type mirrorSpec struct {
	dest Destination
	ppm  uint32
}

// mirrors compiles mirror (with mirrorPercentage or the deprecated
// mirrorPercent) and mirrors, dropping entries whose percentage is an
// explicit 0 as Istio does.
func (c *compiler) mirrors(path string, r *HTTPRoute) []mirrorSpec {
	var out []mirrorSpec
	if m := c.singleMirror(path, r); m.ppm > 0 {
		out = append(out, m)
	}
	for i := range r.Mirrors {
		m := &r.Mirrors[i]
		p := fmt.Sprintf("%s.mirrors[%d]", path, i)
		c.destination(p+".destination", &m.Destination)
		ppm := uint32(million)
		if m.Percentage != nil {
			ppm = c.percent(p+".percentage", m.Percentage)
		}
		if ppm > 0 {
			out = append(out, mirrorSpec{dest: m.Destination, ppm: ppm})
		}
	}
	return out
}

// singleMirror compiles the mirror field; a zero ppm means no mirror.
func (c *compiler) singleMirror(path string, r *HTTPRoute) mirrorSpec {
	if r.MirrorPercent != nil {
		c.warnf(path+".mirrorPercent", `using deprecated setting "mirrorPercent", use "mirrorPercentage" instead`)
		if *r.MirrorPercent > 100 {
			c.errf(path+".mirrorPercent", "mirrorPercent must have a max value of 100 (it has %d)", *r.MirrorPercent)
		}
	}
	percent := r.MirrorPercent != nil || r.MirrorPercentage != nil
	switch {
	case r.Mirror == nil && percent && len(r.Mirrors) > 0 && !c.lenient:
		c.errf(path, "mirrorPercentage and mirrorPercent apply to mirror; set mirrors[].percentage instead")
	case r.Mirror == nil && percent:
		c.warnf(path, "mirrorPercentage without mirror has no effect")
	}
	if r.Mirror == nil {
		return mirrorSpec{}
	}
	c.destination(path+".mirror", r.Mirror)
	m := mirrorSpec{dest: *r.Mirror, ppm: million}
	switch {
	case r.MirrorPercentage != nil:
		m.ppm = c.percent(path+".mirrorPercentage", r.MirrorPercentage)
		if r.MirrorPercent != nil {
			c.warnf(path+".mirrorPercent", "ignored: mirrorPercentage is set")
		}
	case r.MirrorPercent != nil && *r.MirrorPercent <= 100:
		m.ppm = *r.MirrorPercent * 10000
	}
	return m
}

// resolveMirrors resolves a route's mirrors for one table. Only forwarded
// requests are mirrored.
func resolveMirrors(a *Action, ns string, port uint32, resolve Resolver) []Mirror {
	if a == nil || a.Kind != ActionForward || len(a.mirrors) == 0 {
		return nil
	}
	out := make([]Mirror, 0, len(a.mirrors))
	for _, m := range a.mirrors {
		d := Dest{Upstream: resolve(m.dest, ns, port), Host: m.dest.Host, Subset: m.dest.Subset}
		if m.dest.Port != nil {
			d.Port = m.dest.Port.Number
		}
		out = append(out, Mirror{Dest: d, PPM: m.ppm})
	}
	return out
}
