package authz

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/golang-jwt/jwt/v5"
)

// security.md JWT-03: keys or key URLs inside the token, and kid abuse.
// jwk, jku, x5u and x5c headers are never used and their URLs never
// fetched, whether the provider's keys are inline or remote; hostile kids
// are opaque map keys: 401, and at most the one rate-limited refetch of
// the provider's own jwksUri. Neither the debug log nor an explanation
// carries a kid's control characters raw or its full length.
func TestJWT03EmbeddedKeysAndKids(t *testing.T) {
	t.Parallel()
	attacker := newFakeJWKS(jwksJSON(rsaJWK("evil", &testKeys().b.PublicKey)))
	atk := httptest.NewServer(attacker)
	t.Cleanup(atk.Close)
	provider := newFakeJWKS(jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey)))
	srv := httptest.NewServer(provider)
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	var logs syncWriter
	remote := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: "https://idp-a", Audiences: []string{"api"}, JWKSURI: srv.URL}}})
	engines := map[string]*Engine{
		"inline": NewEngine(Options{Now: fixedNow, Logger: debugLogger(&logs)}, Config{RequestAuthentications: []*Authn{mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})}}),
		"remote": NewEngine(Options{Now: fixedNow, KeySets: ks, Logger: debugLogger(&logs)}, Config{RequestAuthentications: []*Authn{remote}}),
	}
	if status, body, _ := authn(t, engines["remote"], get("/", bearer(mint(t, testKeys().a, "k1", claims()))...)); status != 200 {
		t.Fatalf("the provider's own token: got %d %q", status, body)
	}
	evil := testKeys().b
	jwk := mustJSON(rsaJWK("k1", &evil.PublicKey))
	headers := map[string]string{
		"jwk":            `{"alg":"RS256","kid":"k1","jwk":` + jwk + `}`,
		"jwk, no kid":    `{"alg":"RS256","jwk":` + jwk + `}`,
		"jku":            `{"alg":"RS256","kid":"evil","jku":"` + atk.URL + `"}`,
		"jku, no kid":    `{"alg":"RS256","jku":"` + atk.URL + `"}`,
		"x5u":            `{"alg":"RS256","kid":"evil","x5u":"` + atk.URL + `"}`,
		"x5c":            `{"alg":"RS256","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`,
		"jku and x5u":    `{"alg":"RS256","kid":"k1","jku":"` + atk.URL + `","x5u":"` + atk.URL + `"}`,
		"x5c with a kid": `{"alg":"RS256","kid":"k1","x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}`,
	}
	kids := []string{"../../../../dev/null", "' OR '1'='1", "k1\r\nX-Admin: 1", "\x1b[31m", strings.Repeat("k", 64<<10)}
	for name, e := range engines {
		t.Run(name+" embedded keys", func(t *testing.T) {
			t.Parallel()
			for h, header := range headers {
				tok := signed(t, jwt.SigningMethodRS256, evil, header, mustJSON(claims()))
				if status, body, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
					t.Errorf("%s: got %d %q, want 401", h, status, body)
				}
			}
		})
		t.Run(name+" hostile kids", func(t *testing.T) {
			t.Parallel()
			for _, kid := range kids {
				tok := mint(t, evil, kid, claims())
				if status, _, _ := authn(t, e, get("/", bearer(tok)...)); status != 401 {
					t.Errorf("kid %.20q: got %d, want 401", kid, status)
				}
				tr := e.Explain(t.Context(), get("/", bearer(tok)...))
				if s := tr.String(); strings.ContainsAny(s, "\r\x1b") || strings.Contains(s, "\nX-Admin") || len(s) > 4096 {
					t.Errorf("kid %.20q leaked into the explanation unescaped: %q", kid, s)
				}
			}
		})
	}
	t.Cleanup(func() {
		if n := attacker.hits.Load(); n != 0 {
			t.Errorf("attacker server hit %d times, want 0", n)
		}
		if n := provider.hits.Load(); n < 1 || n > 2 {
			t.Errorf("the provider's jwksUri was fetched %d times, want the first fetch and at most one refetch", n)
		}
		out := logs.String()
		if !strings.Contains(out, "jwt rejected") || strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "\nX-Admin") ||
			strings.Contains(out, strings.Repeat("k", 128)) {
			t.Errorf("debug log carries a kid raw or whole:\n%.2000s", out)
		}
	})
}

