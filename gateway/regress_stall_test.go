package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Regression (found in review): the route timeout never answers while the client's body is stalled:
// exchange waits for the body-writer goroutine, which is blocked reading
// the client.
func TestRegressionTimeoutWithStalledBody(t *testing.T) {
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
func TestRegressionEarlyResponseHeldByStalledBody(t *testing.T) {
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
