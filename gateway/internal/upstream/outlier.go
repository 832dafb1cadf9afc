package upstream

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"
)

// health is an endpoint's outlier-detection state within one cluster.
type health struct {
	mu           sync.Mutex
	consec5xx    int
	consecGW     int
	ejections    int
	ejectedUntil time.Time
}

// ejected reports whether the endpoint is out of rotation at now.
func (h *health) ejected(now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.ejectedUntil)
}

// Observe records the outcome of an attempt for outlier detection.
// Failures to connect, resets and timeouts count as 503s (Envoy maps local
// failures onto the upstream's errors unless told to split them).
func (c *Cluster) Observe(ep *Endpoint, resp *http.Response, err error) {
	oc := c.Outlier
	if oc == nil {
		return
	}
	status := http.StatusServiceUnavailable
	if err == nil {
		status = resp.StatusCode
	} else if IsClientSide(err) || errors.Is(err, transport.ErrOverflow) || errors.Is(err, transport.ErrNoHealthy) {
		return // nothing the endpoint did
	}
	now := time.Now()
	h := &ep.health
	h.mu.Lock()
	if now.Before(h.ejectedUntil) {
		// Out of rotation (in flight when it was ejected, or sent in a
		// panic): its count starts afresh on its return, as in Envoy.
		h.mu.Unlock()
		return
	}
	if status < 500 {
		h.consec5xx, h.consecGW = 0, 0
		h.mu.Unlock()
		return
	}
	h.consec5xx++
	if status == 502 || status == 503 || status == 504 {
		h.consecGW++
	} else {
		h.consecGW = 0 // another 5xx breaks a run of gateway errors, as in Envoy
	}
	trip := (oc.Consecutive5xx > 0 && h.consec5xx >= oc.Consecutive5xx) ||
		(oc.ConsecutiveGateway > 0 && h.consecGW >= oc.ConsecutiveGateway)
	h.mu.Unlock()
	if trip {
		c.eject(ep, now)
	}
}

// eject takes ep out of rotation for baseEjectionTime times the number of
// times it has been ejected, unless that would eject more than
// maxEjectionPercent of the cluster (at least one endpoint may always be
// ejected, as in Envoy).
func (c *Cluster) eject(ep *Endpoint, now time.Time) {
	ejected := 0
	for _, e := range c.Endpoints {
		if e != ep && e.health.ejected(now) {
			ejected++
		}
	}
	if ejected > 0 && (ejected+1)*100 > c.Outlier.MaxEjectionPercent*len(c.Endpoints) {
		return
	}
	h := &ep.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.ejectedUntil) {
		return
	}
	h.ejections++
	h.consec5xx, h.consecGW = 0, 0
	h.ejectedUntil = now.Add(min(c.Outlier.BaseEjection*time.Duration(h.ejections), max(MaxEjectionTime, c.Outlier.BaseEjection)))
}

// panicking reports whether so few endpoints are healthy that the cluster
// ignores ejections (minHealthPercent, Envoy's panic threshold; Istio's
// default of 0 never panics).
func (c *Cluster) panicking(now time.Time) bool {
	if c.Outlier == nil || c.Outlier.MinHealthPercent <= 0 {
		return false
	}
	healthy := 0
	for _, e := range c.Endpoints {
		if !e.health.ejected(now) {
			healthy++
		}
	}
	return healthy*100 < c.Outlier.MinHealthPercent*len(c.Endpoints)
}
