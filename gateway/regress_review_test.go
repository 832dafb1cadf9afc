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

// Regressions found in the security review of the authorization, client
// address and access-log changes.

// grpcGateway is a plaintext GRPC port, where HTTP/1.1 may upgrade to h2c.
const grpcGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: grpc, protocol: GRPC}
    hosts: ["*"]
`

// A CORS preflight skips JWT verification, but never lets a client set
// the headers a verified token would set.
func TestRegressionCORSPreflightCannotForgeOutputHeaders(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	req, _ := http.NewRequest("OPTIONS", g.url(80)+"/open", nil)
	req.Host = "api.example.com"
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("X-Jwt-Sub", "root")
	req.Header.Set("X-Jwt-Payload", "eyJzdWIiOiJyb290In0")
	if code, _, _ := do(t, req); code != 200 {
		t.Fatalf("preflight: %d", code)
	}
	s := <-ch
	if v := s.Header.Get("X-Jwt-Sub") + s.Header.Get("X-Jwt-Payload"); v != "" {
		t.Errorf("upstream got forged output headers %q", v)
	}
}

// Behind a TLS-terminating load balancer (numTrustedProxies 1), a
// trusted X-Forwarded-Proto: https satisfies httpsRedirect, as Envoy's
// require_tls; from an untrusted client it does not.
func TestRegressionHTTPSRedirectTrustsForwardedProto(t *testing.T) {
	t.Parallel()
	for _, hops := range []int{0, 1} {
		cfg := oneRoute(startUpstream(t, named("up")), "")
		cfg["gw.yaml"] = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [secure.example.com]\n    tls: {httpsRedirect: true}\n"
		cfg["mesh.yaml"] = azMeshHops(hops)
		g := startGW(t, cfg)
		req, _ := http.NewRequest("GET", g.url(80)+"/x", nil)
		req.Host = "secure.example.com"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[int]int{0: 301, 1: 200}[hops]; resp.StatusCode != want {
			t.Errorf("numTrustedProxies %d: %d, want %d", hops, resp.StatusCode, want)
		}
	}
}

// rawRequests sends each raw request on its own connection and returns
// the first response line of each.
func rawRequests(t *testing.T, addr string, reqs ...string) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, r)
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		out = append(out, strings.TrimSpace(line))
	}
	return out
}

// Only a complete h2c upgrade (Connection naming HTTP2-Settings, the
// settings header, no body) switches protocols; anything else is served
// once, as HTTP/1.1: no double access-log line, no body buffered whole.
func TestRegressionH2CUpgradeOnlyWhenComplete(t *testing.T) {
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
func TestRegressionH2CAbandonedUpgrade(t *testing.T) {
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

// The access log's path is never taken from a client's
// X-Envoy-Original-Path.
func TestRegressionLogPathNotFromClient(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, accessLogConfig(startUpstream(t, named("app")), file, "TEXT"))
	got := rawRequests(t, g.srv.Addr(80).String(),
		"GET /real%2Fpath HTTP/1.1\r\nHost: a\r\nX-Envoy-Original-Path: /innocent\r\nConnection: close\r\n\r\n")
	if got[0] != "HTTP/1.1 400 Bad Request" {
		t.Fatalf("response %q", got)
	}
	if lines := readLog(t, g, file); len(lines) != 1 || !strings.Contains(lines[0], `"GET /real%2Fpath HTTP/1.1" 400`) {
		t.Fatalf("access log: %q", lines)
	}
}
