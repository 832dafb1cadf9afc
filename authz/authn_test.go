package authz

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTokenLocations(t *testing.T) {
	t.Parallel()
	k := testKeys()
	good := mint(t, k.a, "k1", claims())
	bad := mint(t, k.b, "k1", claims())
	custom := inlineRule(t)
	custom.FromHeaders = []JWTHeader{{Name: "x-jwt", Prefix: "Token "}, {Name: "x-raw"}}
	custom.FromParams = []string{"token"}
	custom.FromCookies = []string{"session"}
	def, cus := jwtEngine(t, inlineRule(t)), jwtEngine(t, custom)
	tests := []struct {
		name   string
		e      *Engine
		r      *Request
		status int
		authed bool
	}{
		{"default bearer", def, get("/", bearer(good)...), 200, true},
		{"default access_token", def, withQuery(get("/"), "a=1&access_token="+good), 200, true},
		{"default: no token", def, get("/"), 200, false},
		{"JWT-09 empty Bearer is anonymous", def, get("/", "Authorization", "Bearer"), 200, false},
		{"JWT-09 Basic is anonymous", def, get("/", "Authorization", "Basic dXNlcjpwYXNz"), 200, false},
		{"JWT-09 lowercase bearer is verified", def, get("/", "Authorization", "bearer "+good), 200, true},
		{"JWT-09 lowercase bearer with a bad token", def, get("/", "Authorization", "bearer "+bad), 401, false},
		{"JWT-09 trailing junk", def, get("/", "Authorization", "Bearer "+good+" extra"), 401, false},
		{"blanks around the token", def, get("/", "Authorization", "Bearer   "+good+"  "), 200, true},
		{"invalid default token", def, get("/", bearer(bad)...), 401, false},
		{"custom prefix", cus, get("/", "X-Jwt", "Token "+good), 200, true},
		{"custom prefix found anywhere", cus, get("/", "X-Jwt", "v1;Token "+good), 200, true},
		{"custom header without its prefix", cus, get("/", "X-Jwt", good), 200, false},
		{"custom prefix is case-sensitive", cus, get("/", "X-Jwt", "token "+bad), 200, false},
		{"header without prefix", cus, get("/", "X-Raw", good), 200, true},
		{"header without prefix, junk", cus, get("/", "X-Raw", good+" x"), 401, false},
		{"defaults unused when locations set", cus, get("/", bearer(bad)...), 200, false},
		{"param", cus, withQuery(get("/"), "token="+url.QueryEscape(good)), 200, true},
		{"cookie", cus, get("/", "Cookie", "a=b; session="+good), 200, true},
		{"bad cookie", cus, get("/", "Cookie", "session="+bad), 401, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body, id := authn(t, tc.e, tc.r)
			if status != tc.status || id.Authenticated() != tc.authed {
				t.Errorf("got %d %q authenticated=%v, want %d %v", status, body, id.Authenticated(), tc.status, tc.authed)
			}
		})
	}
}

func withQuery(r *Request, q string) *Request {
	r.RawQuery = q
	return r
}

func TestHeaderEdits(t *testing.T) {
	t.Parallel()
	k := testKeys()
	rule := inlineRule(t)
	rule.OutputPayloadToHeader = "x-jwt-payload"
	rule.OutputClaimToHeaders = []ClaimToHeader{{"x-sub", "sub"}, {"x-n", "n"}, {"x-b", "b"},
		{"x-nested", "o.inner"}, {"x-list", "groups"}, {"x-evil", "evil"}, {"x-missing", "nope"}}
	e := jwtEngine(t, rule)
	tok := mint(t, k.a, "k1", claims("n", 42, "b", true, "o", map[string]any{"inner": "deep"},
		"groups", []string{"g1", "g2"}, "evil", "a\r\nX-Admin: 1"))
	r := get("/", bearer(tok)...)
	r.Header.Set("X-Missing", "spoofed")
	r.Header.Set("X-Jwt-Payload", "spoofed")
	if status, body, _ := authn(t, e, r); status != 200 {
		t.Fatalf("got %d %q", status, body)
	}
	want := map[string]string{
		"Authorization": "", "X-Jwt-Payload": strings.Split(tok, ".")[1], "X-Sub": "alice", "X-N": "42",
		"X-B": "true", "X-Nested": "deep", "X-List": base64.StdEncoding.EncodeToString([]byte(`["g1","g2"]`)),
		"X-Evil": "", "X-Missing": "",
	}
	for h, v := range want {
		if got := r.Header.Get(h); got != v {
			t.Errorf("%s = %q, want %q", h, got, v)
		}
	}
	// Client copies are removed even when no token is sent.
	r = get("/", "X-Jwt-Payload", "spoofed", "X-Sub", "admin")
	if _, _, id := authn(t, e, r); id != nil || r.Header.Get("X-Jwt-Payload") != "" || r.Header.Get("X-Sub") != "" {
		t.Errorf("spoofed output headers survived: %v", r.Header)
	}
	rule.ForwardOriginalToken = true
	e = jwtEngine(t, rule)
	r = get("/", bearer(tok)...)
	if authn(t, e, r); r.Header.Get("Authorization") == "" {
		t.Error("forwardOriginalToken: the token header was removed")
	}
	r = withQuery(get("/"), "access_token="+tok)
	if authn(t, e, r); r.RawQuery == "" {
		t.Error("forwardOriginalToken: the token parameter was removed")
	}
}

