package gateway

import (
	"fmt"
	"math"
	"net/http"
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

// A root VirtualService delegating a prefix to a VirtualService of another
// namespace: the delegate's routes serve inside the root's match, a
// delegate route outside it is dropped, and the root's later routes still
// serve.
func TestDelegate(t *testing.T) {
	t.Parallel()
	v1, v2, rest := startUpstream(t, named("v1")), startUpstream(t, named("v2")), startUpstream(t, named("rest"))
	ch := make(chan seen, 1)
	rec := startUpstream(t, recorder(ch))
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"root.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /api}}]
    delegate: {name: api, namespace: team}
    headers: {response: {set: {x-root: "yes"}}}
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, rest),
		"team.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: team}
spec:
  http:
  - match: [{uri: {prefix: /api/v1}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /api/rec}}]
    rewrite: {uri: /internal}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, v1, rec, v1, v2),
	})
	for _, tc := range []struct{ path, want, rootHdr string }{
		{"/api/v1/orders", "v1", "yes"},
		{"/api/v2/orders", "v2", "yes"}, // the delegate's catch-all, inside /api
		{"/other", "rest", ""},          // outside the root's match: the root's next route
		{"/", "rest", ""},
	} {
		code, body, h := g.get(80, "shop.example.com", tc.path)
		if code != 200 || body != tc.want || h.Get("X-Root") != tc.rootHdr {
			t.Errorf("%s = %d %q (x-root %q), want 200 %q (x-root %q)", tc.path, code, body, h.Get("X-Root"), tc.want, tc.rootHdr)
		}
	}
	if code, _, _ := g.get(80, "shop.example.com", "/api/rec/7"); code != 200 {
		t.Fatalf("/api/rec/7 = %d", code)
	}
	if s := <-ch; s.Path != "/internal/7" {
		t.Errorf("the delegate's rewrite: upstream saw %q, want /internal/7", s.Path)
	}
}

// Every HTTPMatchRequest field, end to end: the route a request takes is
// the first whose match holds.
func TestMatchConditions(t *testing.T) {
	t.Parallel()
	cfg := routes(`
  - match: [{uri: {exact: /exact}}]
    directResponse: {status: 200, body: {string: exact}}
  - match: [{uri: {regex: "/re/[0-9]+"}}]
    directResponse: {status: 200, body: {string: regex}}
  - match: [{uri: {prefix: /m}, method: {exact: POST}}]
    directResponse: {status: 200, body: {string: post}}
  - match: [{authority: {prefix: admin.}}]
    directResponse: {status: 200, body: {string: authority}}
  - match: [{headers: {x-ver: {regex: "v[12]"}}}]
    directResponse: {status: 200, body: {string: header}}
  - match: [{queryParams: {debug: {exact: "1"}}}]
    directResponse: {status: 200, body: {string: query}}
  - match: [{uri: {prefix: /case}, ignoreUriCase: true}]
    directResponse: {status: 200, body: {string: case}}
  - match: [{uri: {prefix: /w}, withoutHeaders: {x-skip: {}}}]
    directResponse: {status: 200, body: {string: without}}
  - match: [{port: 81}]
    directResponse: {status: 200, body: {string: port81}}
  - match: [{scheme: {exact: https}}]
    directResponse: {status: 200, body: {string: https}}
  - directResponse: {status: 200, body: {string: default}}
`)
	cfg["gw.yaml"] = httpGateway + "  - port: {number: 81, name: http-81, protocol: HTTP}\n    hosts: [\"*\"]\n"
	g := startGW(t, cfg)
	tests := []struct {
		method, host, path string
		port               uint32
		hdr                []string
		want               string
	}{
		{"GET", "a.example.com", "/exact", 80, nil, "exact"},
		{"GET", "a.example.com", "/exact/more", 80, nil, "default"},
		{"GET", "a.example.com", "/re/42", 80, nil, "regex"},
		{"GET", "a.example.com", "/re/42x", 80, nil, "default"}, // regex is whole-string
		{"GET", "a.example.com", "/x/re/42", 80, nil, "default"},
		{"POST", "a.example.com", "/m", 80, nil, "post"},
		{"GET", "a.example.com", "/m", 80, nil, "default"},
		{"GET", "admin.example.com", "/", 80, nil, "authority"},
		{"GET", "admin.example.com:8080", "/", 80, nil, "authority"},
		{"GET", "a.example.com", "/", 80, []string{"X-Ver", "v2"}, "header"},
		{"GET", "a.example.com", "/", 80, []string{"X-Ver", "v22"}, "default"},
		{"GET", "a.example.com", "/?debug=1", 80, nil, "query"},
		{"GET", "a.example.com", "/?debug=10", 80, nil, "default"},
		{"GET", "a.example.com", "/CASE/x", 80, nil, "case"},
		{"GET", "a.example.com", "/w", 80, nil, "without"},
		{"GET", "a.example.com", "/w", 80, []string{"X-Skip", "anything"}, "default"},
		{"GET", "a.example.com", "/", 81, nil, "port81"},
		{"GET", "a.example.com", "/exact", 81, nil, "exact"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, g.url(tc.port)+tc.path, nil)
		req.Host = tc.host
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		if code, body, _ := do(t, req); code != 200 || body != tc.want {
			t.Errorf("%s %s%s on :%d %v = %d %q, want %q", tc.method, tc.host, tc.path, tc.port, tc.hdr, code, body, tc.want)
		}
	}
}

// A destination host in no ServiceEntry is dialled by DNS name, and a
// ServiceEntry with DNS resolution resolves its endpoints' names.
func TestDNSDestinations(t *testing.T) {
	t.Parallel()
	direct, viaSE := startUpstream(t, named("direct")), startUpstream(t, named("dns-entry"))
	cfg := routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /direct}}]
    route: [{destination: {host: localhost, port: {number: %d}}}]
  - route: [{destination: {host: api.dns.example}}]
`, direct))
	cfg["se.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.dns.example]
  ports: [{number: 8000, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: localhost, ports: {http: %d}}]
`, viaSE)
	g := startGW(t, cfg)
	if code, body, _ := g.get(80, "", "/direct"); code != 200 || body != "direct" {
		t.Errorf("host localhost = %d %q, want 200 direct", code, body)
	}
	if code, body, _ := g.get(80, "", "/"); code != 200 || body != "dns-entry" {
		t.Errorf("ServiceEntry with DNS resolution = %d %q, want 200 dns-entry", code, body)
	}
}
