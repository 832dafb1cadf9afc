package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// policyParts are the four components of a traffic policy that override
// one another as wholes.
type policyParts struct {
	lb      *upstream.LoadBalancerSettings
	pool    *upstream.ConnectionPool
	outlier *upstream.OutlierDetection
	tls     *upstream.ClientTLSSettings
}

// partsFor returns the components of tp that apply to port: a matching
// portLevelSettings entry replaces the top level wholesale (components it
// omits fall back to defaults, not to the top level), as Istio does.
func partsFor(tp *upstream.TrafficPolicy, port uint32) policyParts {
	if tp == nil {
		return policyParts{}
	}
	for _, pl := range tp.PortLevelSettings {
		if pl.Port != nil && pl.Port.Number == port {
			return policyParts{pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pl.TLS}
		}
	}
	return policyParts{tp.LoadBalancer, tp.ConnectionPool, tp.OutlierDetection, tp.TLS}
}

// effectivePolicy merges a DestinationRule's policy for one port and
// subset: a subset's components replace the rule's, one component at a time
// (Istio's MergeTrafficPolicy).
func effectivePolicy(dr *destRule, subset string, port uint32) policyParts {
	if dr == nil {
		return policyParts{}
	}
	p := partsFor(dr.spec.TrafficPolicy, port)
	if s := dr.subset(subset); s != nil && s.TrafficPolicy != nil {
		sp := partsFor(s.TrafficPolicy, port)
		if sp.lb != nil {
			p.lb = sp.lb
		}
		if sp.pool != nil {
			p.pool = sp.pool
		}
		if sp.outlier != nil {
			p.outlier = sp.outlier
		}
		if sp.tls != nil {
			p.tls = sp.tls
		}
	}
	return p
}

// poolLimits are a cluster's connection-pool settings (Envoy circuit
// breakers and connection options). Zero means unlimited or default.
type poolLimits struct {
	maxConnections       int
	maxPending           int
	maxRequests          int64
	maxRetries           int64
	maxRequestsPerConn   int
	idleTimeout          time.Duration
	connectTimeout       time.Duration
	maxConnDuration      time.Duration // tcp.maxConnectionDuration
	upgradeH2, keepProto bool
}

func limitsOf(cp *upstream.ConnectionPool) poolLimits {
	l := poolLimits{connectTimeout: defaultConnectTimeout}
	if cp == nil {
		return l
	}
	if t := cp.TCP; t != nil {
		l.maxConnections = int(t.MaxConnections)
		if t.ConnectTimeout != nil {
			l.connectTimeout = t.ConnectTimeout.D()
		}
		if t.IdleTimeout != nil {
			l.idleTimeout = t.IdleTimeout.D()
		}
		if t.MaxConnectionDuration != nil {
			l.maxConnDuration = t.MaxConnectionDuration.D()
		}
	}
	if h := cp.HTTP; h != nil {
		l.maxPending = int(h.HTTP1MaxPendingRequests)
		l.maxRequests = int64(h.HTTP2MaxRequests)
		l.maxRetries = int64(h.MaxRetries)
		l.maxRequestsPerConn = int(h.MaxRequestsPerConnection)
		if h.IdleTimeout != nil {
			l.idleTimeout = h.IdleTimeout.D()
		}
		l.upgradeH2 = strings.EqualFold(h.H2UpgradePolicy, "UPGRADE")
		l.keepProto = h.UseClientProtocol
	}
	return l
}

// poolSettings is the part of the limits that shapes the connections
// themselves; pools with different settings are different pools.
func (l poolLimits) poolSettings() string {
	if l.maxConnections == 0 && l.maxRequestsPerConn == 0 && l.idleTimeout == 0 && l.maxConnDuration == 0 {
		return ""
	}
	return fmt.Sprintf("conns=%d pending=%d perconn=%d idle=%s life=%s", l.maxConnections, l.maxPending, l.maxRequestsPerConn, l.idleTimeout, l.maxConnDuration)
}

// outlierConfig is a compiled outlierDetection block.
type outlierConfig struct {
	consecutive5xx     int
	consecutiveGateway int
	baseEjection       time.Duration
	maxEjectionPercent int
	minHealthPercent   int
}

// maxEjectionTime caps how long repeated ejections last (Envoy's default).
const maxEjectionTime = 300 * time.Second

func outlierOf(od *upstream.OutlierDetection) *outlierConfig {
	if od == nil {
		return nil
	}
	c := &outlierConfig{consecutive5xx: 5, baseEjection: 30 * time.Second, maxEjectionPercent: 10, minHealthPercent: int(od.MinHealthPercent)}
	switch {
	case od.Consecutive5xxErrors != nil:
		c.consecutive5xx = int(*od.Consecutive5xxErrors)
	case od.ConsecutiveErrors > 0:
		c.consecutive5xx = int(od.ConsecutiveErrors)
	}
	if od.ConsecutiveGatewayErrors != nil {
		c.consecutiveGateway = int(*od.ConsecutiveGatewayErrors)
	}
	if od.BaseEjectionTime != nil {
		c.baseEjection = od.BaseEjectionTime.D()
	}
	if od.MaxEjectionPercent != nil {
		c.maxEjectionPercent = int(*od.MaxEjectionPercent)
	}
	return c
}
