package gateway

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// misdirectedConfig is one HTTPS port with a public server for every host
// (SIMPLE) and an admin server requiring client certificates (MUTUAL), as
// in the bypass: the public server's hosts cover the admin name too. Two
// more servers share one certificate and settings (a.example.com,
// b.example.com), so HTTP/2 may coalesce them. Every request is logged.
func misdirectedConfig(t *testing.T, ca *testCA, logFile string) map[string]string {
	pub := ca.issue("public", "*.example.com", "public.example.com")
	adm := ca.issue("admin", "admin.example.com")
	ab := ca.issue("ab", "a.example.com", "b.example.com")
	vs := func(name, host string, port uint32) string {
		return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %s}
spec:
  hosts: [%q]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, name, host, port)
	}
	return map[string]string{
		"gw.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https-admin, protocol: HTTPS}
    hosts: [admin.example.com]
    tls: {mode: MUTUAL, serverCertificate: %s, privateKey: %s, caCertificates: %s}
  - port: {number: 443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: %s
  - port: {number: 443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: %s
  - port: {number: 443, name: https-public, protocol: HTTPS}
    hosts: ["*"]
    tls: %s
`, adm.CertFile, adm.KeyFile, ca.File, simpleTLS(ab), simpleTLS(ab), simpleTLS(pub)),
		"vs.yaml": vs("admin", "admin.example.com", startUpstream(t, named("admin"))) +
			vs("a", "a.example.com", startUpstream(t, named("a"))) +
			vs("b", "b.example.com", startUpstream(t, named("b"))) +
			vs("public", "*", startUpstream(t, named("public"))),
		"mesh.yaml": "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + logFile + "}\n",
	}
}

// tlsClient sends requests to addr with the given SNI over HTTP/1.1 or
// HTTP/2; every request of one client reuses one connection, whatever its
// Host, as a browser coalescing connections does.
func tlsClient(t *testing.T, addr, sni string, h2 bool, cfg *tls.Config) *http.Client {
	t.Helper()
	cfg = cfg.Clone()
	cfg.ServerName = sni
	if sni == "" {
		cfg.InsecureSkipVerify = true // nothing to verify a name against
	}
	dial := func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
		d := tls.Dialer{Config: cfg}
		return d.DialContext(ctx, network, addr)
	}
	var rt http.RoundTripper
	if h2 {
		cfg.NextProtos = []string{"h2"}
		rt = &http2.Transport{DialTLSContext: dial}
	} else {
		cfg.NextProtos = []string{"http/1.1"}
		rt = &http.Transport{DialTLSContext: func(ctx context.Context, n, a string) (net.Conn, error) { return dial(ctx, n, a, nil) },
			MaxConnsPerHost: 1}
	}
	c := &http.Client{Transport: rt, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// getHost sends GET / with the given Host over c.
func getHost(t *testing.T, c *http.Client, host string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://gatehouse.test/", nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// A request is served under the TLS policy of the server that owns its
// Host: a client that handshook with the public server (no client
// certificate) and then names the admin host, over HTTP/1.1 or as an
// HTTP/2 :authority, gets 421 and never reaches the admin routes.
// Hosts of the same server, and of a server with the same certificate
// and settings (HTTP/2 coalescing), keep working.
func TestMisdirectedRequest(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	logFile := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, misdirectedConfig(t, ca, logFile))
	addr := g.srv.Addr(443).String()
	client := ca.issue("client", "client.example.com")
	roots := &tls.Config{RootCAs: ca.Pool}
	withClientCert := &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{client.TLS}}
	tests := []struct {
		name, sni, host string
		cfg             *tls.Config
		code            int
		body            string
	}{
		{"public SNI, admin Host", "public.example.com", "admin.example.com", roots, 421, ""},
		{"public SNI, admin Host with port and dot", "public.example.com", "Admin.Example.com.:443", roots, 421, ""},
		{"public SNI, another public Host", "public.example.com", "www.example.com", roots, 200, "public"},
		{"admin SNI with a certificate", "admin.example.com", "admin.example.com", withClientCert, 200, "admin"},
		{"admin SNI, public Host", "admin.example.com", "www.example.com", withClientCert, 421, ""},
		{"coalesced under one certificate", "a.example.com", "b.example.com", roots, 200, "b"},
		{"same server", "a.example.com", "a.example.com", roots, 200, "a"},
		{"a SNI, public Host", "a.example.com", "www.example.com", roots, 421, ""},
		{"no SNI is the * server", "", "www.example.com", roots, 200, "public"},
		{"no SNI, admin Host", "", "admin.example.com", roots, 421, ""},
		{"no SNI, coalescable Host of another server", "", "a.example.com", roots, 421, ""},
	}
	for _, h2 := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, tc.name), func(t *testing.T) {
				c := tlsClient(t, addr, tc.sni, h2, tc.cfg)
				// The first request names the SNI's own host, so the second
				// one travels on an established connection.
				if tc.sni != "" {
					if code, _, err := getHost(t, c, tc.sni); err != nil || code != 200 {
						t.Fatalf("Host %s on its own connection: %d, %v", tc.sni, code, err)
					}
				}
				code, body, err := getHost(t, c, tc.host)
				if err != nil || code != tc.code || (tc.body != "" && body != tc.body) {
					t.Fatalf("SNI %q, Host %q: %d %q, %v; want %d %q", tc.sni, tc.host, code, body, err, tc.code, tc.body)
				}
			})
		}
	}
	if _, err := getHostErr(tlsClient(t, addr, "admin.example.com", false, roots)); err == nil {
		t.Error("admin SNI without a client certificate was served")
	}
	fams := scrape(t, g, "/metrics")
	if n := value(t, fams, "gatehouse_misdirected_requests_total"); n != 12 {
		t.Errorf("gatehouse_misdirected_requests_total = %v, want 12", n)
	}
	var logged int
	for _, l := range readLog(t, g, logFile) {
		if strings.Contains(l, `" 421 NR misdirected_request `) {
			logged++
		}
	}
	if logged != 12 {
		t.Errorf("%d access log lines with 421 NR misdirected_request, want 12:\n%s", logged, strings.Join(readLog(t, g, logFile), "\n"))
	}
}

func getHostErr(c *http.Client) (int, error) {
	resp, err := c.Get("https://gatehouse.test/")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
