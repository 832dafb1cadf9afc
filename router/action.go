package router

import (
	"fmt"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

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

// Action is what a matched route does. It is shared by every Route compiled
// from one HTTPRoute and is immutable.
type Action struct {
	// Timeout bounds the whole upstream exchange; 0 means none.
	Timeout time.Duration
}

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

func (c *compiler) action(path string, r *HTTPRoute, _ string) *Action {
	a := &Action{}
	if r.Timeout != nil {
		a.Timeout = c.duration(path+".timeout", *r.Timeout)
	}
	return a
}

// duration checks Istio's lower bound for timeouts and intervals.
func (c *compiler) duration(path string, d api.Duration) time.Duration {
	if d.D() < api.MinDuration {
		c.errf(path, "duration %v is below the 1ms minimum; leave the field out for no limit", d)
	}
	return d.D()
}

func resolveForward(r *httpRoute, ns string, port uint32, resolve Resolver) *Forward {
	f := &Forward{}
	ds := r.spec.Route
	for _, d := range ds {
		w := uint32(max(d.Weight, 0))
		if len(ds) == 1 {
			w = 1
		}
		if w == 0 {
			continue
		}
		dest := Dest{Upstream: resolve(d.Destination, ns, port), Weight: w, Host: d.Destination.Host, Subset: d.Destination.Subset}
		if d.Destination.Port != nil {
			dest.Port = d.Destination.Port.Number
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