// A request without a header map still gets its output headers.
func TestOutputsWithoutHeaderMap(t *testing.T) {
	t.Parallel()
	rule := inlineRule(t)
	rule.OutputPayloadToHeader = "x-payload"
	r := withQuery(&Request{Method: "GET", Path: "/"}, "access_token="+mint(t, testKeys().a, "k1", claims()))
	if status, _, _ := authn(t, jwtEngine(t, rule), r); status != 200 || r.Header.Get("X-Payload") == "" {
		t.Errorf("got %d, headers %v", status, r.Header)
	}
}

// Rules with the same issuer combine: passing any one suffices.
func TestSameIssuerRulesCombine(t *testing.T) {
	t.Parallel()
	r1, r2 := inlineRule(t), inlineRule(t)
	r2.Audiences = []string{"other"}
	e := jwtEngine(t, r1, r2)
	for _, aud := range []string{"api", "other"} {
		if status, body, _ := authn(t, e, get("/", bearer(mint(t, testKeys().a, "k1", claims("aud", aud)))...)); status != 200 {
			t.Errorf("aud %s: got %d %q", aud, status, body)
		}
	}
	if status, _, _ := authn(t, e, get("/", bearer(mint(t, testKeys().a, "k1", claims("aud", "x")))...)); status != 403 {
		t.Errorf("aud x: got %d, want 403", status)
	}
}

func TestRejectionResponse(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	r := get(`/a"b`, bearer(mint(t, testKeys().b, "k1", claims()))...)
	r.Scheme, r.RawQuery = "https", "q=1"
	_, resp := e.Authenticate(t.Context(), r)
	if resp == nil {
		t.Fatal("no rejection")
	}
	rec := httptest.NewRecorder()
	resp.Write(rec)
	want := `Bearer realm="https://example.com/a%22b", error="invalid_token"`
	if rec.Code != 401 || rec.Body.String() != "Jwt verification fails" ||
		rec.Header().Get("Content-Type") != "text/plain" || rec.Header().Get("Www-Authenticate") != want {
		t.Errorf("got %d %q %v", rec.Code, rec.Body, rec.Header())
	}
}

func TestIdentityClaims(t *testing.T) {
	t.Parallel()
	rule := inlineRule(t)
	rule.SpaceDelimitedClaims = []string{"roles"}
	e := jwtEngine(t, rule)
	tok := mint(t, testKeys().a, "k1", claims("groups", []any{"g1", 7, "g2"}, "scope", "read write",
		"roles", "a b", "desc", "x y", "n", 3, "o", map[string]any{"p": map[string]any{"q": "deep"}}, "azp", "web"))
	_, _, id := authn(t, e, get("/", bearer(tok)...))
	tests := []struct {
		path []string
		want []string
	}{
		{[]string{"groups"}, []string{"g1", "g2"}},
		{[]string{"scope"}, []string{"read", "write"}},
		{[]string{"roles"}, []string{"a", "b"}},
		{[]string{"desc"}, []string{"x y"}},
		{[]string{"n"}, nil},
		{[]string{"o", "p", "q"}, []string{"deep"}},
		{[]string{"o", "p"}, nil},
		{[]string{"missing"}, nil},
	}
	for _, tc := range tests {
		got, ok := id.Claim(tc.path)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || ok != (tc.want != nil) {
			t.Errorf("Claim(%v) = %v, %v; want %v", tc.path, got, ok, tc.want)
		}
	}
	if id.Principal() != "https://idp-a/alice" || id.Presenter != "web" || id.Audiences[0] != "api" {
		t.Errorf("identity = %+v", id)
	}
	var none *Identity
	if v, ok := none.Claim([]string{"a"}); ok || v != nil || none.Principal() != "" || none.Authenticated() {
		t.Error("nil Identity is not inert")
	}
}

