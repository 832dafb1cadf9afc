package authz

import (
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// JWT-01: alg none in every spelling is refused at parse time.
func TestAlgNone(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	payload := mustJSON(claims())
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		for _, sig := range [][]byte{nil, []byte("garbage")} {
			t.Run(alg, func(t *testing.T) {
				t.Parallel()
				tok := raw(`{"alg":"`+alg+`","typ":"JWT","kid":"k1"}`, payload, sig)
				status, body, _ := authn(t, e, get("/api", bearer(tok)...))
				if status != 401 || body != "Jwt header [alg] is not supported" {
					t.Errorf("alg %q: got %d %q, want 401", alg, status, body)
				}
			})
		}
	}
}

// JWT-02: HMAC with the RSA public key (PEM and DER) as the secret.
func TestKeyConfusionHS256(t *testing.T) {
	t.Parallel()
	pub := &testKeys().a.PublicKey
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	e := jwtEngine(t, inlineRule(t))
	for name, secret := range map[string][]byte{"pem": pemBytes, "der": der} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := signed(t, jwt.SigningMethodHS256, secret, `{"alg":"HS256","kid":"k1"}`, mustJSON(claims()))
			if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
				t.Errorf("got %d %q, want 401", status, body)
			}
			// Even handed the RSA key directly, golang-jwt refuses.
			tk, perr := parseToken(tok)
			if perr != nil {
				t.Fatal(perr)
			}
			if err := tk.verifySignature([]any{pub}, "https://idp-a", fixedNow); err != errVerification {
				t.Errorf("verifySignature = %v, want %v", err, errVerification)
			}
		})
	}
}

// JWT-02: a kty oct key served by a remote jwksUri is refused, so an HS256
// token signed with its secret fails.
func TestRemoteSymmetricKeyRefused(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	srv := httptest.NewServer(newFakeJWKS(jwksJSON(
		map[string]any{"kty": "oct", "kid": "h1", "k": b64u(secret)},
		rsaJWK("k1", &testKeys().a.PublicKey))))
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: "https://idp-a", JWKSURI: srv.URL}}})
	e := NewEngine(Options{Now: fixedNow, KeySets: ks}, Config{RequestAuthentications: []*Authn{a}})
	tok := signed(t, jwt.SigningMethodHS256, secret, `{"alg":"HS256","kid":"h1"}`, mustJSON(claims()))
	if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
		t.Errorf("HS256 with a remote oct key: got %d %q, want 401", status, body)
	}
	good := mint(t, testKeys().a, "k1", claims())
	if status, body, _ := authn(t, e, get("/", bearer(good)...)); status != 200 {
		t.Errorf("RS256 next to the refused oct key: got %d %q, want 200", status, body)
	}
}

// JWT-03: keys or key URLs inside the token are never used or fetched.
func TestEmbeddedKeysIgnored(t *testing.T) {
	t.Parallel()
	attacker := newFakeJWKS(jwksJSON(rsaJWK("evil", &testKeys().b.PublicKey)))
	srv := httptest.NewServer(attacker)
	t.Cleanup(srv.Close)
	e := jwtEngine(t, inlineRule(t))
	evil := testKeys().b
	jwk := mustJSON(rsaJWK("k1", &evil.PublicKey))
	headers := map[string]string{
		"jwk": `{"alg":"RS256","kid":"k1","jwk":` + jwk + `}`,
		"jku": `{"alg":"RS256","kid":"evil","jku":"` + srv.URL + `"}`,
		"x5u": `{"alg":"RS256","kid":"evil","x5u":"` + srv.URL + `"}`,
		"x5c": `{"alg":"RS256","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`,
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := signed(t, jwt.SigningMethodRS256, evil, h, mustJSON(claims()))
			if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
				t.Errorf("got %d %q, want 401", status, body)
			}
		})
	}
	t.Cleanup(func() {
		if n := attacker.hits.Load(); n != 0 {
			t.Errorf("attacker server hit %d times, want 0", n)
		}
	})
}

// JWT-03: hostile kids are opaque map keys and never reach output raw.
func TestHostileKids(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	kids := []string{"../../../../dev/null", "' OR '1'='1", "k1\r\nX-Admin: 1", "\x1b[31m", strings.Repeat("k", 64<<10)}
	for _, kid := range kids {
		tok := mint(t, testKeys().b, kid, claims())
		r := get("/", bearer(tok)...)
		if status, _, _ := authn(t, e, r); status != 401 {
			t.Errorf("kid %.20q: got %d, want 401", kid, status)
		}
		tr := e.Explain(t.Context(), get("/", bearer(tok)...))
		if s := tr.String(); strings.ContainsAny(s, "\r\x1b") || strings.Contains(s, "\nX-Admin") || len(s) > 4096 {
			t.Errorf("kid %.20q leaked into the explanation unescaped: %q", kid, s)
		}
	}
}

