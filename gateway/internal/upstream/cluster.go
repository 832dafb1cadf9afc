package upstream

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
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// Cluster is where one route destination sends requests: the endpoints of
// a service port, narrowed to a subset when the route names one, with the
// DestinationRule's policy for them. It belongs to one Snapshot; its
// endpoints share connection pools that outlive it.
type Cluster struct {
	// Name follows Envoy's "outbound|port|subset|host" so that logs and
	// dumps read like Istio's.
	Name      string
	Host      string // the service host, qualified
	Port      uint32
	Subset    string
	Endpoints []*Endpoint
	lb        balancer
	LBName    string
	Hash      *HashPolicy // consistent-hash key source; nil for none
	Limits    transport.Limits
	Outlier   *OutlierConfig
	// ConnectTimeout bounds each new upstream connection.
	ConnectTimeout time.Duration
	// SendProxy is the PROXY protocol version (1 or 2) written at the start
	// of each forwarded TCP connection; 0 for none.
	SendProxy byte
	// ProxyFrom is the DestinationRule that asked for SendProxy.
	ProxyFrom *config.Resource

	active  atomic.Int64 // requests in flight (http2MaxRequests)
	retries atomic.Int64 // retries in flight (maxRetries)
}

// Endpoint is one address of a cluster.
type Endpoint struct {
	Addr   string // "host:port" or "unix:///path"
	Labels map[string]string
	Weight uint32
	Pool   *transport.Pool
	active atomic.Int64 // requests in flight from this cluster
	health health
}

// Pick chooses the endpoint for an attempt: by the cluster's balancer,
// among endpoints not ejected, avoiding those already tried when another
// is available (Envoy's previous-hosts retry predicate, which Istio drops
// for consistent hashing). It returns nil when no endpoint is usable.
func (c *Cluster) Pick(key string, tried []*Endpoint) *Endpoint {
	if len(c.Endpoints) == 0 {
		return nil
	}
	now := time.Now()
	healthy := usable // no endpoint is ejected, or all are (panic): any will do
	if c.Outlier != nil && !c.panicking(now) {
		healthy = func(ep *Endpoint) bool { return !ep.health.ejected(now) }
	}
	if len(tried) > 0 && c.Hash == nil && len(c.Endpoints) > 1 {
		fresh := func(ep *Endpoint) bool { return healthy(ep) && !slices.Contains(tried, ep) }
		if ep := c.lb.pick(c.Endpoints, key, fresh); ep != nil {
			return ep
		}
	}
	return c.lb.pick(c.Endpoints, key, healthy)
}

// usable takes any endpoint; a function without captures, so choosing it
// costs no allocation.
func usable(*Endpoint) bool { return true }

