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

// Regression (found in review): request trailers are written upstream verbatim: no hop-by-hop or
// framing filter, none of skip()'s rules.
func TestRegressionRequestTrailersUnfiltered(t *testing.T) {
	raw := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(c)
		raw <- string(b)
	})
	g := startGW(t, oneRoute(port, ""))
	c := g.dial(80)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3\r\nabc\r\n0\r\nContent-Length: 99\r\nX-Envoy-Original-Path: /forged\r\nX-Forwarded-For: 6.6.6.6\r\nHost: admin.internal\r\nConnection: close\r\n\r\n")
	go http.ReadResponse(bufio.NewReader(c), nil)
	got := <-raw
	t.Logf("upstream bytes:\n%s", got)
	for _, h := range []string{"Content-Length: 99", "X-Envoy-Original-Path", "X-Forwarded-For: 6.6.6.6", "Host: admin.internal"} {
		if i := strings.Index(got, "\r\n0\r\n"); i >= 0 && strings.Contains(got[i:], h) {
			t.Errorf("trailer %q forwarded", h)
		}
	}
}
