package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// counting answers with failures for its first fail requests, then 200,
// and counts every request (and the bodies it saw).
type counting struct {
	n      atomic.Int32
	fail   int32
	status int
	bodies chan string
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.n.Add(1)
	if c.bodies != nil {
		b, _ := io.ReadAll(r.Body)
		c.bodies <- string(b)
	}
	if n <= c.fail {
		w.WriteHeader(c.status)
		return
	}
	io.WriteString(w, "ok")
}

// Retries are counted at the upstream, replay the body, and stop at the
// route timeout.
func TestRetries(t *testing.T) {
	t.Parallel()
	flaky := &counting{fail: 2, status: 503, bodies: make(chan string, 10)}
	always := &counting{fail: 1 << 30, status: 500}
	slowPort := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		always.n.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	g := startGW(t, routes(fmt.Sprintf(`
  - match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /slow}}]
    timeout: 350ms
    retries: {attempts: 10, perTryTimeout: 100ms, retryOn: 5xx}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{uri: {prefix: /noretry}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, startUpstream(t, flaky), slowPort, startUpstream(t, &counting{fail: 1 << 30, status: 503}))))

	req, _ := http.NewRequest("POST", g.url(80)+"/flaky", strings.NewReader("order #1"))
	if code, body, _ := do(t, req); code != 200 || body != "ok" {
		t.Errorf("flaky = %d %q, want 200 after retries", code, body)
	}
	if n := flaky.n.Load(); n != 3 {
		t.Errorf("upstream saw %d attempts, want 3", n)
	}
	for i := range min(3, int(flaky.n.Load())) {
		if b := <-flaky.bodies; b != "order #1" {
			t.Errorf("attempt %d carried body %q", i, b)
		}
	}

	start := time.Now()
	code, body, _ := g.get(80, "", "/slow")
	took := time.Since(start)
	if code != 504 || body != proxy.BodyTimeout || took < 350*time.Millisecond || took > time.Second {
		t.Errorf("slow = %d %q after %v, want 504 at the 350ms route timeout", code, body, took)
	}
	if n := always.n.Load(); n < 2 || n > 4 {
		t.Errorf("per-try timeouts made %d attempts within a 350ms route timeout, want 3 or 4", n)
	}

	if code, _, _ := g.get(80, "", "/noretry"); code != 503 {
		t.Errorf("the default policy retried a 503 into %d", code)
	}
}

// Istio's default policy retries connection failures, on another endpoint.
func TestDefaultRetryAvoidsDeadEndpoint(t *testing.T) {
	t.Parallel()
	live := startUpstream(t, named("live"))
	g := startGW(t, map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": serviceEntry("pool", "pool.example.com", fmt.Sprint(closedPort(t)), fmt.Sprint(live)),
		"vs.yaml": catchAllVS("pool.example.com"),
	})
	for range 20 {
		if code, body, _ := g.get(80, "", "/"); code != 200 || body != "live" {
			t.Fatalf("got %d %q: a connection failure was not retried on the live endpoint", code, body)
		}
	}
}

// A body too large to keep is sent once and not retried.
func TestLargeBodyNotRetried(t *testing.T) {
	t.Parallel()
	c := &counting{fail: 1, status: 503}
	g := startGW(t, routes(fmt.Sprintf(`
  - retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, startUpstream(t, c))))
	req, _ := http.NewRequest("PUT", g.url(80)+"/", strings.NewReader(strings.Repeat("x", proxy.MaxReplayBody+1)))
	if code, _, _ := do(t, req); code != 503 {
		t.Errorf("status %d, want the first attempt's 503", code)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("upstream saw %d attempts of an unreplayable body, want 1", n)
	}
}

// Retries go to another endpoint when there are several, and retryOn's
// conditions decide which answers are retried.
func TestRetryConditions(t *testing.T) {
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

// Regression (found in review): HTTP/2 upstream + perTryTimeout retry: net/http's h2 client returns
// from RoundTrip on the per-try timeout while its body-writer goroutine is
// still blocked reading the client's body through the shared replayBody.
// The retry reads the same replayBody concurrently; the next client bytes
// go to the dead attempt and the retried request is sent truncated.
func TestH2RetrySendsWholeBody(t *testing.T) {
	var attempts atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) == 1 {
			<-r.Context().Done()
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s upstream read %d bytes: %q", r.Proto, len(b), b)
	}))
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	port := portOf(t, ts.Listener.Addr())
	cfg := map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: h2}\nspec:\n  hosts: [h2.internal]\n  ports: [{number: 8000, name: grpc, protocol: HTTP2}]\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    ports: {grpc: %d}\n", port),
		"vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [\"*\"]\n  gateways: [gw]\n  http:\n  - route: [{destination: {host: h2.internal}}]\n    retries: {attempts: 2, perTryTimeout: 300ms, retryOn: 5xx}\n",
	}
	g := startGW(t, cfg)
	c := g.dial(80)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
	time.Sleep(700 * time.Millisecond) // attempt 1 hits its per-try timeout and is retried
	io.WriteString(c, "a\r\nABCDEFGHIJ\r\n0\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	t.Logf("%d %s (attempts %d)", resp.StatusCode, b, attempts.Load())
	if resp.StatusCode == 200 && string(b) != `HTTP/2.0 upstream read 20 bytes: "0123456789ABCDEFGHIJ"` {
		t.Errorf("retried request carried a different body than the client sent")
	}
}
