package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Regression (found in review): with a request body, the request head stays in the bufio.Writer
// until the first body bytes arrive from the client: the upstream cannot
// see (or answer) the request before then.
func TestRegressionHeadNotFlushedBeforeBody(t *testing.T) {
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
