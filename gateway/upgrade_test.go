package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// grpcGateway is a plaintext GRPC port, where HTTP/1.1 may upgrade to h2c.
const grpcGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: grpc, protocol: GRPC}
    hosts: ["*"]
`

// Only a complete h2c upgrade (Connection naming HTTP2-Settings, the
// settings header, no body) switches protocols; anything else is served
// once, as HTTP/1.1: no double access-log line, no body buffered whole.
//
// Regression (security review): guards against incomplete h2c upgrades being
// switched, logged twice, or having their body buffered whole.
func TestH2CUpgradeOnlyWhenComplete(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	cfg := accessLogConfig(startUpstream(t, named("up")), file, "TEXT")
	cfg["gw.yaml"] = grpcGateway
	g := startGW(t, cfg)
	got := rawRequests(t, g.srv.Addr(80).String(),
		"GET /a HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
		"POST /b HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\n\r\nhello",
		"GET /c HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
	want := []string{"HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 101 Switching Protocols"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("responses %q, want %q", got, want)
	}
	// The upgraded /c is served as HTTP/2 stream 1 and may be logged as
	// such; it is never logged as an HTTP/1.1 request.
	lines := readLog(t, g, file)
	all := strings.Join(lines, "\n")
	if len(lines) < 2 || len(lines) > 3 || !strings.Contains(lines[0], `"GET /a HTTP/1.1" 200`) ||
		!strings.Contains(lines[1], `"POST /b HTTP/1.1" 200`) || strings.Contains(all, `/c HTTP/1.1"`) {
		t.Fatalf("access log:\n%s", all)
	}
}

// An upgrade whose client never sends the HTTP/2 preface ends at once;
// the access log must not read the request stream 1 is still serving
// (run with -race: a concurrent map access crashed the process).
//
// Regression (security review): guards against a data race between an abandoned
// h2c upgrade and the access log.
func TestH2CAbandonedUpgrade(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	cfg := accessLogConfig(startUpstream(t, named("up")), file, "TEXT")
	cfg["gw.yaml"] = grpcGateway
	g := startGW(t, cfg)
	addr := g.srv.Addr(80).String()
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: app.example.com\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nnot a preface")
		c.Close()
	}
	if code, _, _ := g.get(80, "app.example.com", "/after"); code != 200 {
		t.Fatalf("gateway not serving after abandoned upgrades: %d", code)
	}
}

// Regression (found in review): any Upgrade token is tunnelled (Istio enables only websocket; Envoy
// answers 403 to other upgrades). Upgrade: h2c gives the client a raw HTTP/2
// connection to the upstream, past routing (h2c smuggling).
func TestH2CUpgradeNotTunnelled(t *testing.T) {
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
func Test101WithoutUpgradeRefused(t *testing.T) {
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
