package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// securityFiles returns a RequestAuthentication (inline RS256 key set)
// and three AuthorizationPolicies every measured request is checked
// against, as a typical protected API has them, with a token that passes
// all of them.
func securityFiles(tb testing.TB) (map[string]string, string) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	jwk := map[string]any{"kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://idp.bench.test", "sub": "alice",
		"aud": "api", "groups": []string{"staff", "admin"}, "exp": time.Now().Add(24 * time.Hour).Unix()})
	tok.Header["kid"] = "bench"
	signed, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	policy := func(name, body string) string {
		return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name + ", namespace: istio-system}\nspec:\n" + body
	}
	return map[string]string{
		"jwt.yaml": `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: https://idp.bench.test
    audiences: [api]
    jwks: '` + string(jwks) + `'
`,
		"require-jwt.yaml": policy("require-jwt", `  action: ALLOW
  rules:
  - from: [{source: {requestPrincipals: ["https://idp.bench.test/*"]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/r*"]}}]
`),
		"deny-blocked.yaml": policy("deny-blocked", `  action: DENY
  rules:
  - from: [{source: {remoteIpBlocks: ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.7"]}}]
  - to: [{operation: {paths: ["/admin", "/admin/*"]}}]
`),
		"staff-only.yaml": policy("staff-only", `  action: DENY
  rules:
  - to: [{operation: {hosts: ["*.bench.test"]}}]
    when:
    - key: request.auth.claims[groups]
      notValues: [staff]
`),
	}, signed
}

// BenchmarkSecurity is the cost of JWT authentication plus three
// authorization policies on the measured route, next to the same route
// without them. The token is the same on every request, as a client's
// is; the first request pays the signature check, the rest hit the
// verified-token cache.
func BenchmarkSecurity(b *testing.B) {
	up := helloUpstream(b)
	upAddr := strings.TrimPrefix(up.URL, "http://")
	files, tok := securityFiles(b)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		header []string
	}{
		{"none", nil, nil},
		{"jwt+3-policies", files, []string{"Authorization", "Bearer " + tok}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			base := startGateway(b, upAddr, false, slog.DiscardHandler, tc.files)
			c := client(b)
			if err := get(c, base, tc.header...); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(c, base, tc.header...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestSecurityConfig checks the benchmark's policies do what they say:
// the token passes, no token is refused.
func TestSecurityConfig(t *testing.T) {
	up := helloUpstream(t)
	files, tok := securityFiles(t)
	base := startGateway(t, strings.TrimPrefix(up.URL, "http://"), false, slog.DiscardHandler, files)
	c := client(t)
	if err := get(c, base, "Authorization", "Bearer "+tok); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if err := get(c, base); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("without a token: %v, want 403", err)
	}
}
