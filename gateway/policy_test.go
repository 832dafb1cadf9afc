package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// lbConfig routes everything to the three endpoints of svc.example.com
// under the given DestinationRule trafficPolicy.
func lbConfig(t *testing.T, policy string, handlers ...http.Handler) map[string]string {
	var eps []string
	for _, h := range handlers {
		eps = append(eps, fmt.Sprint(startUpstream(t, h)))
	}
	return map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("svc", "svc.example.com", eps...),
		"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc}\nspec:\n  host: svc.example.com\n  trafficPolicy:\n" + policy,
		"vs.yaml": catchAllVS("svc.example.com"),
	}
}

func tally(t *testing.T, g *gw, n int, hdr ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		code, body, _ := g.get(80, "", "/", hdr...)
		if code != 200 {
			out[fmt.Sprint(code)]++
			continue
		}
		out[body]++
	}
	return out
}

// sticky sends n requests with send and fails unless every answer is a
// 200 with the same body, which it returns: key keeps to one endpoint.
func sticky(t *testing.T, key string, n int, send func(i int) (int, string)) string {
	t.Helper()
	first := ""
	for i := range n {
		code, body := send(i)
		if code != 200 {
			t.Fatalf("%s: %d %q", key, code, body)
		}
		if i == 0 {
			first = body
		} else if body != first {
			t.Fatalf("%s went to %s then %s", key, first, body)
		}
	}
	return first
}

func TestLoadBalancers(t *testing.T) {
	t.Parallel()
	t.Run("round robin", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {simple: ROUND_ROBIN}\n", named("a"), named("b"), named("c")))
		if got := tally(t, g, 300); got["a"] != 100 || got["b"] != 100 || got["c"] != 100 {
			t.Errorf("round robin: %v, want 100 each", got)
		}
	})
	t.Run("random", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {simple: RANDOM}\n", named("a"), named("b"), named("c")))
		for k, n := range tally(t, g, 900) {
			if n < 220 || n > 380 {
				t.Errorf("random: %s got %d of 900", k, n)
			}
		}
	})
	t.Run("least request", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		busy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-release
			}
			fmt.Fprint(w, "busy")
		})
		g := startGW(t, lbConfig(t, "    loadBalancer: {simple: LEAST_REQUEST}\n", busy, named("b"), named("c")))
		t.Cleanup(func() { close(release) })
		for range 3 {
			go http.Get(g.url(80) + "/hold")
		}
		time.Sleep(100 * time.Millisecond) // let the held requests land
		if got := tally(t, g, 100); got["busy"] > 10 {
			t.Errorf("least request sent %d of 100 to the endpoint holding requests: %v", got["busy"], got)
		}
	})
	t.Run("consistent hash on a header", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {consistentHash: {httpHeaderName: x-user}}\n", named("a"), named("b"), named("c")))
		spread := map[string]bool{}
		for u := range 30 {
			user := fmt.Sprintf("user-%d", u)
			spread[sticky(t, user, 5, func(int) (int, string) {
				code, body, _ := g.get(80, "", "/", "X-User", user)
				return code, body
			})] = true
		}
		if len(spread) < 2 {
			t.Errorf("30 users all hashed to %v", spread)
		}
	})
	t.Run("consistent hash on a generated cookie", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, lbConfig(t, "    loadBalancer: {consistentHash: {httpCookie: {name: sticky, ttl: 60s}}}\n", named("a"), named("b"), named("c")))
		_, first, h := g.get(80, "", "/")
		cookie := h.Get("Set-Cookie")
		if !strings.HasPrefix(cookie, "sticky=") || !strings.Contains(cookie, "Max-Age=60") {
			t.Fatalf("Set-Cookie = %q", cookie)
		}
		value := strings.Split(cookie, ";")[0]
		if got := tally(t, g, 20, "Cookie", value); got[first] != 20 {
			t.Errorf("with %s: %v, want all on %s", value, got, first)
		}
	})
}

