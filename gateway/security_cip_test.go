package gateway

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// security.md CIP-01: XFF spoofing with numTrustedProxies = 0. Whatever
// a client from 127.0.0.2 writes in X-Forwarded-For, X-Real-IP,
// X-Envoy-External-Address or Forwarded, remote.ip is its socket address:
// the ALLOW on remoteIpBlocks 10.0.0.0/8 answers 403 on /internal. The
// upstream gets the client's list with the peer appended, and the peer
// as X-Envoy-External-Address.
func TestCIP01XFFSpoofingNoTrustedProxies(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["ap.yaml"] = ppInternalPolicy
	g := startGW(t, cfg)
	addr := g.srv.Addr(80).String()
	tests := []struct {
		name, headers string
		forwarded     string // X-Forwarded-For at the upstream on /public
	}{
		{"X-Forwarded-For and X-Real-IP", "X-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 10.0.0.1\r\n", "10.0.0.1, 127.0.0.2"},
		{"X-Forwarded-For alone", "X-Forwarded-For: 10.0.0.1\r\n", "10.0.0.1, 127.0.0.2"},
		{"X-Real-IP alone", "X-Real-IP: 10.0.0.1\r\n", "127.0.0.2"},
		{"a list", "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n", "10.0.0.1, 10.0.0.2, 127.0.0.2"},
		{"two header lines", "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n", "10.0.0.1, 10.0.0.2, 127.0.0.2"},
		{"X-Envoy-External-Address", "X-Envoy-External-Address: 10.0.0.1\r\n", "127.0.0.2"},
		{"Forwarded", "Forwarded: for=10.0.0.1\r\n", "127.0.0.2"},
		{"all of them", "X-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 10.0.0.1\r\nX-Envoy-External-Address: 10.0.0.1\r\nForwarded: for=10.0.0.1\r\n", "10.0.0.1, 127.0.0.2"},
	}
	for _, tc := range tests {
		out, _ := rawExchange(t, addr, "127.0.0.2", []byte("GET /internal HTTP/1.1\r\nHost: a\r\n"+tc.headers+"Connection: close\r\n\r\n"))
		if got := bodyOf(t, out); got != "403 RBAC: access denied" {
			t.Errorf("%s on /internal: %q, want 403", tc.name, got)
		}
		azNothing(t, ch, tc.name+" on /internal")
		out, _ = rawExchange(t, addr, "127.0.0.2", []byte("GET /public HTTP/1.1\r\nHost: a\r\n"+tc.headers+"Connection: close\r\n\r\n"))
		if got := bodyOf(t, out); got != "200 ok" {
			t.Errorf("%s on /public: %q, want 200", tc.name, got)
			continue
		}
		s := <-ch
		azHeaders(t, s.Header, map[string]string{"X-Forwarded-For": tc.forwarded, "X-Envoy-External-Address": "127.0.0.2",
			"X-Real-Ip": "", "Forwarded": ""})
		if !uuidRE.MatchString(s.Header.Get("X-Request-Id")) {
			t.Errorf("%s: X-Request-Id %q, want one the gateway generated", tc.name, s.Header.Get("X-Request-Id"))
		}
	}
}

