package gateway

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// Regression (found in review): the gateway's own circuit-breaker overflow (http2MaxRequests) is
// counted by outlier detection as an upstream 503 and ejects a healthy
// endpoint.
func TestRegressionOverflowEjectsHealthyEndpoint(t *testing.T) {
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Write([]byte("ok"))
	})
	g := startGW(t, lbConfig(t, `    connectionPool:
      http: {http2MaxRequests: 1}
    outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 30s, maxEjectionPercent: 100}
`, slow))
	var wg sync.WaitGroup
	wg.Go(func() { g.get(80, "", "/slow") })
	time.Sleep(100 * time.Millisecond)
	for range 2 {
		code, body, _ := g.get(80, "", "/fast")
		t.Logf("while busy: %d %q", code, body)
	}
	close(release)
	wg.Wait()
	code, body, _ := g.get(80, "", "/fast")
	t.Logf("after the slow request finished: %d %q", code, body)
	if code != 200 {
		t.Errorf("healthy endpoint ejected because of local overflow: %d %q", code, body)
	}
}
