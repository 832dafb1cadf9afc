package upstream

import (
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
)

var (
	lbSimple      = []string{"UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"}
	clientTLSMode = []string{"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"}
	h2Upgrade     = []string{"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"}
)

// validateTrafficPolicy checks the enums, oneofs and durations of a
// DestinationRule traffic policy and its port-level settings.
func validateTrafficPolicy(r *config.Resource, path string, tp *TrafficPolicy, ps *config.Problems) {
	if tp == nil {
		return
	}
	validatePolicyParts(r, path, tp.LoadBalancer, tp.ConnectionPool, tp.OutlierDetection, tp.TLS, ps)
	if pp := tp.ProxyProtocol; pp != nil && pp.Version != "" && pp.Version != "V1" && pp.Version != "V2" {
		ps.Errf(r, path+".proxyProtocol.version", "unknown version %q: want V1 or V2", pp.Version)
	}
	for i, pl := range tp.PortLevelSettings {
		p := fmt.Sprintf("%s.portLevelSettings[%d]", path, i)
		if pl.Port == nil || pl.Port.Number == 0 || pl.Port.Number > 65535 {
			ps.Errf(r, p+".port", "port.number is required (1-65535)")
		}
		validatePolicyParts(r, p, pl.LoadBalancer, pl.ConnectionPool, pl.OutlierDetection, pl.TLS, ps)
	}
}

func validatePolicyParts(r *config.Resource, path string, lb *LoadBalancerSettings, cp *ConnectionPool, od *OutlierDetection, t *ClientTLSSettings, ps *config.Problems) {
	validateLB(r, path+".loadBalancer", lb, ps)
	if cp != nil {
		validatePool(r, path+".connectionPool", cp, ps)
	}
	if od != nil {
		p := path + ".outlierDetection"
		checkDuration(r, p+".interval", od.Interval, ps)
		checkDuration(r, p+".baseEjectionTime", od.BaseEjectionTime, ps)
		if od.MaxEjectionPercent != nil && (*od.MaxEjectionPercent < 0 || *od.MaxEjectionPercent > 100) {
			ps.Errf(r, p+".maxEjectionPercent", "must be 0-100")
		}
		if od.MinHealthPercent < 0 || od.MinHealthPercent > 100 {
			ps.Errf(r, p+".minHealthPercent", "must be 0-100")
		}
	}
	if t != nil {
		validateClientTLS(r, path+".tls", t, ps)
	}
}

func validateLB(r *config.Resource, path string, lb *LoadBalancerSettings, ps *config.Problems) {
	if lb == nil {
		return
	}
	if lb.Simple != "" && lb.ConsistentHash != nil {
		ps.Errf(r, path, "only one of simple or consistentHash may be set")
	}
	if !enumCheck(lb.Simple, lbSimple) {
		ps.Errf(r, path+".simple", "unknown load balancer %q: want one of %s", lb.Simple, strings.Join(lbSimple, ", "))
	}
	if lb.Simple == "PASSTHROUGH" {
		ps.Warnf(r, path+".simple", "PASSTHROUGH forwards to the connection's original destination, which an edge gateway does not have: gatehouse balances with LEAST_REQUEST, Istio's default")
	}
	if ch := lb.ConsistentHash; ch != nil {
		n := 0
		for _, set := range []bool{ch.HTTPHeaderName != "", ch.HTTPCookie != nil, ch.UseSourceIP, ch.HTTPQueryParameterName != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			ps.Errf(r, path+".consistentHash", "exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName is required")
		}
		if ch.HTTPCookie != nil && ch.HTTPCookie.Name == "" {
			ps.Errf(r, path+".consistentHash.httpCookie.name", "required")
		}
	}
}

func validatePool(r *config.Resource, path string, cp *ConnectionPool, ps *config.Problems) {
	if t := cp.TCP; t != nil {
		checkDuration(r, path+".tcp.connectTimeout", t.ConnectTimeout, ps)
		checkDuration(r, path+".tcp.maxConnectionDuration", t.MaxConnectionDuration, ps)
		if t.MaxConnections < 0 {
			ps.Errf(r, path+".tcp.maxConnections", "must not be negative")
		}
	}
	if h := cp.HTTP; h != nil {
		if !enumCheck(h.H2UpgradePolicy, h2Upgrade) {
			ps.Errf(r, path+".http.h2UpgradePolicy", "unknown policy %q: want one of %s", h.H2UpgradePolicy, strings.Join(h2Upgrade, ", "))
		}
		for name, v := range map[string]int32{"http1MaxPendingRequests": h.HTTP1MaxPendingRequests, "http2MaxRequests": h.HTTP2MaxRequests,
			"maxRequestsPerConnection": h.MaxRequestsPerConnection, "maxRetries": h.MaxRetries, "maxConcurrentStreams": h.MaxConcurrentStreams} {
			if v < 0 {
				ps.Errf(r, path+".http."+name, "must not be negative")
			}
		}
	}
}

func validateClientTLS(r *config.Resource, path string, t *ClientTLSSettings, ps *config.Problems) {
	mode := strings.ToUpper(t.Mode)
	switch {
	case !enumCheck(mode, clientTLSMode):
		ps.Errf(r, path+".mode", "unknown mode %q: want one of %s", t.Mode, strings.Join(clientTLSMode, ", "))
	case mode == "ISTIO_MUTUAL":
		ps.Errf(r, path+".mode", "ISTIO_MUTUAL needs Istio's certificate authority; use MUTUAL with clientCertificate and privateKey files")
	case mode == "MUTUAL" && t.CredentialName == "" && (t.ClientCertificate == "" || t.PrivateKey == ""):
		ps.Errf(r, path, "MUTUAL needs clientCertificate and privateKey (or credentialName)")
	}
}
