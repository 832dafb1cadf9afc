package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// Regression (found in review): any Upgrade token is tunnelled (Istio enables only websocket; Envoy
// answers 403 to other upgrades). Upgrade: h2c gives the client a raw HTTP/2
// connection to the upstream, past routing (h2c smuggling).
func TestRegressionH2CUpgradeTunnelled(t *testing.T) {
	got := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Header.Get("Upgrade") != "h2c" {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		buf := make([]byte, 24)
		io.ReadFull(br, buf)
		got <- string(buf)
	})
	g := startGW(t, oneRoute(port, ""))
	c := g.dial(80)
	io.WriteString(c, "GET /public HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.Errorf("Upgrade: h2c on an HTTP port was switched")
	}
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	select {
	case s := <-got:
		t.Errorf("upstream received %q through an h2c tunnel", s)
	case <-time.After(time.Second):
	}
}

// Regression (found in review): a 101 to a request that asked for no upgrade (upstream sends no
// Upgrade header) turns the client connection into a raw tunnel.
func TestRegression101WithoutUpgrade(t *testing.T) {
	got := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		if line, _ := br.ReadString('\n'); line != "" {
			got <- line
		}
	})
	g := startGW(t, oneRoute(port, ""))
	c := g.dial(80)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("a 101 to a plain GET was relayed as %d, want 502", resp.StatusCode)
	}
	io.WriteString(c, "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n")
	select {
	case s := <-got:
		t.Errorf("next client request bypassed the gateway: upstream read %q raw", s)
	case <-time.After(time.Second):
	}
}
