package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// explainConfig routes /api to a service behind a trusted load balancer
// (numTrustedProxies 1), lets only 203.0.113.0/24 clients reach /admin,
// and denies /private to everyone.
const explainConfig = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  annotations:
    proxy.istio.io/config: '{"gatewayTopology": {"numTrustedProxies": 1}}'
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
  - name: api
    match: [{uri: {prefix: /api}}, {uri: {prefix: /admin}}]
    route: [{destination: {host: app.internal, port: {number: 8000}}}]
    timeout: 3s
    retries: {attempts: 2, retryOn: 5xx}
---
` + `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app}
spec:
  hosts: [app.internal]
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http: 9}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: admins, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - to: [{operation: {notPaths: ["/admin*"]}}]
  - from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]
    to: [{operation: {paths: ["/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: private, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {paths: ["/private"]}}]
`

func writeExplainConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gatehouse.yaml"), []byte(explainConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExplain(t *testing.T) {
	t.Parallel()
	dir := writeExplainConfig(t)
	cases := []struct {
		name   string
		req    proxy.ExplainRequest
		status int
		want   []string
	}{
		{"allowed through the trusted hop", proxy.ExplainRequest{URL: "http://app.example.com/admin/x?id=7", Peer: "10.0.0.5",
			Header: http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9"}}}, 0, []string{
			`physical peer 10.0.0.5: source.ip and ipBlocks`,
			`numTrustedProxies 1: address 1 from the right of X-Forwarded-For "6.6.6.6, 203.0.113.9"`,
			`trusted client 203.0.113.9 (from the X-Forwarded-For)`,
			`X-Forwarded-For "6.6.6.6, 203.0.113.9, 10.0.0.5", X-Envoy-External-Address "203.0.113.9"`,
			`route:    #0 default/app http[0].match[0] api: no: uri prefix "/api": path is "/admin/x"`,
			`route:    #1 default/app http[0].match[1] api: MATCH (uri prefix "/admin")`,
			`timeout:  3s`, `retries:  attempts=2`,
			`cluster:  outbound|8000||app.internal`,
			`result:   forward GET app.example.com/admin/x?id=7 to outbound|8000||app.internal`,
		}},
		{"denied: the spoofed leftmost address is not trusted", proxy.ExplainRequest{URL: "http://app.example.com/admin/x", Peer: "10.0.0.5",
			Header: http.Header{"X-Forwarded-For": {"203.0.113.9, 6.6.6.6"}}}, 403, []string{
			`trusted client 6.6.6.6 (from the X-Forwarded-For)`,
			`istio-system/admins`,
			`result:   403 "RBAC: access denied" (no ALLOW policy matched)`,
		}},
		{"denied before the 404 of an unrouted path", proxy.ExplainRequest{URL: "http://app.example.com/private"}, 403, []string{
			`no route of "app.example.com" matches`,
			`istio-system/private`,
			`result:   403 "RBAC: access denied"`,
		}},
		{"unrouted", proxy.ExplainRequest{URL: "http://other.example.com/x/./y"}, 404, []string{
			`path:     "/x/./y" normalized to "/x/y" (pathNormalization BASE)`,
			`vhost:    no virtual host takes "other.example.com"`,
			`result:   404 (route_not_found)`,
		}},
		{"malformed path", proxy.ExplainRequest{URL: "http://app.example.com/api%2F..%2Fadmin"}, 400, []string{
			`encoded slash`, `result:   400 Bad Request`,
		}},
		{"no listener", proxy.ExplainRequest{URL: "http://app.example.com:8080/"}, 0, []string{
			`no listener on port 8080`, `result:   connection refused`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := ExplainConfig(context.Background(), Options{ConfigPaths: []string{dir}}, c.req)
			if err != nil {
				t.Fatal(err)
			}
			out := x.String()
			if x.Status != c.status {
				t.Errorf("status %d, want %d\n%s", x.Status, c.status, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// The admin endpoint explains against the live configuration.
func TestExplainAdmin(t *testing.T) {
	t.Parallel()
	g := startGW(t, map[string]string{"gatehouse.yaml": explainConfig})
	h := g.srv.AdminHandler()
	q := url.Values{"url": {"http://app.example.com/private"}, "header": {"X-Forwarded-For: 203.0.113.9"}, "peer": {"10.0.0.5"}}
	req, _ := http.NewRequest("GET", "/explain?"+q.Encode(), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `result:   403 "RBAC: access denied"`) ||
		!strings.Contains(body, "trusted client 203.0.113.9") {
		t.Fatalf("admin explain: %d\n%s", rec.Code, body)
	}
	req, _ = http.NewRequest("GET", "/explain?url=ftp://x", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "absolute http://") {
		t.Fatalf("bad URL: %d %s", rec.Code, rec.Body.String())
	}
}

// The client-ip examples decide as their comments say, for each kind of
// load balancer.
func TestClientIPExamples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dir    string
		req    proxy.ExplainRequest
		status int
	}{
		{"proxy-protocol", proxy.ExplainRequest{Peer: "10.0.0.2", ProxySource: "203.0.113.7"}, 0},
		{"proxy-protocol", proxy.ExplainRequest{Peer: "10.0.0.2", ProxySource: "192.0.2.1"}, 403},
		{"proxy-protocol", proxy.ExplainRequest{Peer: "203.0.113.7"}, 0}, // closed: not the load balancer
		{"network-lb", proxy.ExplainRequest{Peer: "203.0.113.7"}, 0},
		{"network-lb", proxy.ExplainRequest{Peer: "198.51.100.9", Header: http.Header{"X-Forwarded-For": {"203.0.113.7"}}}, 403},
		{"x-forwarded-for", proxy.ExplainRequest{Peer: "10.0.0.2", Header: http.Header{"X-Forwarded-For": {"6.6.6.6, 203.0.113.7"}}}, 0},
		{"x-forwarded-for", proxy.ExplainRequest{Peer: "10.0.0.2", Header: http.Header{"X-Forwarded-For": {"203.0.113.7, 6.6.6.6"}}}, 403},
		// Fewer X-Forwarded-For entries than trusted hops: the peer counts.
		{"x-forwarded-for", proxy.ExplainRequest{Peer: "203.0.113.7"}, 0},
		{"x-forwarded-for", proxy.ExplainRequest{Peer: "192.0.2.1"}, 403},
	}
	for _, c := range cases {
		c.req.URL = "http://shop.example.com/"
		x, err := ExplainConfig(context.Background(), Options{ConfigPaths: []string{filepath.Join("..", "examples", "client-ip", c.dir)}}, c.req)
		if err != nil {
			t.Fatal(err)
		}
		forwarded := strings.HasPrefix(x.Outcome, "forward ")
		if x.Status != c.status || (c.status == 0) != (forwarded || strings.HasPrefix(x.Outcome, "connection closed")) {
			t.Errorf("%s %+v: %s", c.dir, c.req, x)
		}
	}
}
