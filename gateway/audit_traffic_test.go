package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// A root VirtualService delegating a prefix to a VirtualService of another
// namespace: the delegate's routes serve inside the root's match, a
// delegate route outside it is dropped, and the root's later routes still
// serve.
func TestAuditDelegate(t *testing.T) {
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

// getFrom sends GET path to the gateway from the local address src.
func getFrom(t *testing.T, g *gw, src, path string) (int, string) {
	t.Helper()
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", g.url(80)+path, nil)
	code, body, _ := doWith(t, &http.Client{Transport: tr}, req)
	return code, body
}

// Consistent hashing on the client's address and on a query parameter:
// each key sticks to one endpoint, and keys spread over several.
func TestAuditConsistentHashSourceIPAndQuery(t *testing.T) {
	t.Parallel()
	t.Run("source IP", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {consistentHash: {useSourceIp: true}}\n", named("a"), named("b"), named("c")))
		spread := map[string]bool{}
		for i := 1; i <= 20; i++ {
			src := fmt.Sprintf("127.0.0.%d", i)
			spread[sticky(t, "client "+src, 4, func(int) (int, string) {
				return getFrom(t, g, src, "/")
			})] = true
		}
		if len(spread) < 2 {
			t.Errorf("20 client addresses all hashed to %v", spread)
		}
	})
	t.Run("query parameter", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {consistentHash: {httpQueryParameterName: user}}\n", named("a"), named("b"), named("c")))
		spread := map[string]bool{}
		for u := range 30 {
			spread[sticky(t, fmt.Sprintf("user u%d", u), 4, func(i int) (int, string) {
				code, body, _ := g.get(80, "", fmt.Sprintf("/p%d?x=%d&user=u%d", i, i, u))
				return code, body
			})] = true
		}
		if len(spread) < 2 {
			t.Errorf("30 users all hashed to %v", spread)
		}
	})
}

// mirrors with per-mirror percentages, end to end: a 100% mirror gets a
// copy of every request, a 0% one nothing, a 50% one about half; the
// client always gets the primary's answer.
func TestAuditMirrorsPercentages(t *testing.T) {
	t.Parallel()
	var all, none, half atomic.Int32
	allDone := make(chan struct{})
	const n = 200
	count := func(c *atomic.Int32, done chan struct{}) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.Add(1) == n && done != nil {
				close(done)
			}
		})
	}
	mAll, mNone, mHalf := startUpstream(t, count(&all, allDone)), startUpstream(t, count(&none, nil)), startUpstream(t, count(&half, nil))
	g := startGW(t, routes(fmt.Sprintf(`
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
    mirrors:
    - {destination: {host: 127.0.0.1, port: {number: %d}}}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, percentage: {value: 0}}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, percentage: {value: 50}}
`, startUpstream(t, named("primary")), mAll, mNone, mHalf)))
	for range n {
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "primary" {
			t.Fatalf("client got %d %q", code, body)
		}
	}
	select {
	case <-allDone:
	case <-time.After(5 * time.Second):
		t.Fatalf("the 100%% mirror got %d of %d copies", all.Load(), n)
	}
	if c := none.Load(); c != 0 {
		t.Errorf("the 0%% mirror got %d copies", c)
	}
	if c := half.Load(); c < n/2-40 || c > n/2+40 {
		t.Errorf("the 50%% mirror got %d of %d copies", c, n)
	}
}

// Retries go to another endpoint when there are several, and retryOn's
// conditions decide which answers are retried.
func TestAuditRetryConditions(t *testing.T) {
	t.Parallel()
	t.Run("another endpoint", func(t *testing.T) {
		t.Parallel()
		bad := &counting{fail: 1 << 30, status: 503}
		good := &counting{}
		g := startGW(t, lbConfig(t, "    loadBalancer: {simple: ROUND_ROBIN}\n", bad, good))
		// lbConfig's route has Istio's default retry policy, which does not
		// retry a 503 answer: give it one that does.
		g.write("vs.yaml", catchAllVS("svc.example.com")+"    retries: {attempts: 1, retryOn: 5xx}\n")
		g.waitGen(2)
		bad.n.Store(0)
		for i := range 20 {
			if code, body, _ := g.get(80, "", "/"); code != 200 || body != "ok" {
				t.Fatalf("request %d = %d %q: the retry did not go to the healthy endpoint", i, code, body)
			}
		}
		if b, ok := bad.n.Load(), good.n.Load(); ok != 20 || b == 0 {
			t.Errorf("failing endpoint saw %d attempts, healthy %d, want some and 20", b, ok)
		}
	})
	for _, tc := range []struct {
		name, retryOn string
		status        int
		attempts      int32
		code          int
	}{
		{"numeric code", "418", 418, 2, 200},
		{"retriable-status-codes with a code", "retriable-status-codes,409", 409, 2, 200},
		{"retriable-4xx retries 409", "retriable-4xx", 409, 2, 200},
		{"retriable-4xx leaves 404", "retriable-4xx", 404, 1, 404},
		{"gateway-error retries 503", "gateway-error", 503, 2, 200},
		{"gateway-error leaves 500", "gateway-error", 500, 1, 500},
		{"5xx retries 500", "5xx", 500, 2, 200},
		{"connect-failure leaves 503", "connect-failure", 503, 1, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &counting{fail: 1, status: tc.status}
			g := startGW(t, routes(fmt.Sprintf(`
  - retries: {attempts: 3, retryOn: %q}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, tc.retryOn, startUpstream(t, c))))
			if code, _, _ := g.get(80, "", "/"); code != tc.code {
				t.Errorf("status %d, want %d", code, tc.code)
			}
			if n := c.n.Load(); n != tc.attempts {
				t.Errorf("upstream saw %d attempts, want %d", n, tc.attempts)
			}
		})
	}
}

// Upstream TLS details a user notices: sni overrides the name sent to the
// upstream, and insecureSkipVerify accepts a certificate from an unknown
// CA that would otherwise be refused.
func TestAuditUpstreamTLSOptions(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "upstream")
	server := ca.issue("server", "api.internal", "alt.internal")
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "via %s", r.TLS.ServerName)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	port := portOf(t, ts.Listener.Addr())
	for _, tc := range []struct{ name, tls, want string }{
		{"sni override", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: alt.internal}", ca.File), "via alt.internal"},
		{"insecureSkipVerify", "{mode: SIMPLE, insecureSkipVerify: true}", "via api.internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGW(t, map[string]string{
				"gw.yaml": httpGateway,
				"se.yaml": serviceEntry("api", "api.internal", fmt.Sprint(port)),
				"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api}\nspec:\n  host: api.internal\n  trafficPolicy:\n    tls: " + tc.tls + "\n",
				"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: api.internal}}]\n",
			})
			if code, body, _ := g.get(80, "", "/"); code != 200 || body != tc.want {
				t.Errorf("got %d %q, want 200 %q", code, body, tc.want)
			}
		})
	}
}

// connectionPool.http.maxRequestsPerConnection 1 makes every request use
// a fresh upstream connection.
func TestAuditMaxRequestsPerConnection(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(named("up"))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("svc", "svc.example.com", fmt.Sprint(portOf(t, ts.Listener.Addr()))),
		"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc}\nspec:\n  host: svc.example.com\n  trafficPolicy:\n    connectionPool: {http: {maxRequestsPerConnection: 1}}\n",
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: svc.example.com}}]\n",
	})
	for i := range 5 {
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "up" {
			t.Fatalf("request %d = %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("5 requests used %d upstream connections, want 5 (one request per connection)", n)
	}
}
