package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Regression (found in review): an upstream response whose body overruns its Content-Length leaves
// bytes buffered in the pooled connection; the next request (from another
// client) reuses the connection within probeIdleAfter and is answered with
// them.
func TestRegressionResponseOverrunDesync(t *testing.T) {
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if i == 0 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"+
					"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Poison: 1\r\n\r\nPOISONED")
				continue
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		}
	})
	g := startGW(t, oneRoute(port, ""))
	_, b1, _ := g.get(80, "", "/victim-a")
	c2 := &http.Client{Transport: &http.Transport{}} // another client connection
	req, _ := http.NewRequest("GET", g.url(80)+"/victim-b", nil)
	resp, err := c2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("client 1 got %q; client 2 (GET /victim-b) got %q X-Poison=%q", b1, b2, resp.Header.Get("X-Poison"))
	if strings.Contains(string(b2), "POISON") {
		t.Errorf("desync: client 2 received bytes the upstream sent after response 1")
	}
}

// Regression (found in review): an upstream that sends a body on a HEAD response (a common
// framework bug) shifts every later response on that pooled connection by
// one: the next client gets the body bytes parsed as its response, and the
// client after that gets the previous client's response.
func TestRegressionHeadBodyShiftsQueue(t *testing.T) {
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!" // page content that happens to look like a response
			if req.Method != "HEAD" {
				body = "for " + req.URL.Path
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	g := startGW(t, oneRoute(port, ""))
	req, _ := http.NewRequest("HEAD", g.url(80)+"/page", nil)
	do(t, req)
	for _, p := range []string{"/alice", "/bob"} {
		c := &http.Client{Transport: &http.Transport{}}
		resp, err := c.Get(g.url(80) + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("GET %s -> %q", p, b)
		if string(b) != "for "+p {
			t.Errorf("GET %s answered with %q", p, b)
		}
	}
}
