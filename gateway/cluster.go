package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// cluster is where one route destination sends requests: the endpoints of
// a service port, narrowed to a subset when the route names one, with the
// DestinationRule's policy for them. It belongs to one Snapshot; its
// endpoints share connection pools that outlive it.
type cluster struct {
	// name follows Envoy's "outbound|port|subset|host" so that logs and
	// dumps read like Istio's.
	name      string
	host      string // the service host, qualified
	port      uint32
	subset    string
	endpoints []*endpoint
	lb        balancer
	lbName    string
	hash      *upstream.HashPolicy // consistent-hash key source; nil for none
	limits    upstream.Limits
	outlier   *upstream.OutlierConfig
	// connectTimeout bounds each new upstream connection.
	connectTimeout time.Duration
	// sendProxy is the PROXY protocol version (1 or 2) written at the start
	// of each forwarded TCP connection; 0 for none.
	sendProxy byte
	// proxyFrom is the DestinationRule that asked for sendProxy.
	proxyFrom *config.Resource

	active  atomic.Int64 // requests in flight (http2MaxRequests)
	retries atomic.Int64 // retries in flight (maxRetries)
}

// endpoint is one address of a cluster.
type endpoint struct {
	addr   string // "host:port" or "unix:///path"
	labels map[string]string
	weight uint32
	pool   *upstream.Pool
	active atomic.Int64 // requests in flight from this cluster
	health health
}

// pick chooses the endpoint for an attempt: by the cluster's balancer,
// among endpoints not ejected, avoiding those already tried when another
// is available (Envoy's previous-hosts retry predicate, which Istio drops
// for consistent hashing). It returns nil when no endpoint is usable.
func (c *cluster) pick(key string, tried []*endpoint) *endpoint {
	if len(c.endpoints) == 0 {
		return nil
	}
	now := time.Now()
	all := c.outlier == nil || c.panicking(now)
	healthy := func(ep *endpoint) bool { return all || !ep.health.ejected(now) }
	if len(tried) > 0 && c.hash == nil && len(c.endpoints) > 1 {
		fresh := func(ep *endpoint) bool { return healthy(ep) && !slices.Contains(tried, ep) }
		if ep := c.lb.pick(c.endpoints, key, fresh); ep != nil {
			return ep
		}
	}
	return c.lb.pick(c.endpoints, key, healthy)
}

