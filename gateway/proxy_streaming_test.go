package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression (found in review): with a request body, the request head stays in the bufio.Writer
// until the first body bytes arrive from the client: the upstream cannot
// see (or answer) the request before then.
func TestRequestHeadSentBeforeBody(t *testing.T) {
	seen := make(chan time.Time, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		seen <- time.Now()
		io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	})
	g := startGW(t, oneRoute(port, ""))
	c := g.dial(80)
	start := time.Now()
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
	go func() { time.Sleep(2 * time.Second); io.WriteString(c, "0123456789") }()
	select {
	case at := <-seen:
		if d := at.Sub(start); d > time.Second {
			t.Errorf("upstream received the request head only after %v, when the body started", d)
		}
	case <-time.After(3 * time.Second):
		t.Error("upstream never saw the request")
	}
}

// Regression (found in review): the route timeout never answers while the client's body is stalled:
// exchange waits for the body-writer goroutine, which is blocked reading
// the client.
func TestRouteTimeoutWithStalledBody(t *testing.T) {
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // waits for the whole body
		io.WriteString(w, "ok")
	}))
	g := startGW(t, oneRoute(port, "    timeout: 300ms\n"))
	c := g.dial(80)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("no response %v after %v (route timeout 300ms)", err, time.Since(start))
		return
	}
	t.Logf("got %d after %v", resp.StatusCode, time.Since(start))
}

// Regression (found in review): same, upstream answers early (401) without reading the body: the
// response is held until the client sends more.
func TestEarlyResponseNotHeldByStalledBody(t *testing.T) {
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied")
		time.Sleep(5 * time.Second)
	})
	g := startGW(t, oneRoute(port, ""))
	c := g.dial(80)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Errorf("no response %v after %v", err, time.Since(start))
		return
	}
	t.Logf("got %d after %v", resp.StatusCode, time.Since(start))
}

// Regression (found in review): a client that never reads its response blocks copyBody in w.Write
// forever: no write deadline, and the route timeout only interrupts the
// upstream side (SetDeadline), which copyBody is not waiting on. The
// upstream connection stays open and its handler stays blocked.
func TestRouteTimeoutEndsSlowReader(t *testing.T) {
	ended := make(chan time.Duration, 1)
	chunk := strings.Repeat("x", 64<<10)
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		for i := 0; i < 1000; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				break
			}
		}
		ended <- time.Since(start)
	}))
	g := startGW(t, oneRoute(port, "    timeout: 300ms\n"))
	c := g.dial(80)
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case d := <-ended:
		t.Logf("upstream handler ended after %v", d)
	case <-time.After(3 * time.Second):
		t.Errorf("3s after a 300ms route timeout the upstream is still streaming to a client that never reads")
	}
}
