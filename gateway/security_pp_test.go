package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/pires/go-proxyproto"
)

// ppInternalPolicy lets only clients in 10.0.0.0/8 (remoteIpBlocks, the
// client a PROXY header names) reach /internal; every other path is open.
const ppInternalPolicy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: internal, namespace: istio-system}
spec:
  rules:
  - from: [{source: {remoteIpBlocks: [10.0.0.0/8]}}]
    to: [{operation: {paths: ["/internal"]}}]
  - to: [{operation: {notPaths: ["/internal"]}}]
`

// ppConfig is proxyConfig with the recorder behind ch as the upstream and
// extra files added.
func ppConfig(t *testing.T, ch chan seen, annotations string, extra map[string]string) map[string]string {
	cfg := proxyConfig(t, annotations)
	cfg["vs.yaml"] = vsTo(startUpstream(t, recorder(ch)))
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// waitRefused waits until the connections refused at their PROXY header
// for reason number want: the gateway counts a refusal just after it
// closes the connection, so a client can see the close first.
func waitRefused(t *testing.T, g *gw, reason string, want int) {
	t.Helper()
	got := 0.0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if s := series(scrape(t, g, "/metrics"), "gatehouse_proxy_protocol_refused_total", "reason="+reason); len(s) == 1 {
			if got = s[0].Counter.GetValue(); got == float64(want) {
				return
			}
		}
	}
	t.Errorf("refusals for %s: %v, want %d", reason, got, want)
}

// waitLogged waits until the gateway's log holds every one of parts.
func waitLogged(t *testing.T, g *gw, parts ...string) {
	t.Helper()
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		logs, all := g.logs.String(), true
		for _, p := range parts {
			all = all && strings.Contains(logs, p)
		}
		if all {
			return
		}
		if time.Now().After(end) {
			t.Errorf("the log lacks one of %q:\n%s", parts, logs)
			return
		}
	}
}

// security.md PP-01: PROXY header from an untrusted peer (IP spoofing). A
// peer outside the trusted CIDRs is closed as it is accepted, with or
// without a header and before anything parses HTTP (no 400, no response
// at all), within a second; the upstream is never reached, each refusal
// counts as untrusted_peer, and the header's 10.0.0.1 never becomes the
// client. The trusted load balancer's identical bytes are served, as
// 10.0.0.1: the policy would let the forged address in.
func TestPP01UntrustedPeerHeader(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 4)
	g := startGW(t, ppConfig(t, ch, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32"`, map[string]string{"ap.yaml": ppInternalPolicy}))
	addr := g.srv.Addr(80).String()
	const forged = "PROXY TCP4 10.0.0.1 10.0.0.2 1234 80\r\n"
	internal := "GET /internal HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	refused := []struct{ name, data string }{
		{"header and /internal", forged + internal},
		{"no header", internal},
		{"header and /public", forged + get("a")},
		{"garbage, never parsed as HTTP", "NOT HTTP AT ALL\r\n\r\n"},
	}
	for _, tc := range refused {
		out, took := rawExchange(t, addr, "127.0.0.2", []byte(tc.data))
		if out != "" {
			t.Errorf("%s from 127.0.0.2: got %q, want the connection closed without a response", tc.name, out)
		}
		if took > time.Second {
			t.Errorf("%s from 127.0.0.2: closed after %v, want within 1s", tc.name, took)
		}
		azNothing(t, ch, tc.name)
	}
	waitRefused(t, g, listener.ProxyUntrusted, len(refused))
	waitLogged(t, g, "peer=127.0.0.2:", "reason="+listener.ProxyUntrusted)

	// Control: the same bytes from the trusted balancer are served as 10.0.0.1.
	out, _ := rawExchange(t, addr, "127.0.0.1", []byte(forged+internal))
	if got := bodyOf(t, out); got != "200 ok" {
		t.Fatalf("trusted balancer: %q, want 200 ok", got)
	}
	azHeaders(t, (<-ch).Header, map[string]string{"X-Envoy-External-Address": "10.0.0.1", "X-Forwarded-For": "10.0.0.1"})
}