// JWT-06: exp, nbf, iat and the 60s skew, with an injected clock.
func TestTimeClaims(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	now := fixed.Unix()
	tests := []struct {
		name   string
		extra  []any
		status int
		body   string
	}{
		{"exp now-61", []any{"exp", now - 61}, 401, "Jwt is expired"},
		{"exp now-30 within skew", []any{"exp", now - 30}, 200, ""},
		{"no exp (Istio accepts)", []any{"exp", nil}, 200, ""},
		{"exp 0", []any{"exp", 0}, 401, "Jwt is expired"},
		{"exp string", []any{"exp", "9999999999"}, 401, "Jwt payload [exp] field is not an integer"},
		{"exp 1e300", []any{"exp", 1e300}, 401, "Jwt payload [exp] field is out of range"},
		{"exp negative", []any{"exp", -5}, 401, "Jwt payload [exp] field is out of range"},
		{"nbf now+120", []any{"nbf", now + 120}, 401, "Jwt not yet valid"},
		{"nbf now+30 within skew", []any{"nbf", now + 30}, 200, ""},
		{"iat now+3600", []any{"iat", now + 3600}, 401, "Jwt not yet valid"},
		{"iat bool", []any{"iat", true}, 401, "Jwt payload [iat] field is not an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := mint(t, testKeys().a, "k1", claims(tc.extra...))
			status, body, _ := authn(t, e, get("/", bearer(tok)...))
			if status != tc.status || body != tc.body {
				t.Errorf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
		})
	}
}

// JWT-07: audiences, run repeatedly to catch order-dependent results.
func TestAudience(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	tests := []struct {
		name   string
		aud    any
		status int
	}{
		{"other", "other", 403},
		{"other then api", []string{"other", "api"}, 200},
		{"api then other", []string{"api", "other"}, 200},
		{"empty list", []string{}, 403},
		{"missing", nil, 403},
		{"empty string", []string{""}, 403},
		{"number", 123, 401},
		{"object", map[string]int{"x": 1}, 401},
		{"list with a number", []any{"api", 1}, 401},
		{"https prefix and slash ignored", "https://api/", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := mint(t, testKeys().a, "k1", claims("aud", tc.aud))
			for range 100 {
				if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != tc.status {
					t.Fatalf("got %d %q, want %d", status, body, tc.status)
				}
			}
		})
	}
}

// JWT-08: the provider is chosen by exact iss and only its keys apply.
func TestIssuerKeySetConfusion(t *testing.T) {
	t.Parallel()
	k := testKeys()
	a := inlineRule(t)
	b := &JWTRule{Issuer: "https://idp-b", JWKS: jwksJSON(rsaJWK("kb", &k.b.PublicKey), rsaJWK("only-b", &k.b.PublicKey))}
	e := jwtEngine(t, a, b)
	tests := []struct {
		name string
		tok  string
		body string
	}{
		{"B's key claiming A", mint(t, k.b, "kb", claims()), "Jwks doesn't have key to match kid or alg from Jwt"},
		{"iss A with a kid only in B", mint(t, k.b, "only-b", claims()), "Jwks doesn't have key to match kid or alg from Jwt"},
		{"B's key, A's kid", mint(t, k.b, "k1", claims()), "Jwt verification fails"},
		{"no iss", mint(t, k.a, "k1", claims("iss", nil)), "Jwt issuer is not configured"},
		{"trailing slash", mint(t, k.a, "k1", claims("iss", "https://idp-a/")), "Jwt issuer is not configured"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if status, body, _ := authn(t, e, get("/", bearer(tc.tok)...)); status != 401 || body != tc.body {
				t.Errorf("got %d %q, want 401 %q", status, body, tc.body)
			}
		})
	}
	ok := mint(t, k.b, "kb", claims("iss", "https://idp-b", "sub", "bob"))
	if _, _, id := authn(t, e, get("/", bearer(ok)...)); id.Principal() != "https://idp-b/bob" {
		t.Errorf("principal = %q, want https://idp-b/bob", id.Principal())
	}
}

// JWT-09: 401 means a token was present but invalid, 403 that no (or an
// insufficient) principal was presented, with the setup of security.md 4.
func TestMissingVersusInvalid(t *testing.T) {
	t.Parallel()
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	p := mustPolicy(t, meta("ns", "api"), ap("ALLOW",
		&Rule{From: []*RuleFrom{{Source: &Source{RequestPrincipals: []string{"https://idp-a/*"}}}}, To: []*RuleTo{{Operation: &Operation{Paths: []string{"/api*"}}}}},
		toPaths("/public")))
	e := NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{p}})
	good, bad := mint(t, testKeys().a, "k1", claims()), mint(t, testKeys().b, "k1", claims())
	tests := []struct {
		name, path, auth string
		status           int
	}{
		{"no token on /api", "/api", "", 403},
		{"invalid token on /public", "/public", "Bearer " + bad, 401},
		{"empty Bearer on /api", "/api", "Bearer", 403},
		{"lowercase bearer on /api", "/api", "bearer " + good, 200},
		{"Basic on /api", "/api", "Basic dXNlcjpwYXNz", 403},
		{"trailing junk", "/api", "Bearer " + good + " extra", 401},
		{"valid token on /api", "/api", "Bearer " + good, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := get(tc.path)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			status, body, id := authn(t, e, r)
			if d := e.Authorize(r, id); status == 200 && !d.Allowed {
				status, body = d.Status, d.Body
			}
			if status != tc.status {
				t.Errorf("got %d %q, want %d", status, body, tc.status)
			}
		})
	}
}
