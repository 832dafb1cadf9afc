package gateway

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostDenyConfig routes every host to the recorder and denies
// admin.example.com; with extraHosts the VirtualService also lists that
// many other hosts, so routing works on a large table.
func hostDenyConfig(t *testing.T, ch chan seen, extraHosts int, logFile string) map[string]string {
	hosts := []string{`"admin.example.com"`}
	for i := range extraHosts {
		hosts = append(hosts, fmt.Sprintf("h%d.example.org", i))
	}
	cfg := map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [%s]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %[2]d}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rest}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %[2]d}}}]
`, strings.Join(hosts, ", "), startUpstream(t, recorder(ch))),
		"deny.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules:
  - to: [{operation: {hosts: [admin.example.com]}}]
`,
	}
	if logFile != "" {
		cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + logFile + "}\n"
	}
	return cfg
}

// Authorization and routing see the same host: lower case, no port, no
// trailing dot. A DENY on hosts: [admin.example.com] holds for every
// spelling that routes to the admin host, with one configured host and
// with 10 000; the upstream gets the host in that form (the client's port
// kept, as Istio keeps it), and so does the access log.
func TestHostNormalForm(t *testing.T) {
	t.Parallel()
	for _, extra := range []int{0, 9999} {
		t.Run(fmt.Sprintf("%d hosts", extra+2), func(t *testing.T) {
			t.Parallel()
			ch := make(chan seen, 10)
			logFile := filepath.Join(t.TempDir(), "access.log")
			g := startGW(t, hostDenyConfig(t, ch, extra, logFile))
			for _, host := range []string{"admin.example.com", "admin.example.com:8443", "admin.example.com.",
				"ADMIN.Example.COM", "Admin.Example.Com.:80"} {
				if code, _, _ := g.get(80, host, "/"); code != http.StatusForbidden {
					t.Errorf("Host %q: %d, want 403", host, code)
				}
			}
			select {
			case s := <-ch:
				t.Fatalf("a denied request reached the upstream: %+v", s)
			default:
			}
			for _, tc := range []struct{ host, upstream string }{
				{"www.example.com", "www.example.com"},
				{"WWW.Example.com.:8080", "www.example.com:8080"},
				{"h7.example.org", "h7.example.org"},
			} {
				if code, _, _ := g.get(80, tc.host, "/"); code != http.StatusOK {
					t.Errorf("Host %q: %d, want 200", tc.host, code)
					continue
				}
				if s := <-ch; s.Host != tc.upstream {
					t.Errorf("Host %q reached the upstream as %q, want %q", tc.host, s.Host, tc.upstream)
				}
			}
			if log := strings.Join(readLog(t, g, logFile), "\n"); !strings.Contains(log, `"www.example.com:8080"`) ||
				strings.Contains(log, "WWW.") || strings.Contains(log, "com.:") {
				t.Errorf("access log authority of Host WWW.Example.com.:8080 is not in normal form:\n%s", log)
			}
		})
	}
}

// An absolute-form request-target must name the connection's scheme: http
// on a plaintext listener (https is 400, as Envoy answers at an edge with
// no trusted hops). The request never reaches the upstream.
func TestAbsoluteFormScheme(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 10)
	g := startGW(t, oneRoute(startUpstream(t, recorder(ch)), ""))
	got := rawRequests(t, g.srv.Addr(80).String(),
		"GET https://app.example.com/x HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
		"GET ftp://app.example.com/x HTTP/1.1\r\nHost: app.example.com\r\n\r\n",
		"GET http://app.example.com/y HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
	want := []string{"HTTP/1.1 400 Bad Request", "HTTP/1.1 400 Bad Request", "HTTP/1.1 200 OK"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("responses %q, want %q", got, want)
	}
	if s := <-ch; s.Path != "/y" {
		t.Errorf("upstream got %q, want /y", s.Path)
	}
	select {
	case s := <-ch:
		t.Fatalf("a refused request reached the upstream: %+v", s)
	default:
	}
}

// An absolute-form target naming http on a TLS listener is 400 too.
func TestAbsoluteFormSchemeTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	cert := ca.issue("app", "app.example.com")
	up := &countingHosts{}
	g := startGW(t, tlsServers(t, up, [2]string{"app.example.com", simpleTLS(cert)}))
	for _, tc := range []struct {
		target string
		code   string
	}{{"http://app.example.com/", "400"}, {"https://app.example.com/", "200"}, {"/", "200"}} {
		line := rawTLSRequest(t, g.srv.Addr(443).String(), "app.example.com", ca,
			"GET "+tc.target+" HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(line, "HTTP/1.1 "+tc.code) {
			t.Errorf("GET %s over TLS: %q, want %s", tc.target, line, tc.code)
		}
	}
	if n := up.n.Load(); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
}

// rawTLSRequest sends req over a TLS connection (HTTP/1.1 by ALPN) with
// the given SNI and returns the first line of the answer.
func rawTLSRequest(t *testing.T, addr, sni string, ca *testCA, req string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, RootCAs: ca.Pool, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}
