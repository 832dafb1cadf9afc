package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The Istio httpbin walkthrough (product.md story 1), with a shorter
// timeout than the docs' 4 s so the suite stays quick; the example test
// runs the real one.
func TestHTTPBinWalkthrough(t *testing.T) {
	t.Parallel()
	port := httpbinPort(t)
	g := startGW(t, map[string]string{
		"gateway.yaml": httpGateway,
		"httpbin.yaml": serviceEntry("httpbin", "httpbin", fmt.Sprint(port)) + `---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - match:
    - uri: {prefix: /status}
    - uri: {prefix: /delay}
    route:
    - destination:
        port: {number: 8000}
        host: httpbin
    timeout: 1s
`,
	})
	tests := []struct {
		path     string
		want     int
		wantBody string
		minTime  time.Duration
		maxTime  time.Duration
	}{
		{path: "/status/200", want: 200, maxTime: 500 * time.Millisecond},
		{path: "/status/418", want: 418},
		{path: "/headers", want: 404},
		{path: "/delay/5", want: 504, wantBody: "upstream request timeout", minTime: time.Second, maxTime: 1500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			start := time.Now()
			code, body, _ := g.get(80, "httpbin.example.com", tc.path)
			took := time.Since(start)
			if code != tc.want {
				t.Errorf("GET %s = %d, want %d (body %q)", tc.path, code, tc.want, body)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("GET %s body = %q, want %q", tc.path, body, tc.wantBody)
			}
			if took < tc.minTime || (tc.maxTime > 0 && took > tc.maxTime) {
				t.Errorf("GET %s took %v, want between %v and %v", tc.path, took, tc.minTime, tc.maxTime)
			}
		})
	}
}
