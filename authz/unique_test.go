package authz

import (
	"net/http"
	"testing"
)

// uniqueEngine reads tokens at every kind of location: one rule at the
// default locations, another at a custom header, parameter and cookie
// (and "bearer " in Authorization, the same location as "Bearer "), both
// with output headers, and a legacy origin at a header without a prefix.
func uniqueEngine(t testing.TB) *Engine {
	t.Helper()
	a := inlineRule(t)
	a.OutputPayloadToHeader = "x-jwt-payload"
	a.OutputClaimToHeaders = []ClaimToHeader{{"x-sub", "sub"}}
	b := inlineRule(t)
	b.OutputPayloadToHeader, b.OutputClaimToHeaders = a.OutputPayloadToHeader, a.OutputClaimToHeaders
	b.FromHeaders = []JWTHeader{{Name: "x-jwt", Prefix: "Token "}, {Name: "authorization", Prefix: "bearer "}}
	b.FromParams = []string{"jwt"}
	b.FromCookies = []string{"session"}
	j := legacyJWT(t)
	j.JWTHeaders = []string{"x-legacy"}
	legacy, errs := CompileLegacyPolicy(meta("default", "legacy"), &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: j}}}, false)
	noErrors(t, errs)
	ra := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{a, b}})
	return NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{ra}, LegacyPolicies: []*LegacyAuthn{legacy}})
}

// A request carries at most one token, counted over every location of
// every rule; two identical tokens are still two.
func TestOneTokenPerRequest(t *testing.T) {
	t.Parallel()
	k := testKeys()
	a := mint(t, k.a, "k1", claims())
	b := mint(t, k.a, "k1", claims("sub", "bob"))
	expired := mint(t, k.a, "k1", claims("exp", fixed.Unix()-3600))
	e := uniqueEngine(t)
	tests := []struct {
		name    string
		r       *Request
		status  int
		subject string
	}{
		{"two Authorization headers", get("/", "Authorization", "Bearer "+a, "Authorization", "Bearer "+b), 401, ""},
		{"the same token twice", get("/", "Authorization", "Bearer "+a, "Authorization", "Bearer "+a), 401, ""},
		{"Bearer a, Bearer b", get("/", "Authorization", "Bearer "+a+", Bearer "+b), 401, ""},
		{"Bearer a, bearer a", get("/", "Authorization", "Bearer "+a+", bearer "+a), 401, ""},
		{"two query parameters", withQuery(get("/"), "access_token="+a+"&access_token="+b), 401, ""},
		{"a query parameter and an empty one", withQuery(get("/"), "access_token="+a+"&access_token="), 401, ""},
		{"an encoded parameter name", withQuery(get("/"), "access%5Ftoken="+a+"&access_token="+a), 401, ""},
		{"header plus query", withQuery(get("/", bearer(a)...), "access_token="+b), 401, ""},
		{"header plus custom parameter", withQuery(get("/", bearer(a)...), "jwt="+a), 401, ""},
		{"valid header plus expired query", withQuery(get("/", bearer(a)...), "access_token="+expired), 401, ""},
		{"header plus cookie", get("/", "Authorization", "Bearer "+a, "Cookie", "session="+a), 401, ""},
		{"two cookies", get("/", "Cookie", "session="+a, "Cookie", "x=1; session="+b), 401, ""},
		{"two custom headers", get("/", "X-Jwt", "Token "+a, "X-Jwt", "Token "+a), 401, ""},
		{"header plus custom header", get("/", "Authorization", "Bearer "+a, "X-Jwt", "Token "+b), 401, ""},
		{"header plus legacy header", get("/", "Authorization", "Bearer "+a, "X-Legacy", a), 401, ""},
		{"two legacy header lines", get("/", "X-Legacy", a, "X-Legacy", a), 401, ""},
		{"one header", get("/", bearer(b)...), 200, "bob"},
		{"one query parameter", withQuery(get("/"), "x=1&access_token="+b), 200, "bob"},
		{"one cookie", get("/", "Cookie", "a=1; session="+b), 200, "bob"},
		{"JWT-09 empty Bearer is not a token", withQuery(get("/", "Authorization", "Bearer"), "access_token="+b), 200, "bob"},
		{"JWT-09 Basic is not a token", withQuery(get("/", "Authorization", "Basic dXNlcjpwYXNz"), "jwt="+b), 200, "bob"},
		{"Basic line, then Bearer line", get("/", "Authorization", "Basic dXNlcjpwYXNz", "Authorization", "Bearer "+b), 200, "bob"},
		{"JWT-09 Bearer line, then Basic line", get("/", "Authorization", "Bearer "+b, "Authorization", "Basic dXNlcjpwYXNz"), 401, ""},
		{"JWT-09 junk after the token", get("/", "Authorization", "Bearer "+a+" "+b), 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.r.Header.Set("X-Sub", "mallory")
			status, _, id := authn(t, e, tc.r)
			if status != tc.status || id.Authenticated() != (tc.subject != "") || (id != nil && id.Subject != tc.subject) {
				t.Fatalf("got %d identity %+v, want %d subject %q", status, id, tc.status, tc.subject)
			}
			sub := tc.r.Header.Get("X-Sub")
			if status == 200 && sub != tc.subject || status != 200 && (sub != "" || tc.r.Header.Get("X-Jwt-Payload") != "") {
				t.Errorf("X-Sub = %q after %d", sub, status)
			}
		})
	}
}

// The rejection of several tokens is a 401 like the others, and explain
// says why.
func TestJwtNotUniqueResponse(t *testing.T) {
	t.Parallel()
	e := uniqueEngine(t)
	tok := mint(t, testKeys().a, "k1", claims())
	r := withQuery(get("/x", bearer(tok)...), "access_token="+tok)
	id, resp := e.Authenticate(t.Context(), r)
	want := Response{Status: http.StatusUnauthorized, Body: BodyJwtNotUnique,
		WWWAuthenticate: `Bearer realm="http://example.com/x", error="invalid_token"`}
	if id != nil || resp == nil || *resp != want {
		t.Fatalf("got %v %+v, want %+v", id, resp, want)
	}
	if r.Header.Get("Authorization") == "" || r.RawQuery == "" {
		t.Error("a rejected request had its token removed")
	}
	tr := e.Explain(t.Context(), withQuery(get("/x", bearer(tok)...), "access_token="+tok))
	for _, line := range []string{
		`authenticate: 1 token(s) at header Authorization (prefix "Bearer ")`,
		"authenticate: 1 token(s) at query parameter access_token",
		`authenticate: 2 tokens in the request: 401 "Jwt is not unique"`,
	} {
		if !contains(tr.Lines, line) {
			t.Errorf("explanation lacks %q:\n%s", line, tr)
		}
	}
}