// send runs one attempt against ep, enforcing the cluster's request limit
// and counting the requests in flight until the response body is closed.
func (c *cluster) send(ctx context.Context, eng upstream.Engine, ep *endpoint, o *outbound) (*http.Response, error) {
	if !c.admit() {
		return nil, upstream.ErrOverflow
	}
	ep.active.Add(1)
	done := func() {
		c.active.Add(-1)
		ep.active.Add(-1)
	}
	resp, err := eng.RoundTrip(ctx, ep.pool, &o.Request)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		done()
		return resp, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// admit counts a request in flight, refusing it when the cluster's
// http2MaxRequests is reached.
func (c *cluster) admit() bool {
	max := c.limits.MaxRequests
	for {
		n := c.active.Load()
		if max > 0 && n >= max {
			return false
		}
		if c.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// allowRetry takes a slot of the cluster's retry budget (maxRetries) for
// the duration of the current request.
func (c *cluster) allowRetry() bool {
	max := c.limits.MaxRetries
	return max <= 0 || c.retries.Load() < max
}

// doneBody calls done once when the body is closed.
type doneBody struct {
	io.ReadCloser
	done func()
	once sync.Once
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

// errorsIsClientSide reports errors that say nothing about the upstream's
// health: the client's body failed, the request could not be sent as it
// stood, or the client went away.
func errorsIsClientSide(err error) bool {
	return errors.As(err, new(*upstream.ClientBodyError)) || errors.As(err, new(*upstream.RequestError)) || errors.Is(err, context.Canceled)
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
	reg      *upstream.Registry
	pools    *upstream.PoolSet
	byKey    map[clusterKey]router.UpstreamID
	clusters []*cluster
	// warnedProxy holds the DestinationRules already warned about.
	warnedProxy map[*config.Resource]bool
}

// cluster returns the cluster of id, or nil.
func (b *clusterBuilder) cluster(id router.UpstreamID) *cluster {
	if id < 0 || int(id) >= len(b.clusters) {
		return nil
	}
	return b.clusters[id]
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
	svc, q := b.reg.LookupHost(d.Host, ns)
	port := listenerPort
	if d.Port != nil && d.Port.Number != 0 {
		port = d.Port.Number
	} else if svc != nil && len(svc.Spec.Ports) == 1 {
		port = svc.Spec.Ports[0].Number
	}
	k := clusterKey{host: q, subset: d.Subset, port: port}
	dr := b.reg.Rule(d.Host, ns)
	var sel map[string]string
	if d.Subset != "" {
		if dr == nil || dr.Subset(d.Subset) == nil {
			return k, nil
		}
		sel = dr.Subset(d.Subset).Labels
	}
	pol := upstream.EffectivePolicy(dr, d.Subset, port)
	sendProxy := dr.ProxyVersion()
	c := &cluster{name: clusterName(k), host: q, port: port, subset: d.Subset, limits: upstream.LimitsOf(pol.Pool),
		outlier: upstream.OutlierOf(pol.Outlier), hash: upstream.HashPolicyOf(pol.LB), lbName: lbName(pol.LB)}
	c.connectTimeout = c.limits.ConnectTimeout
	c.sendProxy = sendProxy
	if sendProxy != 0 {
		c.proxyFrom = dr.Res
	}
	var sp *upstream.ServicePort
	if svc != nil {
		if sp = svc.Port(port); sp == nil {
			return k, nil
		}
	}
	ps := b.poolSpec(c, pol, sp, d.Host)
	if svc == nil {
		if d.Subset == "" || len(sel) == 0 {
			c.endpoints = []*endpoint{b.endpoint(net.JoinHostPort(d.Host, strconv.Itoa(int(port))), nil, 1, ps)}
		}
	} else {
		c.endpoints = b.serviceEndpoints(svc, sp, sel, ps)
	}
	c.lb = newBalancer(pol.LB, c.endpoints)
	return k, c
}

// poolSpec works out how the cluster's connections are made: TLS from the
// policy (server name defaulting to the destination host), HTTP/2 for
// HTTP2 and GRPC ports or h2UpgradePolicy UPGRADE, and pool settings. A
// connection limit makes the pools the cluster's own.
func (b *clusterBuilder) poolSpec(c *cluster, pol upstream.Policy, sp *upstream.ServicePort, sni string) poolSpec {
	var spec poolSpec
	if ut := b.reg.TLSFor(pol.TLS); ut != nil {
		spec.opts.TLS = ut.ForHost(sni)
		spec.key.TLS = ut.Key + "|" + spec.opts.TLS.ServerName
	}
	if sp != nil {
		switch strings.ToUpper(sp.Protocol) {
		case "HTTP2", "GRPC", "GRPC-WEB":
			spec.key.H2 = true
		}
	}
	spec.key.H2 = (spec.key.H2 || c.limits.UpgradeH2) && !c.limits.KeepProto
	spec.opts.Limits = c.limits
	spec.key.Settings = c.limits.PoolSettings()
	if c.limits.MaxConnections > 0 && !spec.key.H2 {
		spec.key.Settings = c.name + " " + spec.key.Settings
		spec.opts.Limiter = b.pools.Limiter(spec.key.Settings, c.limits)
	}
	return spec
}

// poolSpec is a pool key without its address, with the options to build it.
type poolSpec struct {
	key  upstream.PoolKey
	opts upstream.PoolOptions
}

// serviceEndpoints lists the endpoints of a ServiceEntry port whose labels
// include sel. Without inline endpoints, the entry's own host names are the
// endpoints (resolution DNS, and NONE, which a gateway resolves by DNS);
// resolution STATIC without endpoints has none (security.md UP-01: 503 no
// healthy upstream, nothing dialled).
func (b *clusterBuilder) serviceEndpoints(svc *upstream.Service, sp *upstream.ServicePort, sel map[string]string, ps poolSpec) []*endpoint {
	port := sp.Number
	if sp.TargetPort != 0 {
		port = sp.TargetPort
	}
	var out []*endpoint
	if len(svc.Spec.Endpoints) == 0 {
		if len(sel) > 0 || svc.Resolution == "STATIC" {
			return nil
		}
		for _, h := range svc.Spec.Hosts {
			if !strings.HasPrefix(h, "*") {
				out = append(out, b.endpoint(net.JoinHostPort(h, strconv.Itoa(int(port))), nil, 1, ps))
			}
		}
		return out
	}
	for _, ep := range svc.Spec.Endpoints {
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
		out = append(out, b.endpoint(addr, ep.Labels, max(ep.Weight, 1), ps))
	}
	return out
}

func (b *clusterBuilder) endpoint(addr string, labels map[string]string, weight uint32, ps poolSpec) *endpoint {
	k := ps.key
	k.Addr = addr
	return &endpoint{addr: addr, labels: maps.Clone(labels), weight: weight, pool: b.pools.Get(k, ps.opts)}
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