// security.md JWT-08: issuer and key-set confusion. The provider is chosen
// by the token's exact iss and the token is verified only against that
// provider's keys: a token claiming A but signed with B's key, or naming
// a kid only B has, is 401, as are a token without iss and one whose iss
// differs by a trailing slash. The principal comes from verified claims
// only. With two remote key sets, a confused token never makes the
// gateway consult B's jwksUri.
func TestJWT08IssuerKeySetConfusion(t *testing.T) {
	t.Parallel()
	k := testKeys()
	const (
		noKey    = "Jwks doesn't have key to match kid or alg from Jwt"
		noIssuer = "Jwt issuer is not configured"
	)
	tests := []struct {
		name string
		tok  string
		body string
	}{
		{"B's key claiming A", mint(t, k.b, "kb", claims()), noKey},
		{"iss A with a kid only in B", mint(t, k.b, "only-b", claims()), noKey},
		{"B's key, A's kid", mint(t, k.b, "k1", claims()), "Jwt verification fails"},
		{"B's key claiming A, no kid", mint(t, k.b, "", claims()), "Jwt verification fails"},
		{"no iss", mint(t, k.a, "k1", claims("iss", nil)), noIssuer},
		{"trailing slash", mint(t, k.a, "k1", claims("iss", "https://idp-a/")), noIssuer},
		{"iss in another case", mint(t, k.a, "k1", claims("iss", "https://IDP-A")), noIssuer},
	}
	ok := mint(t, k.b, "kb", claims("iss", "https://idp-b", "sub", "bob"))
	check := func(t *testing.T, e *Engine) {
		for _, tc := range tests {
			if status, body, _ := authn(t, e, get("/", bearer(tc.tok)...)); status != 401 || body != tc.body {
				t.Errorf("%s: got %d %q, want 401 %q", tc.name, status, body, tc.body)
			}
		}
		if _, _, id := authn(t, e, get("/", bearer(ok)...)); id.Principal() != "https://idp-b/bob" {
			t.Errorf("principal = %q, want https://idp-b/bob", id.Principal())
		}
	}
	t.Run("inline key sets", func(t *testing.T) {
		t.Parallel()
		b := &JWTRule{Issuer: "https://idp-b", JWKS: jwksJSON(rsaJWK("kb", &k.b.PublicKey), rsaJWK("only-b", &k.b.PublicKey))}
		check(t, jwtEngine(t, inlineRule(t), b))
	})
	t.Run("two remote key sets", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			srvA := newFakeJWKS(jwksJSON(rsaJWK("k1", &k.a.PublicKey)))
			srvB := newFakeJWKS(jwksJSON(rsaJWK("kb", &k.b.PublicKey), rsaJWK("only-b", &k.b.PublicKey)))
			mux := http.NewServeMux()
			mux.Handle("/a", srvA)
			mux.Handle("/b", srvB)
			ks := NewKeySets(t.Context(), KeySetOptions{Client: memClient(mux)})
			t.Cleanup(ks.Close)
			ra := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{
				{Issuer: "https://idp-a", JWKSURI: "https://idp-a.example/a"},
				{Issuer: "https://idp-b", JWKSURI: "https://idp-b.example/b"},
			}})
			e := NewEngine(Options{Now: fixedNow, KeySets: ks}, Config{RequestAuthentications: []*Authn{ra}})
			if status, body, _ := authn(t, e, get("/", bearer(mint(t, k.a, "k1", claims()))...)); status != 200 {
				t.Fatalf("A's own token: got %d %q", status, body)
			}
			synctest.Wait()
			a0, b0 := srvA.hits.Load(), srvB.hits.Load()
			check(t, e)
			synctest.Wait()
			if a, b := srvA.hits.Load(), srvB.hits.Load(); b != b0 || a > a0+1 {
				t.Errorf("fetches during the confused tokens: A %d, B %d; want at most one refetch of A and none of B", a-a0, b-b0)
			}
		})
	})
}

// syncWriter is a log sink safe for concurrent writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
