package gateway

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/pires/go-proxyproto"
)

// pp09Config is a gateway behind a PROXY-sending balancer at 127.0.0.1 on
// every port: HTTPS for p.example.com on 443 to the recorder behind ch,
// and TCP on 9000 to upPort with PROXY v2 sent upstream.
func pp09Config(t *testing.T, cert issued, ch chan seen, upPort uint32) map[string]string {
	return map[string]string{
		"gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [p.example.com]
    tls: ` + simpleTLS(cert) + `
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
`,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
  tcp:
  - match: [{port: 9000}]
    route: [{destination: {host: tcp.internal, port: {number: %d}}}]
`, startUpstream(t, recorder(ch)), upPort),
		"se.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp}
spec:
  hosts: [tcp.internal]
  ports: [{number: %d, name: tcp, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`, upPort),
		"dr.yaml": "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: tcp}\nspec:\n  host: tcp.internal\n  trafficPolicy: {proxyProtocol: {version: V2}}\n",
		"envoyfilter.yaml": `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: proxy-protocol
  annotations: {gatehouse.io/proxy-protocol-trusted-cidrs: 127.0.0.1, gatehouse.io/proxy-protocol-timeout: 500ms}
spec:
  configPatches:
  - applyTo: LISTENER
    patch: {operation: MERGE, value: {listener_filters: [{name: envoy.listener.proxy_protocol}]}}
`,
	}
}

// pp09Upstream is what the PROXY-receiving upstream saw on one connection.
type pp09Upstream struct {
	declared int                // the v2 header's length field
	header   *proxyproto.Header // parsed from exactly 16+declared bytes
	payload  string             // every byte after the header
	err      error
}

// pp09Header builds a v2 header from src with a TLV of n bytes of custom
// type 0xE0 and an authority TLV, as a balancer with extensions sends.
func pp09Header(t *testing.T, src string, n int) []byte {
	h := proxyproto.HeaderProxyFromAddrs(2, tcpAddr(src), tcpAddr("10.0.0.1:9000"))
	if err := h.SetTLVs([]proxyproto.TLV{{Type: 0xE0, Value: bytes.Repeat([]byte("T"), n)}, {Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("evil.example")}}); err != nil {
		t.Fatal(err)
	}
	return header(t, h)
}

// security.md PP-09: layering of PROXY and TLS, and PROXY emitted
// upstream. (a) A bare ClientHello from the trusted balancer, with no
// PROXY header, is closed (missing_header). (b) The header comes before
// TLS: a PROXY line sent inside TLS is HTTP, and gets 400, while a request
// there is served as the outer header's client. (c) The header sent to a
// raw-TCP upstream is the gateway's own: the client's addresses and no
// TLV of the downstream header, its declared length equal to the bytes
// before the payload; a downstream header with 60 KiB of TLVs is refused
// (over MaxV2HeaderSize) and nothing is dialled.
func TestPP09ProxyAndTLSLayering(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t, "edge")
	ch := make(chan seen, 1)
	got := make(chan pp09Upstream, 1)
	var dials atomic.Int32
	upPort := rawUpstream(t, func(c net.Conn) {
		defer c.Close()
		dials.Add(1)
		var u pp09Upstream
		br := bufio.NewReader(c)
		head, err := br.Peek(16)
		if err == nil {
			u.declared = int(binary.BigEndian.Uint16(head[14:]))
			raw := make([]byte, 16+u.declared)
			if _, err = io.ReadFull(br, raw); err == nil {
				u.header, err = proxyproto.Read(bufio.NewReader(bytes.NewReader(raw)))
			}
		}
		if err == nil {
			var rest []byte
			rest, err = io.ReadAll(br)
			u.payload = string(rest)
		}
		u.err = err
		got <- u
	})
	g := startGW(t, pp09Config(t, ca.issue("p", "p.example.com"), ch, upPort))
	https, tcp := g.srv.Addr(443).String(), g.srv.Addr(9000).String()
	dial := func(addr string, pre []byte) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(pre)
		return c
	}
	tlsCfg := &tls.Config{ServerName: "p.example.com", RootCAs: ca.Pool}

	// (a) TLS without the header.
	if err := tls.Client(dial(https, nil), tlsCfg).Handshake(); err == nil {
		t.Error("(a) a ClientHello without a PROXY header completed a handshake")
	}

	// (b) The header outside TLS; a PROXY line inside is no header.
	outer := []byte("PROXY TCP4 203.0.113.7 10.0.0.1 5555 443\r\n")
	for _, tc := range []struct{ name, inside, want string }{
		{"a request", get("p.example.com"), "HTTP/1.1 200"},
		{"a PROXY line", "PROXY TCP4 6.6.6.6 10.0.0.1 1 443\r\n" + get("p.example.com"), "HTTP/1.1 400"},
	} {
		tc1 := tls.Client(dial(https, outer), tlsCfg)
		io.WriteString(tc1, tc.inside)
		out, _ := io.ReadAll(tc1)
		if !strings.HasPrefix(string(out), tc.want) {
			t.Errorf("(b) %s inside TLS: %.60q, want %s", tc.name, out, tc.want)
		}
	}
	azHeaders(t, (<-ch).Header, map[string]string{"X-Envoy-External-Address": "203.0.113.7"})
	azNothing(t, ch, "(b) the PROXY line inside TLS")

	// (c) The upstream header is generated, not copied.
	c := dial(tcp, append(pp09Header(t, "198.51.100.7:4444", 3000), "hello"...))
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
	u := <-got
	switch {
	case u.err != nil:
		t.Fatalf("(c) upstream: %v", u.err)
	case u.header.SourceAddr.String() != "198.51.100.7:4444":
		t.Errorf("(c) upstream header source %v", u.header.SourceAddr)
	case u.payload != "hello":
		t.Errorf("(c) after the declared %d header bytes the upstream read %q, want exactly the client's hello", u.declared, u.payload)
	case u.declared > 65535:
		t.Errorf("(c) declared length %d", u.declared)
	}
	if u.header != nil {
		if tlvs, err := u.header.TLVs(); err != nil || len(tlvs) != 0 {
			t.Errorf("(c) upstream header TLVs %v (%v), want none of the client's", tlvs, err)
		}
	}
	before := dials.Load()
	c = dial(tcp, append(pp09Header(t, "198.51.100.7:4444", 60<<10), "hello"...))
	if out, _ := io.ReadAll(c); len(out) != 0 {
		t.Errorf("(c) 60 KiB of TLVs: got %q", out)
	}
	if dials.Load() != before {
		t.Error("(c) a header with 60 KiB of TLVs was forwarded")
	}
	waitRefused(t, g, listener.ProxyMissing, 1)   // (a)
	waitRefused(t, g, listener.ProxyMalformed, 1) // the 60 KiB header
}
