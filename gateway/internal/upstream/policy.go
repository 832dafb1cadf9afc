package upstream

import (
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// DefaultConnectTimeout is Istio's meshConfig connectTimeout.
const DefaultConnectTimeout = 10 * time.Second

// Policy are the four components of a traffic policy that override
// one another as wholes.
type Policy struct {
	LB      *LoadBalancerSettings
	Pool    *ConnectionPool
	Outlier *OutlierDetection
	TLS     *ClientTLSSettings
}

// partsFor returns the components of tp that apply to port: a matching
// portLevelSettings entry replaces the top level wholesale (components it
// omits fall back to defaults, not to the top level), as Istio does.
func partsFor(tp *TrafficPolicy, port uint32) Policy {
	if tp == nil {
		return Policy{}
	}
	for _, pl := range tp.PortLevelSettings {
		if pl.Port != nil && pl.Port.Number == port {
			return Policy{pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pl.TLS}
		}
	}
	return Policy{tp.LoadBalancer, tp.ConnectionPool, tp.OutlierDetection, tp.TLS}
}

// EffectivePolicy merges a DestinationRule's policy for one port and
// subset: a subset's components replace the rule's, one component at a time
// (Istio's MergeTrafficPolicy).
func EffectivePolicy(dr *DestRule, subset string, port uint32) Policy {
	if dr == nil {
		return Policy{}
	}
	p := partsFor(dr.Spec.TrafficPolicy, port)
	if s := dr.Subset(subset); s != nil && s.TrafficPolicy != nil {
		sp := partsFor(s.TrafficPolicy, port)
		if sp.LB != nil {
			p.LB = sp.LB
		}
		if sp.Pool != nil {
			p.Pool = sp.Pool
		}
		if sp.Outlier != nil {
			p.Outlier = sp.Outlier
		}
		if sp.TLS != nil {
			p.TLS = sp.TLS
		}
	}
	return p
}

// LimitsOf compiles a connectionPool block.
func LimitsOf(cp *ConnectionPool) transport.Limits {
	l := transport.Limits{ConnectTimeout: DefaultConnectTimeout}
	if cp == nil {
		return l
	}
	if t := cp.TCP; t != nil {
		l.MaxConnections = int(t.MaxConnections)
		if t.ConnectTimeout != nil {
			l.ConnectTimeout = t.ConnectTimeout.D()
		}
		if t.IdleTimeout != nil {
			l.IdleTimeout = t.IdleTimeout.D()
		}
		if t.MaxConnectionDuration != nil {
			l.MaxConnDuration = t.MaxConnectionDuration.D()
		}
	}
	if h := cp.HTTP; h != nil {
		l.MaxPending = int(h.HTTP1MaxPendingRequests)
		l.MaxRequests = int64(h.HTTP2MaxRequests)
		l.MaxRetries = int64(h.MaxRetries)
		l.MaxRequestsPerConn = int(h.MaxRequestsPerConnection)
		if h.IdleTimeout != nil {
			l.IdleTimeout = h.IdleTimeout.D()
		}
		l.UpgradeH2 = strings.EqualFold(h.H2UpgradePolicy, "UPGRADE")
		l.KeepProto = h.UseClientProtocol
	}
	return l
}

// OutlierConfig is a compiled outlierDetection block.
type OutlierConfig struct {
	Consecutive5xx     int
	ConsecutiveGateway int
	BaseEjection       time.Duration
	MaxEjectionPercent int
	MinHealthPercent   int
}

// MaxEjectionTime caps how long repeated ejections last (Envoy's default).
const MaxEjectionTime = 300 * time.Second

func OutlierOf(od *OutlierDetection) *OutlierConfig {
	if od == nil {
		return nil
	}
	c := &OutlierConfig{Consecutive5xx: 5, BaseEjection: 30 * time.Second, MaxEjectionPercent: 10, MinHealthPercent: int(od.MinHealthPercent)}
	switch {
	case od.Consecutive5xxErrors != nil:
		c.Consecutive5xx = int(*od.Consecutive5xxErrors)
	case od.ConsecutiveErrors > 0:
		c.Consecutive5xx = int(od.ConsecutiveErrors)
	}
	if od.ConsecutiveGatewayErrors != nil {
		c.ConsecutiveGateway = int(*od.ConsecutiveGatewayErrors)
	}
	if od.BaseEjectionTime != nil {
		c.BaseEjection = od.BaseEjectionTime.D()
	}
	if od.MaxEjectionPercent != nil {
		c.MaxEjectionPercent = int(*od.MaxEjectionPercent)
	}
	return c
}
