package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	if code != 504 || body != bodyTimeout || took < 350*time.Millisecond || took > time.Second {
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
	req, _ := http.NewRequest("PUT", g.url(80)+"/", strings.NewReader(strings.Repeat("x", maxReplayBody+1)))
	if code, _, _ := do(t, req); code != 503 {
		t.Errorf("status %d, want the first attempt's 503", code)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("upstream saw %d attempts of an unreplayable body, want 1", n)
	}
}
