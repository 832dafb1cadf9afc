package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// azTwoDoors has two entrances to one route: port 80 behind a load
// balancer at 127.0.0.1 that sends PROXY headers (other peers are served
// as direct clients), and port 8080 behind one trusted proxy that
// appends to X-Forwarded-For (numTrustedProxies 1, set by the Gateway's
// proxy.istio.io/config annotation).
func azTwoDoors(port uint32, policy string) map[string]string {
	return map[string]string{
		"gw.yaml": `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw-proxy}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw-xff
  annotations:
    proxy.istio.io/config: '{"gatewayTopology": {"numTrustedProxies": 1}}'
spec:
  servers:
  - port: {number: 8080, name: http-xff, protocol: HTTP}
    hosts: ["*"]
`,
		"envoyfilter.yaml": `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: proxy-protocol
  namespace: istio-system
  annotations: {gatehouse.io/proxy-protocol-trusted-cidrs: "127.0.0.1", gatehouse.io/proxy-protocol-untrusted: plain}
spec:
  configPatches:
  - applyTo: LISTENER
    match: {context: GATEWAY, listener: {portNumber: 80}}
    patch: {operation: MERGE, value: {listener_filters: [{name: envoy.listener.proxy_protocol}]}}
`,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: ["*"]
  gateways: [gw-proxy, gw-xff]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %d}}}]
`, port),
		"ap.yaml": "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: istio-system}\nspec:\n" + policy,
	}
}

// security.md CIP-06: ipBlocks (physical peer) vs remoteIpBlocks
// (original client). ipBlocks and source.ip see the physical peer;
// remoteIpBlocks and remote.ip see the client a PROXY header or
// X-Forwarded-For (with numTrustedProxies) names. The client is
// 198.51.100.7 behind the load balancer 127.0.0.1, or 127.0.0.2
// connecting directly; the catalogue's DENY ipBlocks + ALLOW
// remoteIpBlocks pair is one row of the matrix.
func TestCIP06IPBlocksVsRemoteIPBlocks(t *testing.T) {
	t.Parallel()
	const (
		deny  = "  action: DENY\n  rules: [{from: [{source: {%s: [%s]}}]}]\n"
		allow = "  rules: [{from: [{source: {%s: [%s]}}]}]\n"
	)
	tests := []struct {
		name, policy string
		proxy, xff   int // status behind the PROXY balancer / the XFF proxy
		direct       int // status of the direct client 127.0.0.2
	}{
		{"DENY ipBlocks client", fmt.Sprintf(deny, "ipBlocks", "198.51.100.0/24"), 200, 200, 200},
		{"DENY remoteIpBlocks client", fmt.Sprintf(deny, "remoteIpBlocks", "198.51.100.0/24"), 403, 403, 200},
		{"ALLOW ipBlocks client", fmt.Sprintf(allow, "ipBlocks", "198.51.100.0/24"), 403, 403, 403},
		{"ALLOW remoteIpBlocks client", fmt.Sprintf(allow, "remoteIpBlocks", "198.51.100.0/24"), 200, 200, 403},
		{"DENY ipBlocks balancer", fmt.Sprintf(deny, "ipBlocks", "127.0.0.1"), 403, 403, 200},
		{"DENY remoteIpBlocks balancer", fmt.Sprintf(deny, "remoteIpBlocks", "127.0.0.1"), 200, 200, 200},
		{"security.md: DENY ipBlocks + ALLOW remoteIpBlocks", `  rules: [{from: [{source: {remoteIpBlocks: [198.51.100.0/24]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: d, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {ipBlocks: [198.51.100.0/24]}}]}]
`, 200, 200, 403},
		{"DENY when remote.ip", "  action: DENY\n  rules: [{when: [{key: remote.ip, values: [198.51.100.7]}]}]\n", 403, 403, 200},
		{"DENY when source.ip", "  action: DENY\n  rules: [{when: [{key: source.ip, values: [127.0.0.2/32]}]}]\n", 200, 200, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ch := make(chan seen, 1)
			g := startGW(t, azTwoDoors(startUpstream(t, recorder(ch)), tc.policy))
			req := "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
			doors := []struct {
				door, addr, from, data string
				want                   int
				xff, external          string // what the upstream must get
			}{
				{"PROXY", g.srv.Addr(80).String(), "127.0.0.1", "PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n" + req + "\r\n", tc.proxy, "198.51.100.7", "198.51.100.7"},
				{"XFF", g.srv.Addr(8080).String(), "127.0.0.1", req + "X-Forwarded-For: 198.51.100.7\r\n\r\n", tc.xff, "198.51.100.7, 127.0.0.1", "198.51.100.7"},
				{"direct", g.srv.Addr(80).String(), "127.0.0.2", req + "\r\n", tc.direct, "127.0.0.2", "127.0.0.2"},
			}
			for _, d := range doors {
				out, _ := rawExchange(t, d.addr, d.from, []byte(d.data))
				want := map[int]string{200: "200 ok", 403: "403 RBAC: access denied"}[d.want]
				if got := bodyOf(t, out); got != want {
					t.Errorf("%s: %q, want %q", d.door, got, want)
				}
				if d.want != 200 {
					azNothing(t, ch, d.door)
					continue
				}
				s := <-ch
				azHeaders(t, s.Header, map[string]string{"X-Forwarded-For": d.xff, "X-Envoy-External-Address": d.external})
			}
		})
	}
}

// CIP-07: a negative numTrustedProxies is a configuration error, reported
// at its file and line, in both places it may be written.
func TestCIP07NegativeTrustedProxies(t *testing.T) {
	t.Parallel()
	forms := map[string]string{
		"mesh.yaml": `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: istio, namespace: istio-system}
spec:
  meshConfig:
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: -1
`,
		"gw.yaml": strings.Replace(httpGateway, "metadata: {name: gw}", `metadata:
  name: gw
  annotations:
    proxy.istio.io/config: '{"gatewayTopology": {"numTrustedProxies": -1}}'`, 1),
	}
	for file, data := range forms {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := oneRoute(1, "")
			files[file] = data
			for name, d := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(d), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			at := regexp.MustCompile(regexp.QuoteMeta(file) + `:\d+:`)
			if _, err := New(Options{ConfigPaths: []string{dir}}); err == nil || !at.MatchString(err.Error()) || !strings.Contains(err.Error(), "-1") {
				t.Errorf("New: %v; want an error at %s:<line> about -1", err, file)
			}
			if _, _, _, err := Check(Options{ConfigPaths: []string{dir}}); err == nil || !at.MatchString(err.Error()) {
				t.Errorf("Check: %v; want an error at %s:<line>", err, file)
			}
		})
	}
}
