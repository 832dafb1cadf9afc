package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Upstream connections are pooled and reused: many requests, even from
// clients that close their own connection each time, reach the upstream
// over one connection.
func TestUpstreamConnectionsReused(t *testing.T) {
	t.Parallel()
	conns, port := connCountingUpstream(t)
	g := startGW(t, oneRoute(port, ""))
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 30 {
		resp, err := fresh.Get(g.url(80) + fmt.Sprintf("/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "up" {
			t.Fatalf("request %d = %d %q", i, resp.StatusCode, b)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("30 sequential requests opened %d upstream connections, want 1 reused", n)
	}
}

// connectionPool.http.maxRequestsPerConnection 1 makes every request use
// a fresh upstream connection.
func TestMaxRequestsPerConnection(t *testing.T) {
	t.Parallel()
	conns, port := connCountingUpstream(t)
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("svc", "svc.example.com", fmt.Sprint(port)),
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

// Regression (found in review): with maxConnections, an idle pooled connection to endpoint A holds
// the cluster's only slot; a request balanced to endpoint B waits for a
// slot nobody will release (no idle reaper, handOff only serves waiters of
// A's pool). Envoy creates one connection for a host pool with none.
func TestConnectionLimitServesEveryEndpoint(t *testing.T) {
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

// Regression (found in review): a POST sent on a reused pooled connection that the upstream reads
// and then closes without answering is sent again on a new connection
// (errStaleConn path): the upstream executes it twice.
func TestPOSTNotResentAfterStaleConnection(t *testing.T) {
	var posts atomic.Int32
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "POST" {
				n := posts.Add(1)
				if n == 1 && i > 0 {
					return // processed, then the connection dies before the answer
				}
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	g := startGW(t, oneRoute(port, ""))
	g.get(80, "", "/warm") // leaves one pooled connection
	req, _ := http.NewRequest("POST", g.url(80)+"/charge", strings.NewReader("amount=100"))
	code, body, _ := do(t, req)
	t.Logf("client got %d %q; upstream saw %d POSTs", code, body, posts.Load())
	if posts.Load() > 1 {
		t.Errorf("non-idempotent POST executed %d times", posts.Load())
	}
}

// Regression (found in review): an upstream response whose body overruns its Content-Length leaves
// bytes buffered in the pooled connection; the next request (from another
// client) reuses the connection within probeIdleAfter and is answered with
// them.
func TestResponseOverrunNotServedToNextClient(t *testing.T) {
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if i == 0 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"+
					"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Poison: 1\r\n\r\nPOISONED")
				continue
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		}
	})
	g := startGW(t, oneRoute(port, ""))
	_, b1, _ := g.get(80, "", "/victim-a")
	c2 := &http.Client{Transport: &http.Transport{}} // another client connection
	req, _ := http.NewRequest("GET", g.url(80)+"/victim-b", nil)
	resp, err := c2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("client 1 got %q; client 2 (GET /victim-b) got %q X-Poison=%q", b1, b2, resp.Header.Get("X-Poison"))
	if strings.Contains(string(b2), "POISON") {
		t.Errorf("desync: client 2 received bytes the upstream sent after response 1")
	}
}

// Regression (found in review): an upstream that sends a body on a HEAD response (a common
// framework bug) shifts every later response on that pooled connection by
// one: the next client gets the body bytes parsed as its response, and the
// client after that gets the previous client's response.
func TestHeadResponseBodyDoesNotShiftQueue(t *testing.T) {
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!" // page content that happens to look like a response
			if req.Method != "HEAD" {
				body = "for " + req.URL.Path
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	g := startGW(t, oneRoute(port, ""))
	req, _ := http.NewRequest("HEAD", g.url(80)+"/page", nil)
	do(t, req)
	for _, p := range []string{"/alice", "/bob"} {
		c := &http.Client{Transport: &http.Transport{}}
		resp, err := c.Get(g.url(80) + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("GET %s -> %q", p, b)
		if string(b) != "for "+p {
			t.Errorf("GET %s answered with %q", p, b)
		}
	}
}

// connCountingUpstream starts an upstream answering "up" and counts the
// connections it accepts.
func connCountingUpstream(t *testing.T) (*atomic.Int32, uint32) {
	conns := new(atomic.Int32)
	ts := httptest.NewUnstartedServer(named("up"))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return conns, portOf(t, ts.Listener.Addr())
}