// security.md CIP-04: Connection-nominated headers delete headers the
// gateway adds. A client naming X-Forwarded-For, X-Envoy-External-Address,
// X-Request-Id and the JWT output headers in Connection loses its own
// copies only: the gateway's X-Forwarded-For (the peer), external address,
// generated request id and verified claim headers all reach the upstream,
// and a client-sent X-Envoy-External-Address never does.
func TestCIP04ConnectionCannotDropGatewayHeaders(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	idp := newAzIdP(t)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	addr := g.srv.Addr(80).String()
	tok := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice", "org", map[string]any{"team": "blue"}))
	payload := strings.Split(tok, ".")[1]
	const nominate = "Connection: close, X-Forwarded-For, X-Envoy-External-Address, X-Request-Id, X-Jwt-Payload, X-Jwt-Sub\r\n"
	tests := []struct {
		name, headers string
		want          map[string]string
	}{
		{"forwarding headers", "X-Forwarded-For: 10.0.0.1\r\nX-Envoy-External-Address: 10.0.0.1\r\nX-Request-Id: client-id\r\n" + nominate,
			map[string]string{"X-Forwarded-For": "127.0.0.2", "X-Envoy-External-Address": "127.0.0.2"}},
		{"claim headers", "Authorization: Bearer " + tok + "\r\nX-Jwt-Payload: forged\r\nX-Jwt-Sub: root\r\nX-Envoy-External-Address: 10.0.0.1\r\n" + nominate,
			map[string]string{"X-Forwarded-For": "127.0.0.2", "X-Envoy-External-Address": "127.0.0.2", "X-Jwt-Payload": payload, "X-Jwt-Sub": "alice", "Authorization": ""}},
		{"no token, claim headers forged", "X-Jwt-Payload: forged\r\nX-Jwt-Sub: root\r\n" + nominate,
			map[string]string{"X-Envoy-External-Address": "127.0.0.2", "X-Jwt-Payload": "", "X-Jwt-Sub": ""}},
	}
	for _, tc := range tests {
		out, _ := rawExchange(t, addr, "127.0.0.2", []byte("GET /open HTTP/1.1\r\nHost: api.example.com\r\n"+tc.headers+"\r\n"))
		if got := bodyOf(t, out); got != "200 ok" {
			t.Errorf("%s: %q, want 200 ok", tc.name, got)
			continue
		}
		s := <-ch
		azHeaders(t, s.Header, tc.want)
		if id := s.Header.Get("X-Request-Id"); !uuidRE.MatchString(id) {
			t.Errorf("%s: X-Request-Id %q, want one the gateway generated", tc.name, id)
		}
	}
}

// security.md CIP-05: client-supplied trust and identity headers. When
// no proxy is trusted, the headers in which a client claims trust or
// identity never reach the policy (DENY tripwires), the routing (routes
// that would answer 418) or the upstream as sent: they are removed, or
// replaced by the gateway's values. X-Forwarded-Proto is the downstream
// connection's own scheme, https over TLS and http in the clear.
func TestCIP05ClientTrustHeaders(t *testing.T) {
	t.Parallel()
	ch := make(chan seen, 1)
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	var trip strings.Builder
	for _, h := range []string{"x-envoy-internal: {exact: \"true\"}", "x-forwarded-host: {exact: admin.internal}", "forwarded: {prefix: for=}",
		"x-forwarded-client-cert: {prefix: By=}", "x-envoy-external-address: {exact: 10.0.0.1}", "x-real-ip: {exact: 10.0.0.1}",
		"x-forwarded-proto: {exact: https}", "x-envoy-original-path: {exact: /public}"} {
		fmt.Fprintf(&trip, "  - match: [{headers: {%s}}]\n    directResponse: {status: 418}\n", h)
	}
	cfg["vs.yaml"] = strings.Replace(cfg["vs.yaml"], "  http:\n", "  http:\n"+trip.String(), 1)
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

	// Over TLS the scheme is https, whatever the client claims (a gateway
	// of its own: over TLS the tripwire on https would rightly fire).
	ca := newTestCA(t, "edge")
	tlsCfg := oneRoute(startUpstream(t, recorder(ch)), "")
	tlsCfg["gw.yaml"] = strings.Replace(httpGateway, "{number: 80, name: http, protocol: HTTP}", "{number: 443, name: https, protocol: HTTPS}", 1) +
		"    tls: " + simpleTLS(ca.issue("s", "s.example.com")) + "\n"
	g = startGW(t, tlsCfg)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "s.example.com", RootCAs: ca.Pool}}}
	req, _ := http.NewRequest("GET", "https://"+g.srv.Addr(443).String()+"/x", nil)
	req.Host = "s.example.com"
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("X-Envoy-Internal", "true")
	if code, body, _ := doWith(t, c, req); code != 200 || body != "ok" {
		t.Fatalf("over TLS: %d %q, want 200", code, body)
	}
	azHeaders(t, (<-ch).Header, map[string]string{"X-Forwarded-Proto": "https", "X-Envoy-Internal": ""})
}
