package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Regression (found in review): with maxConnections, an idle pooled connection to endpoint A holds
// the cluster's only slot; a request balanced to endpoint B waits for a
// slot nobody will release (no idle reaper, handOff only serves waiters of
// A's pool). Envoy creates one connection for a host pool with none.
func TestRegressionLimiterStarvesOtherEndpoint(t *testing.T) {
	g := startGW(t, lbConfig(t, `    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 1}
`, named("a"), named("b")))
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", g.url(80)+"/", nil)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err != nil {
			t.Errorf("request %d: %v after %v", i, err, time.Since(start))
			continue
		}
		resp.Body.Close()
		t.Logf("request %d: %d", i, resp.StatusCode)
	}
}