// Send runs one attempt against ep, enforcing the cluster's request limit
// and counting the requests in flight until the response body is closed.
func (c *Cluster) Send(ctx context.Context, eng transport.Engine, ep *Endpoint, req *transport.Request) (*http.Response, error) {
	if !c.Admit() {
		return nil, transport.ErrOverflow
	}
	ep.active.Add(1)
	done := func() {
		c.active.Add(-1)
		ep.active.Add(-1)
	}
	resp, err := eng.RoundTrip(ctx, ep.Pool, req)
	if err != nil || resp.StatusCode == http.StatusSwitchingProtocols {
		done()
		return resp, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// Admit counts a request in flight, refusing it when the cluster's
// http2MaxRequests is reached.
func (c *Cluster) Admit() bool {
	max := c.Limits.MaxRequests
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

// AllowRetry takes a slot of the cluster's retry budget (maxRetries) for
// the duration of the current request.
func (c *Cluster) AllowRetry() bool {
	max := c.Limits.MaxRetries
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

// IsClientSide reports errors that say nothing about the upstream's
// health: the client's body failed, the request could not be sent as it
// stood, or the client went away.
func IsClientSide(err error) bool {
	return errors.As(err, new(*transport.ClientBodyError)) || errors.As(err, new(*transport.RequestError)) || errors.Is(err, context.Canceled)
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

// Builder resolves route destinations into clusters, once each.
type Builder struct {
	reg      *Registry
	pools    *transport.PoolSet
	byKey    map[clusterKey]router.UpstreamID
	clusters []*Cluster
}

// NewBuilder returns a builder of the clusters of one compile, resolving
// destinations through reg and taking connection pools from pools.
func NewBuilder(reg *Registry, pools *transport.PoolSet) *Builder {
	return &Builder{reg: reg, pools: pools, byKey: map[clusterKey]router.UpstreamID{}}
}

// Clusters returns the clusters built so far, indexed by UpstreamID.
func (b *Builder) Clusters() []*Cluster { return b.clusters }

// Registry returns the registry destinations are resolved through.
func (b *Builder) Registry() *Registry { return b.reg }

// Plan returns the cluster a destination would resolve to, without
// keeping it.
func (b *Builder) Plan(d router.Destination, ns string, listenerPort uint32) *Cluster {
	_, c := b.plan(d, ns, listenerPort)
	return c
}

// Cluster returns the cluster of id, or nil.
func (b *Builder) Cluster(id router.UpstreamID) *Cluster {
	if id < 0 || int(id) >= len(b.clusters) {
		return nil
	}
	return b.clusters[id]
}

// Resolve implements router.Resolver.
func (b *Builder) Resolve(d router.Destination, ns string, listenerPort uint32) router.UpstreamID {
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
func (b *Builder) plan(d router.Destination, ns string, listenerPort uint32) (clusterKey, *Cluster) {
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
	pol := EffectivePolicy(dr, d.Subset, port)
	sendProxy := dr.ProxyVersion()
	c := &Cluster{Name: clusterName(k), Host: q, Port: port, Subset: d.Subset, Limits: LimitsOf(pol.Pool),
		Outlier: OutlierOf(pol.Outlier), Hash: HashPolicyOf(pol.LB), LBName: BalancerName(pol.LB)}
	c.ConnectTimeout = c.Limits.ConnectTimeout
	c.SendProxy = sendProxy
	if sendProxy != 0 {
		c.ProxyFrom = dr.Res
	}
	var sp *ServicePort
	if svc != nil {
		if sp = svc.Port(port); sp == nil {
			return k, nil
		}
	}
	ps := b.poolSpec(c, pol, sp, d.Host)
	if svc == nil {
		if d.Subset == "" || len(sel) == 0 {
			c.Endpoints = []*Endpoint{b.endpoint(net.JoinHostPort(d.Host, strconv.Itoa(int(port))), nil, 1, ps)}
		}
	} else {
		c.Endpoints = b.serviceEndpoints(svc, sp, sel, ps)
	}
	c.lb = newBalancer(pol.LB, c.Endpoints)
	return k, c
}

// poolSpec works out how the cluster's connections are made: TLS from the
// policy (server name defaulting to the destination host), HTTP/2 for
// HTTP2 and GRPC ports or h2UpgradePolicy UPGRADE, and pool settings. A
// connection limit makes the pools the cluster's own.
func (b *Builder) poolSpec(c *Cluster, pol Policy, sp *ServicePort, sni string) poolSpec {
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
	spec.key.H2 = (spec.key.H2 || c.Limits.UpgradeH2) && !c.Limits.KeepProto
	spec.opts.Limits = c.Limits
	spec.key.Settings = c.Limits.PoolSettings()
	if c.Limits.MaxConnections > 0 && !spec.key.H2 {
		spec.key.Settings = c.Name + " " + spec.key.Settings
		spec.opts.Limiter = b.pools.Limiter(spec.key.Settings, c.Limits)
	}
	return spec
}

// poolSpec is a pool key without its address, with the options to build it.
type poolSpec struct {
	key  transport.PoolKey
	opts transport.PoolOptions
}

// serviceEndpoints lists the endpoints of a ServiceEntry port whose labels
// include sel. Without inline endpoints, the entry's own host names are the
// endpoints (resolution DNS, and NONE, which a gateway resolves by DNS);
// resolution STATIC without endpoints has none (security.md UP-01: 503 no
// healthy upstream, nothing dialled).
func (b *Builder) serviceEndpoints(svc *Service, sp *ServicePort, sel map[string]string, ps poolSpec) []*Endpoint {
	port := sp.Number
	if sp.TargetPort != 0 {
		port = sp.TargetPort
	}
	var out []*Endpoint
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

func (b *Builder) endpoint(addr string, labels map[string]string, weight uint32, ps poolSpec) *Endpoint {
	k := ps.key
	k.Addr = addr
	return &Endpoint{Addr: addr, Labels: maps.Clone(labels), Weight: weight, Pool: b.pools.Get(k, ps.opts)}
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

// Active returns the cluster's requests in flight.
func (c *Cluster) Active() int64 { return c.active.Load() }

// HoldRetry counts a request that is retrying against the cluster's retry
// budget (maxRetries) until release is called, once the request ends.
func (c *Cluster) HoldRetry() (release func()) {
	c.retries.Add(1)
	return func() { c.retries.Add(-1) }
}

// Hold counts a connection or request in flight to ep (what LEAST_REQUEST
// balances by) until release is called.
func (ep *Endpoint) Hold() (release func()) {
	ep.active.Add(1)
	return func() { ep.active.Add(-1) }
}
