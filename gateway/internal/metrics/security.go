package metrics

import "github.com/prometheus/client_golang/prometheus"

// securityMetrics count the security resources in force and their changes.
type securityMetrics struct {
	inForce prometheus.Gauge
	changes *prometheus.CounterVec
}

func newSecurityMetrics(reg *prometheus.Registry) securityMetrics {
	m := securityMetrics{
		inForce: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gatehouse_security_policies",
			Help: "Security resources in force (AuthorizationPolicy, RequestAuthentication and the legacy kinds)."}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_security_policy_changes_total",
			Help: "Security resources added or removed by reloads."}, []string{"change"}),
	}
	reg.MustRegister(m.inForce, m.changes)
	return m
}

// SecurityResources sets the number of security resources in force.
func (m *Metrics) SecurityResources(n int) {
	if m != nil {
		m.security.inForce.Set(float64(n))
	}
}

// SecurityChanged counts n security resources a reload "added" or
// "removed" (change).
func (m *Metrics) SecurityChanged(change string, n int) {
	if m != nil {
		m.security.changes.WithLabelValues(change).Add(float64(n))
	}
}
