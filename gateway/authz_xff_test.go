package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// azMeshHops is an IstioOperator that trusts n proxies in front of every
// gateway (meshConfig.defaultConfig.gatewayTopology.numTrustedProxies).
func azMeshHops(n int) string {
	return `apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: istio, namespace: istio-system}
spec:
  meshConfig:
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: ` + fmt.Sprint(n) + "\n"
}

// security.md CIP-02: rightmost-N selection. With numTrustedProxies 2
// the client is the 2nd address from the right of X-Forwarded-For as
// received, before the peer is appended; with fewer entries, or a
// non-address there, it is the peer, never the leftmost entry (the
// resolver alone: proxy's TestXFFFromRight). End to end: the mesh trusts
// 2 hops, and a Gateway on port 8080 overrides that with 1 (an empty
// header there is the peer).
func TestCIP02RightmostTrustedHop(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["gw.yaml"] += `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw-one
  annotations:
    proxy.istio.io/config: '{"gatewayTopology": {"numTrustedProxies": 1}}'
spec:
  servers:
  - port: {number: 8080, name: http-one, protocol: HTTP}
    hosts: ["*"]
`
	cfg["vs.yaml"] = strings.Replace(cfg["vs.yaml"], "gateways: [gw]", "gateways: [gw, gw-one]", 1)
	cfg["mesh.yaml"] = azMeshHops(2)
	cfg["ap.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: blocked, namespace: istio-system}
spec:
  action: DENY
  rules: [{from: [{source: {remoteIpBlocks: [6.6.6.6]}}]}]
`
	g := startGW(t, cfg)
	tests := []struct {
		name     string
		xff      []string // header lines
		code     int
		external string // X-Envoy-External-Address at the upstream
		forward  string // X-Forwarded-For at the upstream
	}{
		{"three entries", []string{"6.6.6.6, 203.0.113.10, 203.0.113.1"}, 200, "203.0.113.10", "6.6.6.6, 203.0.113.10, 203.0.113.1, 127.0.0.1"},
		{"spoofed entries prepended", []string{"6.6.6.6, 1.1.1.1, 203.0.113.10, 203.0.113.1"}, 200, "203.0.113.10", "6.6.6.6, 1.1.1.1, 203.0.113.10, 203.0.113.1, 127.0.0.1"},
		{"two header lines", []string{"6.6.6.6", "203.0.113.10, 203.0.113.1"}, 200, "203.0.113.10", "6.6.6.6, 203.0.113.10, 203.0.113.1, 127.0.0.1"},
		{"the 2nd from the right is blocked", []string{"6.6.6.6, 203.0.113.1"}, 403, "", ""},
		{"blocked, across two lines", []string{"6.6.6.6", "203.0.113.1"}, 403, "", ""},
		{"fewer entries than N: the peer, not the leftmost", []string{"6.6.6.6"}, 200, "127.0.0.1", "6.6.6.6, 127.0.0.1"},
		{"no header", nil, 200, "127.0.0.1", "127.0.0.1"},
		{"not an address there", []string{"6.6.6.6, unknown, 203.0.113.1"}, 200, "127.0.0.1", "6.6.6.6, unknown, 203.0.113.1, 127.0.0.1"},
		{"an address with a port there", []string{"6.6.6.6:80, 203.0.113.1"}, 200, "127.0.0.1", "6.6.6.6:80, 203.0.113.1, 127.0.0.1"},
		{"IPv6", []string{"6.6.6.6, 2001:db8::7, 203.0.113.1"}, 200, "2001:db8::7", "6.6.6.6, 2001:db8::7, 203.0.113.1, 127.0.0.1"},
	}
	for _, tc := range tests {
		var hdr []string
		for _, v := range tc.xff {
			hdr = append(hdr, "X-Forwarded-For", v)
		}
		code, body, _ := g.get(80, "", "/x", hdr...)
		if code != tc.code {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.code)
		}
		if code != 200 {
			azNothing(t, ch, tc.name)
			continue
		}
		s := <-ch
		azHeaders(t, s.Header, map[string]string{"X-Envoy-External-Address": tc.external, "X-Forwarded-For": tc.forward})
	}
	// Behind trusted proxies their X-Forwarded-Proto is kept.
	g.get(80, "", "/x", "X-Forwarded-For", "203.0.113.10, 203.0.113.1", "X-Forwarded-Proto", "https")
	azHeaders(t, (<-ch).Header, map[string]string{"X-Forwarded-Proto": "https"})

	// N=1 on port 8080.
	for _, tc := range []struct{ name, lines, external, forward string }{
		{"N=1, an empty header", "X-Forwarded-For: \r\n", "127.0.0.1", "127.0.0.1"},
		{"N=1, no header", "", "127.0.0.1", "127.0.0.1"},
		{"N=1, one entry", "X-Forwarded-For: 203.0.113.1\r\n", "203.0.113.1", "203.0.113.1, 127.0.0.1"},
		{"N=1, the rightmost of three", "X-Forwarded-For: 6.6.6.6, 203.0.113.10, 203.0.113.1\r\n", "203.0.113.1", "6.6.6.6, 203.0.113.10, 203.0.113.1, 127.0.0.1"},
	} {
		out, _ := rawExchange(t, g.srv.Addr(8080).String(), "", []byte("GET /x HTTP/1.1\r\nHost: a\r\n"+tc.lines+"Connection: close\r\n\r\n"))
		if got := bodyOf(t, out); got != "200 ok" {
			t.Errorf("%s: %q", tc.name, got)
			continue
		}
		azHeaders(t, (<-ch).Header, map[string]string{"X-Envoy-External-Address": tc.external, "X-Forwarded-For": tc.forward})
	}
}
