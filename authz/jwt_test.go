package authz

import (
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

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

// security.md JWT-06: exp, nbf, iat and clock skew, with an injected
// clock. The leeway is 60s each way; exp 0 is
// expired (golang-jwt's MapClaims once took it for absent); an exp that
// is a string, out of range or negative, a future nbf and a future iat
// are 401. A token without exp is accepted, as in Istio (authz/doc.go),
// where security.md asks for 401. A verified token's times are checked
// again on every request, so the token cache never outlives exp.
func TestJWT06TimeClaims(t *testing.T) {
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
		{"exp now-59 within skew", []any{"exp", now - 59}, 200, ""},
		{"exp now-30 within skew", []any{"exp", now - 30}, 200, ""},
		// Stricter than Istio: a token must not live forever.
		{"no exp", []any{"exp", nil}, 401, "Jwt payload has no [exp] field"},
		{"exp now-60, the edge of the skew", []any{"exp", now - 60}, 401, "Jwt is expired"},
		{"exp 0", []any{"exp", 0}, 401, "Jwt is expired"},
		{"exp string", []any{"exp", "9999999999"}, 401, "Jwt payload [exp] field is not an integer"},
		{"exp 1e300", []any{"exp", 1e300}, 401, "Jwt payload [exp] field is out of range"},
		{"exp negative", []any{"exp", -5}, 401, "Jwt payload [exp] field is out of range"},
		{"nbf now+120", []any{"nbf", now + 120}, 401, "Jwt not yet valid"},
		{"nbf now+30 within skew", []any{"nbf", now + 30}, 200, ""},
		{"nbf now+60, the edge of the skew", []any{"nbf", now + 60}, 200, ""},
		{"nbf now+61", []any{"nbf", now + 61}, 401, "Jwt not yet valid"},
		{"nbf string", []any{"nbf", "0"}, 401, "Jwt payload [nbf] field is not an integer"},
		{"iat now+3600", []any{"iat", now + 3600}, 401, "Jwt not yet valid"},
		{"iat now+60, the edge of the skew", []any{"iat", now + 60}, 200, ""},
		{"iat now+61", []any{"iat", now + 61}, 401, "Jwt not yet valid"},
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
	t.Run("a cached token expires", func(t *testing.T) {
		t.Parallel()
		var clock atomic.Int64
		clock.Store(now)
		a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
		e := NewEngine(Options{Now: func() time.Time { return time.Unix(clock.Load(), 0) }}, Config{RequestAuthentications: []*Authn{a}})
		tok := mint(t, testKeys().a, "k1", claims("exp", now+10))
		for _, step := range []struct {
			at     int64
			status int
		}{{now, 200}, {now + 69, 200}, {now + 71, 401}, {now + 3600, 401}} {
			clock.Store(step.at)
			if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != step.status {
				t.Errorf("at exp%+ds: got %d %q, want %d", step.at-now-10, status, body, step.status)
			}
		}
	})
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
