package gateway

import (
	"fmt"
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

// CIP-02: with numTrustedProxies 2 the client is the 2nd address from the
// right of X-Forwarded-For as received; with fewer entries, or a
// non-address there, it is the peer, never the leftmost entry.
func TestAuthzXFFTrustedHops(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(upstream(t, recorder(ch)), "")
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
}

// CIP-05: headers in which a client claims trust or identity never reach
// the policy or the upstream as sent when no proxy is trusted.
func TestAuthzClientHeadersSanitized(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(upstream(t, recorder(ch)), "")
	// Each rule would deny the request if the client's header survived.
	cfg["ap.yaml"] = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: tripwires, namespace: istio-system}
spec:
  action: DENY
  rules:
  - from: [{source: {remoteIpBlocks: [10.0.0.1]}}]
  - when: [{key: "request.headers[x-envoy-internal]", values: ["*"]}]
  - when: [{key: "request.headers[x-forwarded-client-cert]", values: ["*"]}]
  - when: [{key: "request.headers[x-forwarded-host]", values: ["*"]}]
  - when: [{key: "request.headers[forwarded]", values: ["*"]}]
  - when: [{key: "request.headers[x-forwarded-proto]", values: [https]}]
  - when: [{key: "request.headers[x-envoy-external-address]", values: [10.0.0.1]}]
`
	g := startGW(t, cfg)
	code, body, _ := g.get(80, "", "/x",
		"X-Envoy-External-Address", "10.0.0.1",
		"X-Envoy-Internal", "true",
		"X-Envoy-Original-Path", "/public",
		"X-Forwarded-Proto", "https",
		"X-Forwarded-Host", "admin.internal",
		"X-Forwarded-Port", "443",
		"Forwarded", "for=10.0.0.1;proto=https",
		"X-Forwarded-Client-Cert", "By=spiffe://cluster.local/ns/default/sa/gw;URI=spiffe://cluster.local/ns/default/sa/admin",
		"X-Real-IP", "10.0.0.1",
		"X-Client-IP", "10.0.0.1")
	if code != 200 || body != "ok" {
		t.Fatalf("got %d %q, want 200: a client-sent header reached the policy", code, body)
	}
	azHeaders(t, (<-ch).Header, map[string]string{
		"X-Envoy-External-Address": "127.0.0.1",
		"X-Forwarded-Proto":        "http",
		"X-Forwarded-For":          "127.0.0.1",
		"X-Envoy-Internal":         "",
		"X-Envoy-Original-Path":    "",
		"X-Forwarded-Host":         "",
		"X-Forwarded-Port":         "",
		"Forwarded":                "",
		"X-Forwarded-Client-Cert":  "",
		"X-Real-Ip":                "",
		"X-Client-Ip":              "",
	})
}
