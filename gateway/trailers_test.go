package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Request trailers reach an HTTP/2 upstream filtered by the header rules:
// a client's own trailer passes with its value, while forwarding,
// hop-by-hop, framing and x-envoy-* fields, which every header check has
// already passed by then, never do.
//
// Regression: guards against request trailers reaching an HTTP/2 upstream unfiltered.
func TestH2RequestTrailersFiltered(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		got <- r.Trailer.Clone()
		fmt.Fprint(w, r.Proto)
	}))
	ts.Config.Protocols = new(http.Protocols)
	ts.Config.Protocols.SetUnencryptedHTTP2(true)
	ts.Start()
	t.Cleanup(ts.Close)
	cfg := map[string]string{
		"gw.yaml": httpGateway,
		"se.yaml": fmt.Sprintf("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: h2}\nspec:\n  hosts: [h2.internal]\n  ports: [{number: 8000, name: h2, protocol: HTTP2}]\n  resolution: STATIC\n  endpoints:\n  - address: 127.0.0.1\n    ports: {h2: %d}\n", portOf(t, ts.Listener.Addr())),
		"vs.yaml": catchAllVS("h2.internal"),
	}
	g := startGW(t, cfg)
	c := g.dial(80)
	// (net/http already refuses a request declaring framing trailers such
	// as Content-Length or Connection.)
	forged := []string{"X-Forwarded-For", "X-Envoy-Original-Path", "X-Request-Id", "Proxy-Authorization", "X-Real-Ip", "X-Http-Method-Override"}
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, "+strings.Join(forged, ", ")+"\r\n\r\n"+
		"3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nX-Forwarded-For: 6.6.6.6\r\nX-Envoy-Original-Path: /forged\r\nX-Request-Id: forged\r\nProxy-Authorization: x\r\nX-Real-Ip: 6.6.6.6\r\nX-Http-Method-Override: DELETE\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "HTTP/2.0" {
		t.Fatalf("%d %q, want 200 from the HTTP/2 upstream", resp.StatusCode, body)
	}
	tr := <-got
	if v := tr.Get("X-Checksum"); v != "900150983cd24fb0" {
		t.Errorf("the client's trailer X-Checksum reached the upstream as %q; trailers: %v", v, tr)
	}
	for _, k := range forged {
		if _, ok := tr[k]; ok {
			t.Errorf("trailer %s reached the upstream: %v", k, tr)
		}
	}
}

// Regression (found in review): request trailers were written upstream
// verbatim: no hop-by-hop or framing filter, none of skip()'s rules. Now a
// framing field in the trailers refuses the request (400): sent with its
// head, the upstream is never even dialled; sent after the head went
// upstream, the upstream's request breaks off without any of the trailers.
func TestRequestTrailerFramingFieldsRefused(t *testing.T) {
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
