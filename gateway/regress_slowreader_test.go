package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression (found in review): a client that never reads its response blocks copyBody in w.Write
// forever: no write deadline, and the route timeout only interrupts the
// upstream side (SetDeadline), which copyBody is not waiting on. The
// upstream connection stays open and its handler stays blocked.
func TestRegressionSlowReaderOutlivesRouteTimeout(t *testing.T) {
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
