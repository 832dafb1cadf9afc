package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/proxy"
)

// up03Slow is an upstream that sleeps 5 s before its headers, counting
// the attempts and reporting how long each took to see its request
// cancelled (-1 if it never was).
type up03Slow struct {
	attempts  atomic.Int32
	cancelled chan time.Duration
}

func (u *up03Slow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.attempts.Add(1)
	start := time.Now()
	select {
	case <-r.Context().Done():
		u.cancelled <- time.Since(start)
	case <-time.After(5 * time.Second):
		u.cancelled <- -1
	}
}

// security.md UP-03: slow upstream, per-route timeouts, retries. With
// `timeout: 2s` and an upstream that sleeps 5 s before its headers: 504
// at 2 s, and the upstream sees its request cancelled. With the
// catalogue's `retries: {attempts: 2, perTryTimeout: 500ms}` as well, a
// per-try timeout is not among Istio's default retryOn conditions: one
// attempt, 504 at 500 ms; with retryOn 5xx, 3 attempts of 500 ms, 504 at
// 1.5 s; with 10 attempts allowed, the 2 s route timeout still ends them
// all. Headers followed by a stalled body: the body is cut off at 2 s. A
// POST whose connection the upstream resets after reading it is not
// retried under the default retryOn (a reset GET is, under retryOn
// reset). The subtests run in parallel: about 2.5 s in all. (A POST under
// retryOn reset is TestUP03ResetPOSTNotRetried.)
func TestUP03SlowUpstreamTimeoutsAndRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, policy string
		lo, hi       int32 // attempts
		at, slack    time.Duration
	}{
		{"route timeout", "    timeout: 2s\n", 1, 1, 2 * time.Second, 600 * time.Millisecond},
		{"with the catalogue's retries", "    timeout: 2s\n    retries: {attempts: 2, perTryTimeout: 500ms}\n", 1, 1, 500 * time.Millisecond, 400 * time.Millisecond},
		{"retryOn 5xx", "    timeout: 2s\n    retries: {attempts: 2, perTryTimeout: 500ms, retryOn: 5xx}\n", 3, 3, 1500 * time.Millisecond, 500 * time.Millisecond},
		// 4 tries of 500 ms and the backoff between them exceed 2 s.
		{"more tries than the timeout allows", "    timeout: 2s\n    retries: {attempts: 10, perTryTimeout: 500ms, retryOn: 5xx}\n", 3, 4, 2 * time.Second, 600 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &up03Slow{cancelled: make(chan time.Duration, 16)}
			g := startGW(t, routes(fmt.Sprintf("  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", startUpstream(t, up))+tc.policy))
			start := time.Now()
			code, body, _ := g.get(80, "", "/")
			took := time.Since(start)
			if code != 504 || body != proxy.BodyTimeout || took < tc.at || took > tc.at+tc.slack {
				t.Errorf("%d %q after %v, want 504 %q at %v", code, body, took, proxy.BodyTimeout, tc.at)
			}
			if n := up.attempts.Load(); n < tc.lo || n > tc.hi {
				t.Errorf("%d attempts, want %d to %d", n, tc.lo, tc.hi)
			}
			for range up.attempts.Load() {
				select {
				case d := <-up.cancelled:
					if d < 0 {
						t.Error("an attempt was never cancelled")
					}
				case <-time.After(3 * time.Second):
					t.Fatal("an attempt was still running 3s after the 504")
				}
			}
		})
	}

	t.Run("a body stalled at the deadline", func(t *testing.T) {
		t.Parallel()
		port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		g := startGW(t, routes(fmt.Sprintf("  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n    timeout: 2s\n", port)))
		start := time.Now()
		resp, err := http.Get(g.url(80) + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if took := time.Since(start); string(b) != "first\n" || !errors.Is(err, io.ErrUnexpectedEOF) || took < 2*time.Second || took > 2600*time.Millisecond {
			t.Errorf("got %q then %v after %v, want the first line, then the body cut off at 2s", b, err, took)
		}
	})

	t.Run("a reset after the request was read", func(t *testing.T) {
		t.Parallel()
		var reads atomic.Int32
		port := rawUpstream(t, func(c net.Conn) {
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err == nil {
				io.Copy(io.Discard, req.Body)
				reads.Add(1)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		})
		g := startGW(t, routes(fmt.Sprintf(`  - match: [{uri: {prefix: /default}}]
    retries: {attempts: 2, perTryTimeout: 500ms}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
  - retries: {attempts: 2, perTryTimeout: 500ms, retryOn: reset}
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
`, port)))
		for _, tc := range []struct {
			method, path string
			attempts     int32
		}{{"POST", "/default", 1}, {"GET", "/reset", 3}} {
			reads.Store(0)
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader("order #1")
			}
			req, _ := http.NewRequest(tc.method, g.url(80)+tc.path, body)
			if code, got, _ := do(t, req); code != 503 || got != proxy.BodyReset {
				t.Errorf("%s %s: %d %q, want 503 %q", tc.method, tc.path, code, got, proxy.BodyReset)
			}
			if n := reads.Load(); n != tc.attempts {
				t.Errorf("%s %s: the upstream read it %d times, want %d", tc.method, tc.path, n, tc.attempts)
			}
		}
	})
}

// security.md UP-03 (non-idempotent retries): a POST whose body the
// upstream read before resetting the connection is never retried, even
// under `retryOn: "5xx,reset,connect-failure"` (Envoy would retry it):
// the upstream reads it once and the client gets 503.
func TestUP03ResetPOSTNotRetried(t *testing.T) {
	t.Parallel()
	var reads atomic.Int32
	port := rawUpstream(t, func(c net.Conn) {
		if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.Copy(io.Discard, req.Body)
			reads.Add(1)
		}
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	g := startGW(t, routes(fmt.Sprintf("  - retries: {attempts: 2, perTryTimeout: 500ms, retryOn: \"5xx,reset,connect-failure\"}\n    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]\n", port)))
	req, _ := http.NewRequest("POST", g.url(80)+"/", strings.NewReader("order #1"))
	if code, _, _ := do(t, req); code != 503 {
		t.Errorf("status %d, want 503", code)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("the upstream read the POST %d times, want once", n)
	}
}