// security.md PP-02: trusted peer sends no header. The header is required
// from a trusted peer: a plain request closes the connection with no
// status line, counted as missing_header and logged, never served as a
// direct client. Serving such peers without a header (Envoy's
// allow_requests_without_proxy_protocol, the "optional header" footgun)
// happens only when asked for, and then with a warning.
func TestPP02TrustedPeerWithoutHeader(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	g := startGW(t, ppConfig(t, ch, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32", gatehouse.io/proxy-protocol-timeout: 300ms`, nil))
	addr := g.srv.Addr(80).String()
	for _, req := range []string{get("a"), "GET / HTTP/1.0\r\n\r\n", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"} {
		out, took := rawExchange(t, addr, "127.0.0.1", []byte(req))
		if out != "" || took > time.Second {
			t.Errorf("%q from the trusted peer: got %q after %v, want closed with no status line", req, out, took)
		}
	}
	azNothing(t, ch, "a request without a header")
	waitRefused(t, g, listener.ProxyMissing, 3)
	waitLogged(t, g, "level=WARN", "reason="+listener.ProxyMissing)

	files := proxyConfig(t, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32"`)
	files["envoyfilter.yaml"] = strings.Replace(files["envoyfilter.yaml"], "- name: envoy.listener.proxy_protocol",
		"- name: envoy.listener.proxy_protocol\n          typed_config: {allow_requests_without_proxy_protocol: true}", 1)
	_, problems, _, err := checkDir(t, files)
	warned := false
	for _, p := range problems {
		warned = warned || (p.Warning && strings.Contains(p.String(), "connections without a PROXY header are served as direct clients"))
	}
	if err != nil || !warned {
		t.Errorf("allow_requests_without_proxy_protocol: err %v, problems %v; want it loaded with a warning", err, problems)
	}
}

// security.md PP-04: v2 LOCAL command that still carries an address
// block. The socket peer is the client for remoteIpBlocks, for the
// forwarding headers and for the access log; the block's 10.10.10.10
// is never used. Both the catalogue's bytes and a header built by
// go-proxyproto are sent.
func TestPP04LocalCommandWithAddresses(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	file := filepath.Join(t.TempDir(), "access.log")
	g := startGW(t, ppConfig(t, ch, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32"`, map[string]string{
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: not-ten, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {remoteIpBlocks: [10.10.10.10/32]}}]}]
`,
		"mesh.yaml": "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + file + ", accessLogEncoding: JSON}\n",
	}))
	addr := g.srv.Addr(80).String()
	built := header(t, &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.TCPv4,
		SourceAddr: tcpAddr("10.10.10.10:5555"), DestinationAddr: tcpAddr("10.0.0.2:80")})
	for _, tc := range []struct {
		name   string
		header []byte
	}{
		{"security.md bytes", hexBytes("0D0A0D0A000D0A515549540A 20 11 000C 0A0A0A0A 0A000002 15B3 0050")},
		{"Header.Format", built},
	} {
		out, _ := rawExchange(t, addr, "127.0.0.1", append(tc.header, get("a")...))
		if got := bodyOf(t, out); got != "200 ok" {
			t.Errorf("%s: %q, want 200 ok (the DENY on 10.10.10.10 must not fire)", tc.name, got)
			continue
		}
		azHeaders(t, (<-ch).Header, map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Envoy-External-Address": "127.0.0.1"})
	}
	lines := readLog(t, g, file)
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if ra, _ := m["downstream_remote_address"].(string); !strings.HasPrefix(ra, "127.0.0.1:") || strings.Contains(l, "10.10.10.10") {
			t.Errorf("access log names %q as the client, want the socket peer 127.0.0.1:\n%s", ra, l)
		}
	}
}

// security.md PP-08: a policy error must not stop the accept loop. The
// gateway reads PROXY headers itself; what stands for a failing policy is
// a listener whose Accept fails with a plain (non-temporary) error for
// one peer, and a connection whose peer address cannot be classified.
// Only those connections are dropped: Run keeps serving and the next
// request from the trusted peer gets 200.
func TestPP08PolicyErrorKeepsAcceptLoop(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := ppConfig(t, ch, `gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1/32"`, nil)
	g := startGW(t, cfg, func(o *Options) {
		o.Listen = func(ctx context.Context, network, addr string) (net.Listener, error) {
			var lc net.ListenConfig
			ln, err := lc.Listen(ctx, network, addr)
			return &ppFaultyListener{Listener: ln}, err
		}
	})
	addr := g.srv.Addr(80).String()
	hdr := "PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\n"
	for _, from := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.3", "127.0.0.4"} {
		if out, took := rawExchange(t, addr, from, []byte(hdr+get("a"))); out != "" || took > time.Second {
			t.Errorf("from %s: got %q after %v, want the connection dropped", from, out, took)
		}
		out, _ := rawExchange(t, addr, "127.0.0.1", []byte(hdr+get("a")))
		if got := bodyOf(t, out); got != "200 ok" {
			t.Fatalf("after a failure for %s: %q, want 200 ok", from, got)
		}
		azHeaders(t, (<-ch).Header, map[string]string{"X-Envoy-External-Address": "203.0.113.7"})
	}
	select {
	case err := <-g.done:
		g.done <- err
		t.Fatalf("Run returned %v after a policy error", err)
	default:
	}
	if logs := g.logs.String(); !strings.Contains(logs, "accept failed; retrying") {
		t.Errorf("the failed Accept is not logged:\n%s", logs)
	}
}

// ppFaultyListener fails for two peers the way a connection policy can:
// Accept returns a plain error for 127.0.0.3 (a failed allowlist lookup),
// and a connection from 127.0.0.4 has an address no policy can classify.
type ppFaultyListener struct{ net.Listener }

func (l *ppFaultyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	switch host, _, _ := net.SplitHostPort(c.RemoteAddr().String()); host {
	case "127.0.0.3":
		c.Close()
		return nil, errors.New("allowlist lookup failed for 127.0.0.3")
	case "127.0.0.4":
		return ppUnclassified{c}, nil
	}
	return c, nil
}

// ppUnclassified is a connection whose peer is not an IP address.
type ppUnclassified struct{ net.Conn }

func (ppUnclassified) RemoteAddr() net.Addr { return &net.UnixAddr{Name: "@peer", Net: "unix"} }