// A remote key set without a KeySets fails closed; tokenless requests pass.
func TestNoKeySetsFailsClosed(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, &JWTRule{Issuer: "https://idp-a", JWKSURI: "https://idp-a/jwks"})
	if status, body, _ := authn(t, e, get("/", bearer(mint(t, testKeys().a, "k1", claims()))...)); status != 401 || body != "Jwks remote fetch is failed" {
		t.Errorf("got %d %q", status, body)
	}
	if status, _, _ := authn(t, e, get("/")); status != http.StatusOK {
		t.Errorf("tokenless request: got %d", status)
	}
}

// A nil engine and an empty one are cheap no-ops that allow.
func TestNilAndEmptyEngine(t *testing.T) {
	t.Parallel()
	r := get("/", bearer("garbage")...)
	for name, e := range map[string]*Engine{"nil": nil, "empty": NewEngine(Options{}, Config{})} {
		id, resp := e.Authenticate(t.Context(), r)
		d := e.Authorize(r, id)
		if id != nil || resp != nil || !d.Allowed || d.Reason != ReasonNoEngine {
			t.Errorf("%s engine: %v %v %+v", name, id, resp, d)
		}
		e.SanitizeHeaders(r.Header)
		if e.KeySetURIs() != nil {
			t.Errorf("%s engine has key set URIs", name)
		}
	}
}

// readFixture reads one of Istio's public JWT samples
// (testdata/istio-jwt/SOURCE.md).
func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/istio-jwt/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Istio's own demo tokens verify against its sample key set, inline and
// fetched, and drive the policies of Istio's documentation.
func TestIstioSampleTokens(t *testing.T) {
	t.Parallel()
	jwks := readFixture(t, "jwks.json")
	srv := httptest.NewServer(newFakeJWKS(jwks))
	t.Cleanup(srv.Close)
	ks := NewKeySets(t.Context(), KeySetOptions{})
	t.Cleanup(ks.Close)
	const iss = "testing@secure.istio.io"
	inline := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: iss, JWKS: jwks}}})
	remote := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: iss, JWKSURI: srv.URL}}})
	policy := mustPolicy(t, meta("foo", "require-jwt"), ap("ALLOW", &Rule{
		From: []*RuleFrom{{Source: &Source{RequestPrincipals: []string{iss + "/" + iss}}}},
		When: []*Condition{{Key: "request.auth.claims[groups]", Values: []string{"group1"}}},
	}))
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	for name, a := range map[string]*Authn{"inline": inline, "remote": remote} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := NewEngine(Options{KeySets: ks, Now: now}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{policy}})
			demo := get("/headers", bearer(readFixture(t, "demo.jwt"))...)
			status, body, id := authn(t, e, demo)
			if status != 200 || id.Principal() != iss+"/"+iss {
				t.Fatalf("demo.jwt: got %d %q principal %q", status, body, id.Principal())
			}
			if foo, _ := id.Claim([]string{"foo"}); len(foo) != 1 || foo[0] != "bar" {
				t.Errorf("claim foo = %v", foo)
			}
			if d := e.Authorize(demo, id); d.Allowed {
				t.Error("demo.jwt has no groups claim but was allowed")
			}
			gs := get("/headers", bearer(readFixture(t, "groups-scope.jwt"))...)
			_, _, id = authn(t, e, gs)
			if d := e.Authorize(gs, id); !d.Allowed {
				t.Errorf("groups-scope.jwt denied: %+v", d)
			}
			if scope, _ := id.Claim([]string{"scope"}); strings.Join(scope, ",") != "scope1,scope2" {
				t.Errorf("scope = %v", scope)
			}
			tampered := readFixture(t, "demo.jwt")
			tampered = tampered[:len(tampered)-4] + "AAAA"
			if status, _, _ := authn(t, e, get("/", bearer(tampered)...)); status != 401 {
				t.Errorf("tampered demo.jwt: got %d", status)
			}
		})
	}
}
