package gateway

import (
	"fmt"
	"math"
	"testing"
)

// Subdomain routing as product.md story 4 describes it: several Gateways
// in their own namespaces on one port, VirtualServices bound by each of
// the three reference forms, Host headers carrying a port, and a "*"
// VirtualService that must not take traffic from an exact host.
func TestSubdomainRouting(t *testing.T) {
	t.Parallel()
	client, explorer, store, fallback := startUpstream(t, named("client")), startUpstream(t, named("explorer")), startUpstream(t, named("store")), startUpstream(t, named("fallback"))
	gateway := func(name, ns, host string) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [%q]
---
`, name, ns, host)
	}
	vs := func(name, host, gwRef string, port uint32) string {
		return fmt.Sprintf(`apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: %s, namespace: sa}
spec:
  hosts: [%q]
  gateways: [%s]
  http:
  - route:
    - destination: {host: 127.0.0.1, port: {number: %d}}
---
`, name, host, gwRef, port)
	}
	g := startGW(t, map[string]string{
		"gateways.yaml": gateway("sa-client-gateway", "sacl", "client.example.com") +
			gateway("sa-explorer-gateway", "saex", "explorer.example.com") +
			gateway("sa-store-gateway", "sast", "*.store.example.com") +
			gateway("catch-all", "sa", "*"),
		"vs.yaml": vs("client", "client.example.com", "sa-client-gateway.sacl.svc.cluster.local", client) +
			vs("explorer", "explorer.example.com", "saex/sa-explorer-gateway", explorer) +
			vs("store", "*.store.example.com", "sast/sa-store-gateway", store) +
			vs("fallback", "*", "catch-all", fallback),
	})
	tests := []struct{ host, want string }{
		{"client.example.com", "client"},
		{"client.example.com:8090", "client"},
		{"CLIENT.Example.COM", "client"},
		{"explorer.example.com:80", "explorer"},
		{"eu.store.example.com", "store"},
		{"a.b.store.example.com:443", "store"},
		{"store.example.com", "fallback"},
		{"other.example.org", "fallback"},
		{"10.0.0.1:80", "fallback"},
	}
	for _, tc := range tests {
		code, body, _ := g.get(80, tc.host, "/")
		if code != 200 || body != tc.want {
			t.Errorf("Host %s: got %d %q, want 200 %q", tc.host, code, body, tc.want)
		}
	}
}

// A request picks one virtual host; when none of its routes match the
// answer is 404, even if a less specific host would have matched.
func TestNoFallbackBetweenVirtualHosts(t *testing.T) {
	t.Parallel()
	a, b := startUpstream(t, named("a")), startUpstream(t, named("b"))
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exact}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /api}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: star}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, a, b),
	})
	if code, body, _ := g.get(80, "a.example.com", "/api/x"); code != 200 || body != "a" {
		t.Errorf("/api/x = %d %q, want 200 a", code, body)
	}
	if code, body, _ := g.get(80, "a.example.com", "/other"); code != 404 || body != "" {
		t.Errorf("/other on exact host = %d %q, want 404 with an empty body", code, body)
	}
	if code, body, _ := g.get(80, "b.example.com", "/other"); code != 200 || body != "b" {
		t.Errorf("/other on another host = %d %q, want 200 b", code, body)
	}
}

// Versions split by weight and header-tagged test traffic, through a
// ServiceEntry's labelled endpoints and DestinationRule subsets.
func TestWeightsAndSubsets(t *testing.T) {
	t.Parallel()
	v1a, v1b, v2 := startUpstream(t, named("v1a")), startUpstream(t, named("v1b")), startUpstream(t, named("v2"))
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("reviews", "reviews.shop.svc.cluster.local",
			fmt.Sprintf("%d:version=v1", v1a), fmt.Sprintf("%d:version=v1", v1b), fmt.Sprintf("%d:version=v2", v2)),
		"dr.yaml": `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
		"vs.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: ["*"]
  gateways: [default/gw]
  http:
  - match: [{headers: {x-test: {exact: canary}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews.shop, subset: v2}, weight: 25}
`,
	})
	for range 20 {
		if code, body, _ := g.get(80, "shop.example.com", "/", "X-Test", "canary"); code != 200 || body != "v2" {
			t.Fatalf("canary request = %d %q, want 200 v2", code, body)
		}
	}
	const n = 2000
	counts := map[string]int{}
	for range n {
		code, body, _ := g.get(80, "shop.example.com", "/")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		counts[body]++
	}
	v1 := counts["v1a"] + counts["v1b"]
	if share := float64(v1) / n; math.Abs(share-0.75) > 0.05 {
		t.Errorf("v1 share = %.3f (counts %v), want 0.75 ± 0.05", share, counts)
	}
	if d := counts["v1a"] - counts["v1b"]; d < -2 || d > 2 {
		t.Errorf("round robin within v1 uneven: %v", counts)
	}
}
