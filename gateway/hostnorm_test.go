package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
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

// An HTTP/2 :authority with bytes no host name has (net/http checks them
// in HTTP/1 Host headers only) is refused with 400 and never forwarded;
// a Kelvin sign once routed such a request to the ASCII name's host.
//
// Regression: guards against HTTP/2 :authority bytes going unchecked into routing.
func TestH2AuthorityValidated(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	port := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("ka"))
	}))
	vs := fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ka}
spec:
  hosts: [ka.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port)
	g := startGW(t, map[string]string{"gw.yaml": grpcGateway, "vs.yaml": vs})
	for _, tc := range []struct {
		authority string
		status    string
		hits      int32
	}{
		{"\u212Aa.example.COM", "400", 0},
		{"ka.example.com\x7f", "RST PROTOCOL_ERROR", 0}, // refused by the HTTP/2 server itself
		{"Ka.Example.COM:80", "200", 1},
	} {
		before := hits.Load()
		if got := h2Status(t, g.srv.Addr(80).String(), tc.authority); got != tc.status {
			t.Errorf(":authority %q: status %s, want %s", tc.authority, got, tc.status)
		}
		if n := hits.Load() - before; n != tc.hits {
			t.Errorf(":authority %q: %d requests reached the upstream, want %d", tc.authority, n, tc.hits)
		}
	}
}

// h2Status sends one prior-knowledge HTTP/2 GET with the given :authority
// (raw frames: Go's client refuses to send a bad one) and returns :status.
func h2Status(t *testing.T, addr, authority string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	status := ""
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf(":authority %q: no response: %v", authority, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 {
				dec.Write(f.HeaderBlockFragment())
				return status
			}
		case *http2.RSTStreamFrame:
			return "RST " + f.ErrCode.String()
		case *http2.GoAwayFrame:
			if f.ErrCode != http2.ErrCodeNo || f.LastStreamID < 1 {
				return "GOAWAY " + f.ErrCode.String()
			} // a graceful close (the answer says Connection: close): stream 1 is still answered
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
