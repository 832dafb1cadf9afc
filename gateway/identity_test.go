package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// istioSigner mints tokens with Istio's public sample key
// (../shared/reference/istio-jwt), as its sample identity provider would.
func istioSigner(t *testing.T) (jwks string, sign func(sub string) string) {
	t.Helper()
	const dir = "../../shared/reference/istio-jwt/"
	jwks, keyPEM := azFixture(t, dir+"jwks.json"), azFixture(t, dir+"key.pem")
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		t.Fatal("key.pem holds no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("key.pem: %v", err)
	}
	return jwks, func(sub string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "testing@secure.istio.io", "sub": sub,
			"exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = "DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// One request, one identity. With Istio's default token locations
// (Authorization: Bearer and ?access_token=), a request carrying a token
// in each place, two in one place, or "Bearer a, Bearer b", is refused
// with 401 and reaches no upstream: before, policy decided on one token
// while the output headers told the upstream about the other. A single
// query token that verifies is removed from the URL forwarded upstream,
// and no token ever appears in the access log.
func TestOneIdentityPerRequest(t *testing.T) {
	t.Parallel()
	jwks, sign := istioSigner(t)
	alice, mallory := sign("alice"), sign("mallory")
	ch := make(chan seen, 16)
	logFile := filepath.Join(t.TempDir(), "access.log")
	cfg := oneRoute(startUpstream(t, recorder(ch)), "")
	cfg["mesh.yaml"] = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata: {name: mesh, namespace: istio-system}\nspec:\n  meshConfig: {accessLogFile: " + logFile + "}\n"
	cfg["security.yaml"] = fmt.Sprintf(`apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules:
  - issuer: testing@secure.istio.io
    jwksUri: %s
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: alice-only, namespace: istio-system}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["testing@secure.istio.io/alice"]}}]
`, azServe(t, jwks))
	g := startGW(t, cfg)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, tc := range []struct {
		name, path string
		hdr        []string
		code       int
		upstream   string // the path the upstream got; "" when nothing reached it
	}{
		{"header", "/a?x=1", bearer(alice), 200, "/a?x=1"},
		{"query token removed upstream", "/a?x=1&access_token=" + alice + "&y=2", nil, 200, "/a?x=1&y=2"},
		{"header and query", "/a?access_token=" + mallory, bearer(alice), 401, ""},
		{"two query tokens", "/a?access_token=" + alice + "&access_token=" + mallory, nil, 401, ""},
		{"two Authorization headers", "/a", append(bearer(alice), bearer(mallory)...), 401, ""},
		{"Bearer a, Bearer b", "/a", []string{"Authorization", "Bearer " + alice + ", Bearer " + mallory}, 401, ""},
		{"the same token twice", "/a?access_token=" + alice, bearer(alice), 401, ""},
		{"an invalid query token", "/a?access_token=" + alice[:len(alice)-6] + "AAAAAA", nil, 401, ""},
		{"mallory alone is not allowed", "/a", bearer(mallory), 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := g.get(80, "app.example.com", tc.path, tc.hdr...)
			if code != tc.code {
				t.Fatalf("%d %q, want %d", code, body, tc.code)
			}
			if code == http.StatusUnauthorized && tc.name != "an invalid query token" && body != "Jwt is not unique" {
				t.Errorf("body %q, want Jwt is not unique", body)
			}
			if tc.upstream == "" {
				return
			}
			s := <-ch
			if s.Path != tc.upstream || s.Header.Get("X-Jwt-Sub") != "alice" || s.Header.Get("Authorization") != "" {
				t.Errorf("upstream got path %q, x-jwt-sub %q, authorization %q; want %q, alice, none",
					s.Path, s.Header.Get("X-Jwt-Sub"), s.Header.Get("Authorization"), tc.upstream)
			}
		})
	}
	select {
	case s := <-ch:
		t.Fatalf("a refused request reached the upstream: %+v", s)
	default:
	}
	log := strings.Join(readLog(t, g, logFile), "\n") + g.logs.String()
	for _, tok := range []string{alice, mallory, alice[:40]} {
		if strings.Contains(log, tok) {
			t.Fatalf("a token reached the logs:\n%s", log)
		}
	}
	if n := strings.Count(log, "access_token=<redacted>"); n < 5 {
		t.Errorf("%d redacted access_token values in the access log, want one per request that sent one:\n%s", n, log)
	}
}
