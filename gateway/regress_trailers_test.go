package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Regression (found in review): request trailers were written upstream
// verbatim: no hop-by-hop or framing filter, none of skip()'s rules. Now a
// framing field in the trailers refuses the request (400): sent with its
// head, the upstream is never even dialled; sent after the head went
// upstream, the upstream's request breaks off without any of the trailers.
func TestRegressionRequestTrailersUnfiltered(t *testing.T) {
	const head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	const body = "3\r\nabc\r\n0\r\nContent-Length: 99\r\nX-Envoy-Original-Path: /forged\r\nX-Forwarded-For: 6.6.6.6\r\nHost: admin.internal\r\nConnection: close\r\n\r\n"
	var dialled atomic.Int32
	heads, raw := make(chan struct{}, 1), make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		dialled.Add(1)
		var got strings.Builder
		br := bufio.NewReader(io.TeeReader(c, &got))
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		heads <- struct{}{}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.Copy(io.Discard, br)
		raw <- got.String()
	})
	g := startGW(t, oneRoute(port, ""))
	status := func(c net.Conn) int {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		return resp.StatusCode
	}

	c := g.dial(80)
	io.WriteString(c, head+body)
	if code := status(c); code != 400 {
		t.Errorf("with the head: %d, want 400", code)
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("with the head: the upstream was dialled %d times, want never", n)
	}

	c = g.dial(80)
	io.WriteString(c, head)
	<-heads
	io.WriteString(c, body)
	if code := status(c); code != 400 {
		t.Errorf("after the head: %d, want 400", code)
	}
	got := <-raw
	for _, h := range []string{"Content-Length: 99", "X-Envoy-Original-Path", "X-Forwarded-For: 6.6.6.6", "Host: admin.internal"} {
		if i := strings.Index(got, "\r\n\r\n"); strings.Contains(got[i:], h) {
			t.Errorf("trailer %q forwarded:\n%s", h, got)
		}
	}
}
