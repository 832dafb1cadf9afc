package gateway

import (
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// defaultConnectTimeout is Istio's meshConfig connectTimeout.
const defaultConnectTimeout = 10 * time.Second

// cluster is where one route destination sends requests: the endpoints of
// a service port, narrowed to a subset when the route names one. It belongs
// to one Snapshot; its endpoints share connection pools that outlive it.
type cluster struct {
	// name follows Envoy's "outbound|port|subset|host" so that logs and
	// dumps read like Istio's.
	name      string
	host      string // the service host, qualified
	port      uint32
	subset    string
	endpoints []*endpoint
	next      atomic.Uint32 // round-robin cursor
	// connectTimeout bounds each new upstream connection.
	connectTimeout time.Duration
}

// endpoint is one address of a cluster.
type endpoint struct {
	addr   string // "host:port" or "unix:///path"
	labels map[string]string
	weight uint32
	pool   *connPool
}

// pick returns the next endpoint in round-robin order, or nil when the
// cluster has none.
func (c *cluster) pick() *endpoint {
	switch len(c.endpoints) {
	case 0:
		return nil
	case 1:
		return c.endpoints[0]
	}
	n := c.next.Add(1)
	return c.endpoints[int(n%uint32(len(c.endpoints)))]
}

// clusterKey identifies a cluster within one compile.
type clusterKey struct {
	host   string
	subset string
	port   uint32
}

// clusterName formats Envoy's cluster name.
func clusterName(k clusterKey) string {
	return fmt.Sprintf("outbound|%d|%s|%s", k.port, k.subset, k.host)
}

// clusterBuilder resolves route destinations into clusters, once each.
type clusterBuilder struct {
	reg      *registry
	pools    *poolSet
	byKey    map[clusterKey]router.UpstreamID
	clusters []*cluster
}

// resolve implements router.Resolver.
func (b *clusterBuilder) resolve(d router.Destination, ns string, listenerPort uint32) router.UpstreamID {
	k, c := b.plan(d, ns, listenerPort)
	if c == nil {
		return router.NoUpstream
	}
	if id, ok := b.byKey[k]; ok {
		return id
	}
	id := router.UpstreamID(len(b.clusters))
	b.clusters = append(b.clusters, c)
	b.byKey[k] = id
	return id
}

// plan works out the cluster a destination means, without registering it.
// It returns a nil cluster for a destination that names no cluster (an
// unknown port of a ServiceEntry, or an undefined subset): Envoy answers
// those 503 with an empty body.
func (b *clusterBuilder) plan(d router.Destination, ns string, listenerPort uint32) (clusterKey, *cluster) {
	svc, q := b.reg.lookupHost(d.Host, ns)
	port := listenerPort
	if d.Port != nil && d.Port.Number != 0 {
		port = d.Port.Number
	} else if svc != nil && len(svc.spec.Ports) == 1 {
		port = svc.spec.Ports[0].Number
	}
	k := clusterKey{host: q, subset: d.Subset, port: port}
	var sel map[string]string
	if d.Subset != "" {
		dr := b.reg.rule(d.Host, ns)
		if dr == nil || dr.subset(d.Subset) == nil {
			return k, nil
		}
		sel = dr.subset(d.Subset).Labels
	}
	c := &cluster{name: clusterName(k), host: q, port: port, subset: d.Subset, connectTimeout: defaultConnectTimeout}
	if svc == nil {
		if d.Subset == "" || len(sel) == 0 {
			c.endpoints = []*endpoint{b.endpoint(net.JoinHostPort(d.Host, strconv.Itoa(int(port))), nil, 1)}
		}
		return k, c
	}
	sp := svc.port(port)
	if sp == nil {
		return k, nil
	}
	c.endpoints = b.serviceEndpoints(svc, sp, sel)
	return k, c
}

// serviceEndpoints lists the endpoints of a ServiceEntry port whose labels
// include sel. Without inline endpoints, the entry's own host names are the
// endpoints (resolution DNS).
func (b *clusterBuilder) serviceEndpoints(svc *service, sp *ServicePort, sel map[string]string) []*endpoint {
	port := sp.Number
	if sp.TargetPort != 0 {
		port = sp.TargetPort
	}
	var out []*endpoint
	if len(svc.spec.Endpoints) == 0 {
		if len(sel) > 0 {
			return nil
		}
		for _, h := range svc.spec.Hosts {
			if !strings.HasPrefix(h, "*") {
				out = append(out, b.endpoint(net.JoinHostPort(h, strconv.Itoa(int(port))), nil, 1))
			}
		}
		return out
	}
	for _, ep := range svc.spec.Endpoints {
		if !labelsMatch(ep.Labels, sel) {
			continue
		}
		p := port
		if n, ok := ep.Ports[sp.Name]; ok {
			p = n
		}
		addr := ep.Address
		if !strings.HasPrefix(addr, "unix://") {
			addr = net.JoinHostPort(addr, strconv.Itoa(int(p)))
		}
		out = append(out, b.endpoint(addr, ep.Labels, max(ep.Weight, 1)))
	}
	return out
}

func (b *clusterBuilder) endpoint(addr string, labels map[string]string, weight uint32) *endpoint {
	return &endpoint{addr: addr, labels: maps.Clone(labels), weight: weight, pool: b.pools.get(poolKey{addr: addr})}
}

// labelsMatch reports whether have includes every label of want.
func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}
