package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// security.md HTTP-06: slowloris, slow body, slow read, idle connections,
// with the catalogue's timeouts scaled down. The knobs and the Envoy
// settings they stand for:
//   - Options.HeaderTimeout (--header-timeout's value; 10 s by default,
//     500 ms here) is Envoy's request_headers_timeout: a new connection
//     must deliver a whole request head within it;
//   - the Gateway annotation gatehouse.io/stream-idle-timeout (5 min by
//     default, 300 ms here) is Envoy's stream_idle_timeout: a request
//     whose body stops arriving, or whose response the client stops
//     reading, for that long is ended;
//   - the downstream servers' IdleTimeout (a fixed 5 min) is Envoy's
//     idle_timeout for keep-alive connections. No option or annotation
//     shortens it, so reaping an idle keep-alive connection is asserted as
//     configured, not waited for.
//
// A head dripped on a keep-alive connection, after a first request, is
// TestHTTP06SlowlorisOnKeepAlive.
func TestHTTP06SlowClients(t *testing.T) {
	t.Parallel()
	t.Run("slowloris on a new connection", func(t *testing.T) {
		t.Parallel()
		rec := hxRecord(t)
		g := startGW(t, oneRoute(rec.port, ""), func(o *Options) { o.HeaderTimeout = 500 * time.Millisecond })
		// One byte every 100 ms, as the catalogue's one every 5 s against
		// a 10 s timeout; and a connection that never sends anything.
		head := "GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
		for _, drip := range []string{head, ""} {
			c := g.dial(80)
			closed := hxClosedAfter(c, 5*time.Second)
			hxDrip(c, drip, 100*time.Millisecond, closed)
			if took, ok := <-closed; !ok || took < 400*time.Millisecond || took > 3*time.Second {
				t.Errorf("sending %d bytes slowly: closed after %v (not within 5s: %v), want a close after about 500ms", len(drip), took, !ok)
			}
		}
		hxControl(t, g, "/control")
		rec.only(t, "/control")
	})
	t.Run("slow body", func(t *testing.T) {
		t.Parallel()
		rec := hxRecord(t)
		logFile := filepath.Join(t.TempDir(), "access.log")
		g := startGW(t, idleGateway(vsTo(rec.port), logFile))
		c := g.dial(80)
		io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nx")
		stop := make(chan time.Duration, 1)
		go hxDrip(c, strings.Repeat("x", 10), time.Second, stop) // 1 byte/s
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c)
		took := time.Since(start)
		stop <- 0
		if hxStatus(string(out)) != "408" || !strings.HasSuffix(string(out), "\r\n\r\nstream timeout") || err != nil || took > 3*time.Second {
			t.Errorf("got %q, %v after %v; want 408 and a close after about 300ms", out, err, took)
		}
		// The upstream request is cancelled: its body breaks off.
		var got []hxRequest
		if !hxEventually(3*time.Second, func() bool { got, _ = rec.requests(); return len(got) == 1 }) ||
			got[0].URI != "/upload" || got[0].BodyErr == nil || got[0].BodyLen >= 1000000 {
			t.Errorf("the upstream read %+v, want /upload cut short", got)
		}
		if log := strings.Join(readLog(t, g, logFile), "\n"); !strings.Contains(log, `"POST /upload HTTP/1.1" 408 SI stream_idle_timeout `) {
			t.Errorf("access log: %s", log)
		}
	})
	t.Run("a response never read", func(t *testing.T) {
		t.Parallel()
		const size = 100 << 20
		ended := make(chan int, 1)
		chunk := strings.Repeat("x", 64<<10)
		port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(size))
			n := 0
			for n < size {
				if _, err := io.WriteString(w, chunk); err != nil {
					break
				}
				n += len(chunk)
			}
			ended <- n
		}))
		g := startGW(t, idleGateway(vsTo(port), filepath.Join(t.TempDir(), "access.log")))
		c := g.dial(80)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
		select {
		case n := <-ended:
			if n >= size {
				t.Errorf("the upstream wrote all %d bytes to a client that reads none", n)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("5s on, the upstream is still writing to a client that reads nothing (stream idle timeout 300ms)")
		}
		// What the kernel buffered can still be read; then the connection
		// is closed on a response that never looks complete.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if (err != nil && !errors.Is(err, syscall.ECONNRESET)) || n >= size {
			t.Errorf("the client read %d bytes, then %v; want fewer than %d and a close", n, err, size)
		}
	})
	t.Run("idle keep-alive connections", func(t *testing.T) {
		t.Parallel()
		g := startGW(t, oneRoute(startUpstream(t, named("up")), ""))
		g.srv.mu.Lock()
		defer g.srv.mu.Unlock()
		for k, l := range g.srv.listeners {
			plain, secure := l.HTTPServers()
			for _, s := range []*http.Server{plain, secure} {
				if s.IdleTimeout != 5*time.Minute || s.ReadHeaderTimeout != DefaultHeaderTimeout {
					t.Errorf("listener %v: IdleTimeout %v, ReadHeaderTimeout %v; want 5m and 10s", k, s.IdleTimeout, s.ReadHeaderTimeout)
				}
			}
		}
	})
}

// hxClosedAfter reads c in the background and sends how long it took the
// gateway to close it (ok), or closes the channel if it answered or nothing
// happened within limit.
func hxClosedAfter(c net.Conn, limit time.Duration) chan time.Duration {
	ch := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		c.SetReadDeadline(time.Now().Add(limit))
		n, err := c.Read(make([]byte, 1))
		if n == 0 && (err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
			ch <- time.Since(start)
			return
		}
		close(ch)
	}()
	return ch
}

// hxDrip writes data to c one byte every gap until done has a value.
func hxDrip(c net.Conn, data string, gap time.Duration, done chan time.Duration) {
	for i := range len(data) {
		if _, err := c.Write([]byte{data[i]}); err != nil {
			return
		}
		select {
		case d, ok := <-done:
			if ok {
				done <- d // put it back for the caller
			}
			return
		case <-time.After(gap):
		}
	}
}

// hxEventually polls cond every 10 ms until it holds or d passes.
func hxEventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// security.md HTTP-06, slowloris on a keep-alive connection: after a
// first request is served, a second head dripped one byte every 100 ms is
// cut at the header timeout (500 ms here), timed from its first byte (the
// request validator sets the deadline, as it holds a head until it is
// whole), not left to the 5 min idle timeout; the upstream sees only the
// first request.
func TestHTTP06SlowlorisOnKeepAlive(t *testing.T) {
	t.Parallel()
	rec := hxRecord(t)
	g := startGW(t, oneRoute(rec.port, ""), func(o *Options) { o.HeaderTimeout = 500 * time.Millisecond })
	c := g.dial(80)
	if out := rawRoundTrip(t, c, "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"); hxStatus(out) != "200" {
		t.Fatalf("first request: %q", out)
	}
	closed := hxClosedAfter(c, 5*time.Second)
	hxDrip(c, "GET /slow HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 100*time.Millisecond, closed)
	if took, ok := <-closed; !ok || took < 400*time.Millisecond || took > 3*time.Second {
		t.Errorf("closed after %v (not within 5s: %v), want a close after about 500ms", took, !ok)
	}
	rec.only(t, "/first")
}
