package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Regression (found by FuzzRequest): a client that sends its request and
// half-closes is a client that went away to net/http, and the gateway gave
// up on the exchange (DC) but returned without answering, so net/http
// answered "200 OK" with an empty body: a success the upstream never gave.
// The gateway must answer with the upstream's response or not at all.
func TestRegressionHalfCloseGetsNoFakeSuccess(t *testing.T) {
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		time.Sleep(20 * time.Millisecond) // the gateway sees the half-close first
		io.WriteString(w, "ok")
	}))
	g := startGW(t, oneRoute(port, ""))
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	} {
		c := g.dial(80)
		io.WriteString(c, req)
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		out, err := io.ReadAll(c)
		c.Close()
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		if len(out) > 0 && !strings.HasSuffix(string(out), "\r\n\r\nok") {
			t.Errorf("%q: half-closed client got %q; want the upstream's answer or nothing", req, out)
		}
	}
}
