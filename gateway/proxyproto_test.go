package gateway

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// whoami answers with the X-Forwarded-For it received: the address the
// gateway believes the client has.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, r.Header.Get("X-Forwarded-For"))
})

// proxyConfig is a config whose port 80 takes PROXY headers, turned on by
// the EnvoyFilter users paste from Istio's docs.
func proxyConfig(t *testing.T, annotations string) map[string]string {
	cfg := oneRoute(startUpstream(t, whoami), "")
	cfg["envoyfilter.yaml"] = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: proxy-protocol
  namespace: istio-system
  annotations: {` + annotations + `}
spec:
  configPatches:
  - applyTo: LISTENER
    patch:
      operation: MERGE
      value:
        listener_filters:
        - name: envoy.listener.proxy_protocol
        - name: envoy.listener.tls_inspector
  workloadSelector:
    labels:
      istio: ingressgateway
`
	return cfg
}

// rawExchange dials addr from the local address from (if set), writes
// data, and returns what comes back until the connection closes or 3 s.
func rawExchange(t *testing.T, addr, from string, data []byte) (string, time.Duration) {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.Write(data)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	out, _ := io.ReadAll(c)
	return string(out), time.Since(start)
}

func get(host string) string {
	return "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
}

func header(t *testing.T, h *proxyproto.Header) []byte {
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func tcpAddr(s string) *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", s)
	return a
}

func bodyOf(t *testing.T, raw string) string {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("no HTTP response in %q: %v", raw, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-timeout: 300ms`))
	addr := g.srv.Addr(80).String()
	v2 := func(cmd proxyproto.ProtocolVersionAndCommand, src, dst string) []byte {
		h := proxyproto.HeaderProxyFromAddrs(2, tcpAddr(src), tcpAddr(dst))
		h.Command = cmd
		return header(t, h)
	}
	served := []struct {
		name   string
		header []byte
		want   string
	}{
		{"v1 IPv4", []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"), "200 203.0.113.7"},
		{"v1 IPv6", []byte("PROXY TCP6 2001:db8::7 2001:db8::1 5555 80\r\n"), "200 2001:db8::7"},
		{"v2 IPv4", v2(proxyproto.PROXY, "198.51.100.9:4000", "10.0.0.1:80"), "200 198.51.100.9"},
		{"v2 IPv6", v2(proxyproto.PROXY, "[2001:db8::9]:4000", "[2001:db8::1]:80"), "200 2001:db8::9"},
	}
	for _, tc := range served {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := rawExchange(t, addr, "", append(tc.header, get("a.example.com")...))
			if got := bodyOf(t, out); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	refused := []struct {
		name, from string
		data       []byte
		maxTime    time.Duration
	}{
		{"malformed v1", "", []byte("PROXY TCP4 1.2.3.4\r\n" + get("a")), time.Second},
		{"v1 port with a leading zero", "", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n" + get("a")), time.Second},
		{"v2 TLV overrun", "", hexBytes("0D0A0D0A000D0A515549540A 21 11 0014 7F000001 7F000001 002A 0539 02000A 31323334353132333435"), time.Second},
		{"v2 truncated addresses", "", hexBytes("0D0A0D0A000D0A515549540A 21 12 0000"), time.Second},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			out, took := rawExchange(t, addr, tc.from, tc.data)
			if out != "" {
				t.Errorf("got a response %q, want the connection closed without one", out)
			}
			if took > tc.maxTime {
				t.Errorf("closed after %v", took)
			}
		})
	}
}

func hexBytes(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// With "plain", untrusted peers are direct clients: their own address
// counts, and a PROXY line they send is no header but a bad request.
func TestProxyProtocolPlainUntrusted(t *testing.T) {
	t.Parallel()
	g := startGW(t, proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32", gatehouse.io/proxy-protocol-untrusted: plain`))
	addr := g.srv.Addr(80).String()
	if out, _ := rawExchange(t, addr, "127.0.0.2", []byte(get("a"))); bodyOf(t, out) != "200 127.0.0.2" {
		t.Errorf("direct client: %q", out)
	}
	out, _ := rawExchange(t, addr, "127.0.0.2", []byte("PROXY TCP4 10.9.9.9 10.0.0.2 1234 80\r\n"+get("a")))
	if strings.Contains(out, "10.9.9.9") || !strings.HasPrefix(out, "HTTP/1.1 400") {
		t.Errorf("an untrusted peer's PROXY line: %q, want 400", out)
	}
}

// The mesh-config and annotation forms turn PROXY on too.
func TestProxyProtocolFromMeshConfig(t *testing.T) {
	t.Parallel()
	forms := map[string]map[string]string{
		"IstioOperator": {"mesh.yaml": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: istio
  namespace: istio-system
  annotations: {gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.0/8"}
spec:
  profile: default
  meshConfig:
    accessLogFile: ""
    defaultConfig:
      gatewayTopology:
        proxyProtocol: {}
  components:
    ingressGateways:
    - name: istio-ingressgateway
      enabled: true
`},
		"Gateway annotation": {"gw.yaml": strings.Replace(httpGateway, "metadata: {name: gw}", `metadata:
  name: gw
  annotations:
    proxy.istio.io/config: '{"gatewayTopology": {"proxyProtocol": {}}}'
    gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1"`, 1)},
	}
	for name, files := range forms {
		t.Run(name, func(t *testing.T) {
			cfg := oneRoute(startUpstream(t, whoami), "")
			for k, v := range files {
				cfg[k] = v
			}
			g := startGW(t, cfg)
			addr := g.srv.Addr(80).String()
			if out, _ := rawExchange(t, addr, "", []byte("PROXY TCP4 192.0.2.4 10.0.0.1 1 80\r\n"+get("a"))); bodyOf(t, out) != "200 192.0.2.4" {
				t.Errorf("with a header: %q", out)
			}
			if out, _ := rawExchange(t, addr, "", []byte(get("a"))); out != "" {
				t.Errorf("without a header: %q, want closed", out)
			}
		})
	}
}
