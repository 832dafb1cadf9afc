package gateway

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// azJWTConfig routes api.example.com to the recorder at port, with three
// JWT rules on one key set: idp-a (audience api, output headers),
// idp-b (forwardOriginalToken) and idp-c (custom locations only), and an
// ALLOW policy that wants a request principal on /secure. On
// narrow.example.com only /only is routed.
func azJWTConfig(port uint32, jwksURI string) map[string]string {
	return map[string]string{
		"gw.yaml": httpGateway,
		"vs.yaml": fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: narrow}
spec:
  hosts: [narrow.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /only}}]
    route: [{destination: {host: 127.0.0.1, port: {number: %[1]d}}}]
`, port),
		"ra.yaml": fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://idp-a.example
    jwksUri: %[1]s
    audiences: [api]
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {header: x-jwt-sub, claim: sub}
    - {header: x-jwt-team, claim: org.team}
  - issuer: https://idp-b.example
    jwksUri: %[1]s
    forwardOriginalToken: true
  - issuer: https://idp-c.example
    jwksUri: %[1]s
    fromHeaders: [{name: x-token, prefix: "Token "}]
    fromParams: [tok]
    fromCookies: [session]
`, jwksURI),
		"ap.yaml": `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: istio-system}
spec:
  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
    to: [{operation: {paths: ["/secure", "/secure/*"]}}]
  - to: [{operation: {notPaths: ["/secure", "/secure/*"]}}]
`,
	}
}