// A failing endpoint is ejected after consecutive 5xx and returns when its
// ejection time is over.
func TestOutlierDetection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	failing := true
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(500)
			return
		}
		fmt.Fprint(w, "bad")
	})
	g := startGW(t, lbConfig(t, `    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 1s, maxEjectionPercent: 50}
`, bad, named("b"), named("c")))
	errors := 0
	for range 30 {
		if code, _, _ := g.get(80, "", "/"); code == 500 {
			errors++
		}
	}
	if errors != 3 {
		t.Errorf("the failing endpoint answered %d requests before ejection, want 3", errors)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	time.Sleep(1100 * time.Millisecond) // the ejection time
	if got := tally(t, g, 30); got["bad"] == 0 {
		t.Errorf("the endpoint did not return after its ejection: %v", got)
	}
}

// Connection-pool limits answer 503 on overflow, as Envoy's circuit
// breakers do.
func TestConnectionPoolOverflow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		fmt.Fprint(w, "done")
	})
	g := startGW(t, lbConfig(t, `    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1}
`, slow))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	results := make(chan string, 3)
	for range 2 {
		go func() {
			_, body, _ := g.get(80, "", "/")
			results <- body
		}()
	}
	<-entered // one request holds the only connection; one is queued
	time.Sleep(100 * time.Millisecond)
	code, body, _ := g.get(80, "", "/")
	if code != 503 || body != proxy.BodyOverflow {
		t.Errorf("third request = %d %q, want 503 %q", code, body, proxy.BodyOverflow)
	}
	once.Do(func() { close(release) })
	for range 2 {
		if b := <-results; b != "done" {
			t.Errorf("queued request got %q", b)
		}
	}
}

// Upstream TLS (SIMPLE with a CA) and mutual TLS (MUTUAL with a client
// certificate) from a DestinationRule.
func TestUpstreamTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "upstream")
	server := ca.issue("server", "api.internal")
	client := ca.issue("client", "gatehouse.internal")
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "%s via %s", who, r.TLS.ServerName)
	}))
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	port := portOf(t, ts.Listener.Addr())
	cfg := func(tlsBlock string) map[string]string {
		return map[string]string{
			"gw.yaml": httpGateway,
			"se.yaml": serviceEntry("api", "api.internal", fmt.Sprint(port)),
			"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api}\nspec:\n  host: api.internal\n  trafficPolicy:\n    tls: " + tlsBlock + "\n",
			"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: api.internal}}]\n",
		}
	}
	tests := []struct{ name, tls, want string }{
		{"simple", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", ca.File), "anonymous via api.internal"},
		{"mutual", fmt.Sprintf("{mode: MUTUAL, caCertificates: %s, clientCertificate: %s, privateKey: %s}", ca.File, client.CertFile, client.KeyFile), "client via api.internal"},
		{"sni", fmt.Sprintf("{mode: SIMPLE, caCertificates: %s, sni: api.internal}", ca.File), "anonymous via api.internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startGW(t, cfg(tc.tls))
			if code, body, _ := g.get(80, "", "/"); code != 200 || body != tc.want {
				t.Errorf("got %d %q, want %q", code, body, tc.want)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		g := startGW(t, cfg("{mode: SIMPLE}"))
		if code, body, _ := g.get(80, "", "/"); code != 503 || body != proxy.BodyConnect {
			t.Errorf("upstream with an unknown CA: %d %q, want 503", code, body)
		}
	})
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
func TestConsistentHashSourceIPAndQuery(t *testing.T) {
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

// Upstream TLS details a user notices: sni overrides the name sent to the
// upstream, and insecureSkipVerify accepts a certificate from an unknown
// CA that would otherwise be refused.
func TestUpstreamTLSOptions(t *testing.T) {
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

// Regression (found in review): the gateway's own circuit-breaker overflow (http2MaxRequests) is
// counted by outlier detection as an upstream 503 and ejects a healthy
// endpoint.
func TestLocalOverflowDoesNotEject(t *testing.T) {
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
