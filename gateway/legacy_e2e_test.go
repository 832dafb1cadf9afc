package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The Istio 0.x httpbin walkthrough, pasted verbatim: the simple-ingress
// Ingress and a RouteRule timeout on /delay/ (1 s rather than the
// walkthrough's 4 s so the suite stays quick), with go-httpbin standing
// in for httpbin.default.svc.cluster.local.
func TestLegacyWalkthroughEndToEnd(t *testing.T) {
	t.Parallel()
	port := httpbinPort(t)
	rule := strings.Replace(legacyFixture(t, "httpbin-timeout.yaml"), "timeout: 4s", "timeout: 1s", 1)
	g := startGW(t, map[string]string{
		"httpbin.yaml":   serviceEntry("httpbin", httpbinFQDN, fmt.Sprint(port)),
		"ingress.yaml":   legacyFixture(t, "simple-ingress.yaml"),
		"routerule.yaml": rule,
	})
	tests := []struct {
		path     string
		want     int
		wantBody *string
		minTime  time.Duration
		maxTime  time.Duration
	}{
		{path: "/status/200", want: 200, maxTime: 500 * time.Millisecond},
		{path: "/status/418", want: 418},
		{path: "/headers", want: 404, wantBody: new("")},
		// Ingress prefixes are path-separated: /status/.* does not
		// take /statusx.
		{path: "/statusx", want: 404, wantBody: new("")},
		{path: "/delay/0", want: 200, maxTime: 500 * time.Millisecond},
		{path: "/delay/2", want: 504, wantBody: new("upstream request timeout"), minTime: time.Second, maxTime: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			start := time.Now()
			code, body, _ := g.get(80, "", tc.path)
			took := time.Since(start)
			if code != tc.want {
				t.Errorf("GET %s = %d, want %d (body %q)", tc.path, code, tc.want, body)
			}
			if tc.wantBody != nil && body != *tc.wantBody {
				t.Errorf("GET %s body = %q, want %q", tc.path, body, *tc.wantBody)
			}
			if took < tc.minTime || (tc.maxTime > 0 && took > tc.maxTime) {
				t.Errorf("GET %s took %v, want between %v and %v", tc.path, took, tc.minTime, tc.maxTime)
			}
		})
	}
}
