package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// up04Upstream answers /deny with 403 without reading the body, and
// anything else with "ok " and the body; it counts its connections.
func up04Upstream(t *testing.T) (port uint32, conns *atomic.Int32) {
	conns = new(atomic.Int32)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "no")
			return
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, "ok "+string(b))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return portOf(t, ts.Listener.Addr()), conns
}

// security.md UP-04: Expect: 100-continue. 1 000 times: a POST of 10
// bytes with "Expect: 100-continue" to an upstream that answers 403
// without reading the body, then a normal POST; the upstream pool holds
// one connection (maxConnections 1), so the second request needs the pool
// slot the first used. Every 403 reaches the client, every normal request
// succeeds, and -race finds nothing. The Expect request is sent by Go's
// client on connections it does not reuse, and by hand as RFC 9110 says
// (the body only after a 100, none after a final status); about 0.5 s, 4 s
// under -race. (One Go client for both requests is
// TestUP04SharedClientConnection.)
func TestUP04ExpectContinue(t *testing.T) {
	t.Parallel()
	port, conns := up04Upstream(t)
	g := startGW(t, upstreamRoute(port, "    connectionPool: {tcp: {maxConnections: 1}}\n"))
	addr := g.srv.Addr(80).String()
	expect := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	normal := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	viaGo := func() (string, error) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/deny", strings.NewReader("0123456789"))
		req.Header.Set("Expect", "100-continue")
		resp, err := expect.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b), err
	}
	byHand := func() (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err == nil && resp.StatusCode == http.StatusContinue {
			io.WriteString(c, "0123456789")
			resp, err = http.ReadResponse(br, nil)
		}
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		return resp.Status + " " + string(b), err
	}
	failures := 0
	for i := range 1000 {
		send := viaGo
		if i%2 == 1 {
			send = byHand
		}
		if got, err := send(); got != "403 Forbidden no" || err != nil {
			failures++
			t.Errorf("iteration %d: the 100-continue request got %q, %v", i, got, err)
		}
		resp, err := normal.Post("http://"+addr+"/ok", "text/plain", strings.NewReader("x"))
		if err != nil {
			failures++
			t.Errorf("iteration %d: the next request: %v", i, err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "ok x" {
				failures++
				t.Errorf("iteration %d: the next request got %d %q", i, resp.StatusCode, b)
			}
		}
		if failures > 5 {
			t.Fatal("giving up")
		}
	}
	t.Logf("%d upstream connections for 2 000 requests", conns.Load())
}

// security.md UP-04 (one client): the catalogue's sequence on one Go
// client: a POST with "Expect: 100-continue" that the upstream answers
// with 403 unread, then a normal POST, 1 000 times; every normal request
// succeeds. The 403 comes with "Connection: close" whenever the gateway
// stopped reading the client's body, so the client never sends the next
// request on a connection the gateway is closing.
func TestUP04SharedClientConnection(t *testing.T) {
	t.Parallel()
	port, _ := up04Upstream(t)
	g := startGW(t, oneRoute(port, ""))
	c := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}, Timeout: 10 * time.Second}
	failed := 0
	for range 1000 {
		req, _ := http.NewRequest("POST", g.url(80)+"/deny", strings.NewReader("0123456789"))
		req.Header.Set("Expect", "100-continue")
		if resp, err := c.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		resp, err := c.Post(g.url(80)+"/ok", "text/plain", strings.NewReader("x"))
		if err != nil {
			failed++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if failed > 0 {
		t.Errorf("%d of 1000 normal requests after a 100-continue exchange failed", failed)
	}
}
