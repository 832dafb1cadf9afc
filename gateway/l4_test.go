package gateway

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// A plaintext server with httpsRedirect answers 301 to https, Host (and
// its port) and path kept, as Envoy builds it.
func TestHTTPSRedirect(t *testing.T) {
	t.Parallel()
	cfg := oneRoute(startUpstream(t, named("up")), "")
	cfg["gw.yaml"] = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [secure.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http-open, protocol: HTTP}
    hosts: [open.example.com]
`
	g := startGW(t, cfg)
	for _, tc := range []struct{ host, path, code, location string }{
		{"secure.example.com", "/a/b?c=d", "301", "https://secure.example.com/a/b?c=d"},
		{"secure.example.com:8080", "/x", "301", "https://secure.example.com:8080/x"},
		{"secure.example.com", "/nothing/routes/here", "301", "https://secure.example.com/nothing/routes/here"},
		{"open.example.com", "/", "200", ""},
	} {
		req, _ := http.NewRequest("GET", g.url(80)+tc.path, nil)
		req.Host = tc.host
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if fmt.Sprint(resp.StatusCode) != tc.code || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s%s = %d %q, want %s %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location)
		}
	}
}

// HTTP/2 over TLS (ALPN), h2c with prior knowledge, and the h2c upgrade
// on a GRPC port; an HTTP port ignores "Upgrade: h2c" and never forwards
// it.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 4)
	ca := newTestCA(t, "edge")
	cert := ca.issue("h2", "h2.example.com")
	up := startUpstream(t, recorder(ch))
	cfg := httpsGateway(t, map[string]string{"h2.example.com": simpleTLS(cert)})
	cfg["gw2.yaml"] = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: plain}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 81, name: grpc, protocol: GRPC}
    hosts: ["*"]
`
	cfg["vs2.yaml"] = fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain}
spec:
  hosts: ["*"]
  gateways: [plain]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, up)
	g := startGW(t, cfg)

	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: "h2.example.com", RootCAs: ca.Pool}, ForceAttemptHTTP2: true}
	req, _ := http.NewRequest("GET", "https://"+g.srv.Addr(443).String()+"/", nil)
	req.Host = "h2.example.com"
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("HTTPS: %v %v, want HTTP/2", resp, err)
	}
	resp.Body.Close()

	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	resp, err = (&http.Client{Transport: h2c}).Get(g.url(80) + "/prior")
	if err != nil || resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("h2c prior knowledge: %v %v", resp, err)
	}
	resp.Body.Close()
	<-ch

	upgrade := "GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"
	// After the 101 the client speaks HTTP/2: its preface and SETTINGS let
	// the server answer the upgraded request on stream 1.
	preface := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	out, _ := rawExchange(t, g.srv.Addr(81).String(), "", []byte(upgrade+preface))
	if !strings.HasPrefix(out, "HTTP/1.1 101 Switching Protocols") || !strings.Contains(strings.ToLower(out), "upgrade: h2c") {
		t.Errorf("h2c upgrade on a GRPC port: %.80q", out)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("the upgraded request never reached the upstream; got %q", out)
	}

	out, _ = rawExchange(t, g.srv.Addr(80).String(), "", []byte(strings.Replace(upgrade, "Connection: Upgrade, HTTP2-Settings", "Connection: Upgrade, HTTP2-Settings, close", 1)))
	if !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Errorf("Upgrade: h2c on an HTTP port: %.80q, want a plain 200", out)
	}
	if s := <-ch; s.Header.Get("Upgrade") != "" || s.Header.Get("Http2-Settings") != "" {
		t.Errorf("the upstream got Upgrade %q HTTP2-Settings %q", s.Header.Get("Upgrade"), s.Header.Get("Http2-Settings"))
	}
}

// tcpGateway listens for TCP on port 9000.
const tcpGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
`

// tcpConfig forwards TCP port 9000 to 127.0.0.1:port.
func tcpConfig(port uint32) map[string]string {
	return map[string]string{
		"gw.yaml": tcpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port),
	}
}

// A DestinationRule's proxyProtocol makes TCP forwarding tell the upstream
// who the client is, here the client a trusted load balancer named in its
// own PROXY header: the minikube case, where the cluster's ingress gateway
// expects PROXY headers.
func TestTCPForwardingSendsProxyHeader(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	port := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		h, err := proxyproto.Read(bufio.NewReader(c))
		if err != nil {
			got <- err.Error()
			return
		}
		got <- h.SourceAddr.String()
	})
	cfg := tcpConfig(port)
	cfg["dr.yaml"] = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: up}
spec:
  host: 127.0.0.1
  trafficPolicy:
    proxyProtocol: {version: V2}
`
	cfg["envoyfilter.yaml"] = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: proxy-protocol
  annotations: {gatehouse.io/proxy-protocol-trusted-cidrs: 127.0.0.1}
spec:
  configPatches:
  - applyTo: LISTENER
    patch: {operation: MERGE, value: {listener_filters: [{name: envoy.listener.proxy_protocol}]}}
`
	g := startGW(t, cfg)
	c := g.dial(9000)
	io.WriteString(c, "PROXY TCP4 203.0.113.7 10.0.0.1 4321 9000\r\nhello")
	if src := <-got; src != "203.0.113.7:4321" {
		t.Errorf("upstream PROXY source %q, want the client 203.0.113.7:4321", src)
	}
}

// nameServer is a TCP upstream that writes its name and closes.
func nameServer(t *testing.T, name string) uint32 {
	return rawUpstream(t, func(c net.Conn) {
		io.WriteString(c, name)
		c.Close()
	})
}

// TCP routes: destinationSubnets picks the route by the address the
// client connected to, and a weighted route splits connections.
func TestTCPRouteMatchAndWeights(t *testing.T) {
	t.Parallel()
	a, b, never := nameServer(t, "a"), nameServer(t, "b"), nameServer(t, "never")
	g := startGW(t, map[string]string{
		"gw.yaml": tcpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 9000, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  - match: [{port: 9000, destinationSubnets: [127.0.0.0/8]}]
    route:
    - {destination: {host: 127.0.0.1, port: {number: %d}}, weight: 80}
    - {destination: {host: 127.0.0.1, port: {number: %d}}, weight: 20}
`, never, a, b),
	})
	const n = 500
	counts := map[string]int{}
	for range n {
		c := g.dial(9000)
		got, _ := io.ReadAll(c)
		c.Close()
		counts[string(got)]++
	}
	if counts["never"] != 0 {
		t.Errorf("the 10.0.0.0/8 route took %d connections made to 127.0.0.1", counts["never"])
	}
	if share := float64(counts["a"]) / n; math.Abs(share-0.8) > 0.06 || counts["a"]+counts["b"] != n {
		t.Errorf("weights 80/20 gave %v", counts)
	}
}

// Behind a TLS-terminating load balancer (numTrustedProxies 1), a
// trusted X-Forwarded-Proto: https satisfies httpsRedirect, as Envoy's
// require_tls; from an untrusted client it does not.
//
// Regression (security review): guards against httpsRedirect ignoring a trusted
// X-Forwarded-Proto, or believing an untrusted one.
func TestHTTPSRedirectTrustsForwardedProto(t *testing.T) {
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
