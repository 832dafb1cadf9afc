package gateway

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// security.md JWT-07: audience. With audiences [api], a token is accepted
// only when "api" is its aud or one element of it, in any position;
// every request is repeated to catch a result that depends on order. A
// wrongly-typed aud is 401. A missing, empty or non-matching aud is
// denied with Envoy's and Istio's answer, 403 "Audiences in Jwt are not
// allowed" (authz/doc.go), where security.md asks for 401.
func TestJWT07Audience(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	const (
		notAllowed = "Audiences in Jwt are not allowed"
		badType    = "Jwt payload [aud] field is not a string or string list"
		missing    = "missing"
	)
	tests := []struct {
		name, path string
		aud        any
		code       int
		body       string
	}{
		{"api", "/secure/x", "api", 200, "ok"},
		{"other", "/secure/x", "other", 403, notAllowed},
		{"other, then api", "/secure/x", []string{"other", "api"}, 200, "ok"},
		{"api, then other", "/secure/x", []string{"api", "other"}, 200, "ok"},
		{"empty list", "/secure/x", []string{}, 403, notAllowed},
		{"missing", "/secure/x", missing, 403, notAllowed},
		{"empty string in a list", "/secure/x", []string{""}, 403, notAllowed},
		{"number", "/secure/x", 123, 401, badType},
		{"object", "/secure/x", map[string]int{"x": 1}, 401, badType},
		{"api and a number", "/secure/x", []any{"api", 1}, 401, badType},
		{"other, on a path without policy", "/open", "other", 403, notAllowed},
		{"number, on a path without policy", "/open", 123, 401, badType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := azClaims("https://idp-a.example", "alice", "aud", tc.aud)
			if tc.aud == missing {
				delete(claims, "aud")
			}
			hdr := []string{"Authorization", "Bearer " + idp.sign(t, jwt.SigningMethodRS256, "rsa-1", claims)}
			for i := range 100 {
				code, body, _ := g.get(80, "api.example.com", tc.path, hdr...)
				if code != tc.code || body != tc.body {
					t.Fatalf("request %d: got %d %q, want %d %q", i+1, code, body, tc.code, tc.body)
				}
				if code == 200 {
					<-ch
				} else {
					azNothing(t, ch, tc.name)
				}
			}
		})
	}
}

// security.md JWT-09: missing versus invalid credentials. RequestAuthentication
// by itself admits a request without a token: where a principal is
// required that request is 403, elsewhere it passes. A token that is
// present and invalid is 401 everywhere, on a path without policy too.
// gatehouse's choice (authz/doc.go): the Bearer scheme matches without
// regard to case (RFC 7235), so "bearer <token>" is verified; a header
// without the scheme ("Basic ...", or "Bearer" alone) carries no token;
// junk after the token is 401, and so is a second token, even a copy of
// the first ("Jwt is not unique").
func TestJWT09MissingVersusInvalid(t *testing.T) {
	t.Parallel()
	idp := newAzIdP(t)
	ch := make(chan seen, 1)
	g := startGW(t, azJWTConfig(startUpstream(t, recorder(ch)), idp.URL))
	good := idp.sign(t, jwt.SigningMethodRS256, "rsa-1", azClaims("https://idp-a.example", "alice"))
	bad := azRawToken(`{"alg":"none"}`, azClaims("https://idp-a.example", "alice"), nil)
	auth := func(v string) []string { return []string{"Authorization", v} }
	const (
		api     = "api.example.com"
		denied  = "RBAC: access denied"
		badForm = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
		badAlg  = "Jwt header [alg] is not supported"
	)
	var cases []azJWTCase
	for _, p := range []struct {
		path, anonymous string
		code            int
	}{{"/secure/x", denied, 403}, {"/open", "ok", 200}} {
		cases = append(cases,
			azJWTCase{"no Authorization on " + p.path, api, p.path, nil, p.code, p.anonymous, nil},
			azJWTCase{"empty Bearer on " + p.path, api, p.path, auth("Bearer"), p.code, p.anonymous, nil},
			azJWTCase{"Basic on " + p.path, api, p.path, auth("Basic dXNlcjpwYXNz"), p.code, p.anonymous, nil},
			azJWTCase{"invalid token on " + p.path, api, p.path, auth("Bearer " + bad), 401, badAlg, nil},
			azJWTCase{"lower-case bearer, invalid token on " + p.path, api, p.path, auth("bearer " + bad), 401, badAlg, nil},
			azJWTCase{"trailing junk on " + p.path, api, p.path, auth("Bearer " + good + " extra"), 401, badForm, nil},
			azJWTCase{"valid token on " + p.path, api, p.path, auth("Bearer " + good), 200, "ok", nil},
			azJWTCase{"lower-case bearer, valid token on " + p.path, api, p.path, auth("bearer " + good), 200, "ok", nil},
			azJWTCase{"upper-case BEARER, valid token on " + p.path, api, p.path, auth("BEARER " + good), 200, "ok", nil},
			azJWTCase{"two tokens in one header on " + p.path, api, p.path, auth("Bearer " + good + ", Bearer " + good), 401, "Jwt is not unique", nil},
			azJWTCase{"a header token and a query token on " + p.path, api, p.path + "?access_token=" + good, auth("Bearer " + good), 401, "Jwt is not unique", nil},
		)
	}
	azJWTRun(t, g, ch, cases)
}