// Tokens of every kind against RequestAuthentication + AuthorizationPolicy:
// what the client sees, and what reaches the upstream.
func TestAuthzJWT(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))

	alice := azClaims("https://idp-a.example", "alice", "org", map[string]any{"team": "blue"})
	good := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", alice)
	goodEC := idp.sign(t, jwt.SigningMethodES256, "ec-1", alice)
	goodB := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-b.example", "bob"))
	goodC := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-c.example", "carol"))
	expired := azClaims("https://idp-a.example", "alice", "exp", time.Now().Add(-2*time.Hour).Unix())
	seg := strings.Split(good, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://idp-a.example","sub":"admin","aud":"api","exp":4102444800}`))
	pub, _ := x509.MarshalPKIXPublicKey(&azKeys().rsa.PublicKey)
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, alice)
	hmac.Header["kid"] = "rsa-1"
	confusedDER, err := hmac.SignedString(pub)
	if err != nil {
		t.Fatal(err)
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + seg[1] + "."

	const (
		noKey = "Jwks doesn't have key to match kid or alg from Jwt"
		api   = "api.example.com"
	)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	azJWTRun(t, g, ch, []azJWTCase{
		{"valid RS256 token", api, "/secure/x", append(bearer(good), "X-Jwt-Payload", "forged", "X-Jwt-Sub", "root", "X-Jwt-Team", "red"), 200, "ok",
			func(t *testing.T, s seen) {
				azHeaders(t, s.Header, map[string]string{"Authorization": "", "X-Jwt-Payload": seg[1], "X-Jwt-Sub": "alice", "X-Jwt-Team": "blue"})
			}},
		{"valid ES256 token", api, "/secure/x", bearer(goodEC), 200, "ok", nil},
		{"forwardOriginalToken keeps the header", api, "/secure/x", bearer(goodB), 200, "ok",
			func(t *testing.T, s seen) {
				azHeaders(t, s.Header, map[string]string{"Authorization": "Bearer " + goodB})
			}},
		{"expired", api, "/secure/x", bearer(idp.sign(t, jwt.SigningMethodRS256, "rsa-1", expired)), 401, "Jwt is expired", nil},
		{"expired on an open path", api, "/open", bearer(idp.sign(t, jwt.SigningMethodRS256, "rsa-1", expired)), 401, "Jwt is expired", nil},
		{"tampered payload", api, "/secure/x", bearer(seg[0] + "." + forged + "." + seg[2]), 401, "Jwt verification fails", nil},
		{"other issuer", api, "/secure/x", bearer(idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://evil.example", "alice"))), 401, "Jwt issuer is not configured", nil},
		{"issuer of another location", api, "/secure/x", bearer(goodC), 401, "Jwt issuer is not configured", nil},
		{"unknown kid", api, "/secure/x", bearer(idp.sign(t, jwt.SigningMethodRS256, "rsa-9", alice)), 401, noKey, nil},
		{"custom header with prefix", api, "/secure/x", []string{"X-Token", "Token " + goodC}, 200, "ok",
			func(t *testing.T, s seen) { azHeaders(t, s.Header, map[string]string{"X-Token": ""}) }},
		{"custom header without its prefix is no token", api, "/secure/x", []string{"X-Token", goodC}, 403, "RBAC: access denied", nil},
		{"query parameter", api, "/secure/q?a=1&tok=" + goodC + "&b=2", nil, 200, "ok",
			func(t *testing.T, s seen) {
				if s.Path != "/secure/q?a=1&b=2" {
					t.Errorf("upstream path %q: a verified query token must not be forwarded", s.Path)
				}
			}},
		{"cookie", api, "/secure/x", []string{"Cookie", "a=1; session=" + goodC}, 200, "ok", nil},
		{"default access_token parameter", api, "/secure/x?access_token=" + good, nil, 200, "ok", nil},
		// One request, one identity: two tokens are refused, whatever
		// they are (Istio leaves the principal undefined).
		{"valid and expired tokens together", api, "/secure/x", append(bearer(good), "X-Token", "Token "+idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-c.example", "carol", "exp", 1))), 401, "Jwt is not unique", nil},
		{"no token on an open path", api, "/open", []string{"X-Jwt-Sub", "root", "X-Jwt-Payload", "forged"}, 200, "ok",
			func(t *testing.T, s seen) {
				azHeaders(t, s.Header, map[string]string{"X-Jwt-Sub": "", "X-Jwt-Payload": ""})
			}},
		{"invalid token on an unrouted host is 401, not 404", "nohost.example.com", "/x", bearer(none), 401, "Jwt header [alg] is not supported", nil},
		{"denied on an unrouted host is 403, not 404", "nohost.example.com", "/secure/x", nil, 403, "RBAC: access denied", nil},
		{"allowed on an unrouted host is 404", "nohost.example.com", "/secure/x", bearer(good), 404, "", nil},
		{"invalid token on an unrouted path is 401, not 404", "narrow.example.com", "/secure/x", bearer(confusedDER), 401, noKey, nil},
		{"denied on an unrouted path is 403, not 404", "narrow.example.com", "/secure/x", nil, 403, "RBAC: access denied", nil},
		{"allowed on an unrouted path is 404", "narrow.example.com", "/secure/x", bearer(good), 404, "", nil},
		{"allowed on the routed path", "narrow.example.com", "/only", nil, 200, "ok", nil},
	})
}

// A JWKS endpoint that is down at start-up: tokens are refused (never
// accepted without keys) while anonymous requests pass, and once the
// endpoint answers, the retry picks the keys up.
func TestAuthzJWKSDownThenUp(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	idp.down.Store(true)
	ch := make(chan seen, 8)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	tok := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice"))

	for range 3 {
		if code, body, _ := g.get(80, "api.example.com", "/secure/x", "Authorization", "Bearer "+tok); code != 401 || body != "Jwks remote fetch is failed" {
			t.Fatalf("JWKS down: got %d %q, want 401 \"Jwks remote fetch is failed\"", code, body)
		}
	}
	azNothing(t, ch, "a token while the JWKS is down")
	if code, _, _ := g.get(80, "api.example.com", "/open"); code != 200 {
		t.Fatalf("JWKS down, no token on an open path: %d, want 200", code)
	}
	<-ch

	idp.down.Store(false)
	select {
	case <-idp.served:
	case <-time.After(5 * time.Second):
		t.Fatal("the gateway did not refetch the key set within 5s (retry starts at 1s)")
	}
	// The set is stored right after the body is read: poll briefly.
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, body, _ := g.get(80, "api.example.com", "/secure/x", "Authorization", "Bearer "+tok)
		if code == 200 {
			<-ch
			break
		}
		if code != 401 || time.Now().After(deadline) {
			t.Fatalf("after the JWKS recovered: %d %q, want 200", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// azHeaders checks the headers the upstream received; "" means absent.
func azHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, ok := h[http.CanonicalHeaderKey(k)]
		switch {
		case v == "" && ok:
			t.Errorf("upstream got %s: %q, want it absent", k, got)
		case v != "" && strings.Join(got, "|") != v:
			t.Errorf("upstream %s = %q, want %q", k, got, v)
		}
	}
}

// azNothing fails if something reached the upstream behind ch. The
// recorder records before it answers and the gateway answers a refused
// request without forwarding it, so no wait is needed.
func azNothing(t *testing.T, ch <-chan seen, what string) {
	t.Helper()
	select {
	case s := <-ch:
		t.Errorf("%s reached the upstream (path %q)", what, s.Path)
	default:
	}
}

// A CORS preflight skips JWT verification, but never lets a client set
// the headers a verified token would set.
//
// Regression (security review): guards against a preflight carrying client-set
// JWT output headers upstream.
func TestCORSPreflightCannotForgeOutputHeaders(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	req, _ := http.NewRequest("OPTIONS", g.url(80)+"/open", nil)
	req.Host = "api.example.com"
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("X-Jwt-Sub", "root")
	req.Header.Set("X-Jwt-Payload", "eyJzdWIiOiJyb290In0")
	if code, _, _ := do(t, req); code != 200 {
		t.Fatalf("preflight: %d", code)
	}
	s := <-ch
	if v := s.Header.Get("X-Jwt-Sub") + s.Header.Get("X-Jwt-Payload"); v != "" {
		t.Errorf("upstream got forged output headers %q", v)
	}
}
