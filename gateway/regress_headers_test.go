package gateway

import (
	"fmt"
	"testing"
)

// Regression (found in review): route request-header ops are applied to the inbound header map, so
// (a) a client's Connection header can delete a header the route sets, and
// (b) a route's set of X-Forwarded-Proto / X-Forwarded-For is dropped by
// skip() and replaced with the gateway's own value.
func TestRegressionRouteHeadersLost(t *testing.T) {
	ch := make(chan seen, 4)
	port := startUpstream(t, recorder(ch))
	g := startGW(t, routes(fmt.Sprintf(`
  - headers:
      request:
        set: {x-tenant: fixed, x-forwarded-proto: https}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)))
	g.get(80, "", "/", "Connection", "x-tenant", "X-Tenant", "evil")
	up := <-ch
	t.Logf("upstream X-Tenant=%q X-Forwarded-Proto=%q", up.Header.Values("X-Tenant"), up.Header.Values("X-Forwarded-Proto"))
	if up.Header.Get("X-Tenant") != "fixed" {
		t.Errorf("route-set X-Tenant lost: %q", up.Header.Values("X-Tenant"))
	}
	if up.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("route-set X-Forwarded-Proto replaced: %q", up.Header.Values("X-Forwarded-Proto"))
	}
}
