package authz

import (
	"testing"
)

const productpage = "productpage.default.svc.cluster.local"

func legacyJWT(t testing.TB) *LegacyJWT {
	return &LegacyJWT{Issuer: "https://idp-a", JWKS: jwksJSON(rsaJWK("k1", &testKeys().a.PublicKey))}
}

func mustLegacy(t *testing.T, ns, name string, spec *LegacyPolicy, mesh bool) *LegacyAuthn {
	t.Helper()
	l, errs := CompileLegacyPolicy(meta(ns, name), spec, mesh)
	noErrors(t, errs)
	return l
}

func legacyEngine(cfg Config) *Engine { return NewEngine(Options{Now: fixedNow}, cfg) }

func to(r *Request, dest string) *Request {
	r.Destination = dest
	return r
}

// istio-api.md 7.3: missing or invalid origin token gives 401
// "Origin authentication failed." unless optional or not triggered.
func TestLegacyOrigin(t *testing.T) {
	t.Parallel()
	j := legacyJWT(t)
	exact, prefix := "/health", "/public/"
	j.TriggerRules = []TriggerRule{{ExcludedPaths: []StringMatch{{Exact: &exact}, {Prefix: &prefix}}}}
	pol := mustLegacy(t, "default", "pp", &LegacyPolicy{Targets: []TargetSelector{{Name: "productpage"}},
		Origins: []OriginAuthenticationMethod{{JWT: j}}, Peers: []PeerAuthenticationMethod{{MTLS: &MutualTLS{}}}}, false)
	optional := mustLegacy(t, "default", "opt", &LegacyPolicy{Targets: []TargetSelector{{Name: "ratings"}},
		Origins: []OriginAuthenticationMethod{{JWT: legacyJWT(t)}}, OriginIsOptional: true}, false)
	e := legacyEngine(Config{LegacyPolicies: []*LegacyAuthn{pol, optional}})
	k := testKeys()
	good, bad := mint(t, k.a, "k1", claims()), mint(t, k.b, "k1", claims())
	tests := []struct {
		name   string
		r      *Request
		status int
	}{
		{"no token", to(get("/"), productpage), 401},
		{"invalid token", to(get("/", bearer(bad)...), productpage), 401},
		{"valid token", to(get("/", bearer(good)...), productpage), 200},
		{"excluded exact path", to(get("/health"), productpage), 200},
		{"excluded prefix", to(get("/public/x"), productpage), 200},
		{"other service", to(get("/"), "reviews.default.svc.cluster.local"), 200},
		{"unrouted", get("/"), 200},
		{"raw TCP", &Request{TCP: true, Destination: productpage}, 200},
		{"originIsOptional", to(get("/", bearer(bad)...), "ratings.default.svc.cluster.local"), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, body, id := authn(t, e, tc.r)
			if status != 200 {
				t.Fatalf("Authenticate rejected a legacy-only token: %d %q", status, body)
			}
			d := e.Authorize(tc.r, id)
			got := 200
			if !d.Allowed {
				got = d.Status
			}
			if got != tc.status || (!d.Allowed && (d.Body != BodyOriginAuthFailed || d.Policy != "default/pp")) {
				t.Errorf("got %+v, want status %d", d, tc.status)
			}
		})
	}
	// The token is forwarded: legacy origins never remove it.
	r := to(get("/", bearer(good)...), productpage)
	if authn(t, e, r); r.Header.Get("Authorization") == "" {
		t.Error("legacy origin removed the token header")
	}
}

func TestLegacyTriggerIncluded(t *testing.T) {
	t.Parallel()
	j := legacyJWT(t)
	re := "/api/.*"
	j.TriggerRules = []TriggerRule{{IncludedPaths: []StringMatch{{Regex: &re}}}}
	e := legacyEngine(Config{LegacyPolicies: []*LegacyAuthn{mustLegacy(t, "default", "ns-wide", &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: j}}}, false)}})
	for path, want := range map[string]bool{"/api/x": false, "/other": true, "/api": true} {
		if d := e.Authorize(to(get(path), productpage), nil); d.Allowed != want {
			t.Errorf("%s: allowed = %v, want %v", path, d.Allowed, want)
		}
	}
}

// Precedence: a service-targeted Policy beats the namespace's, which
// beats the MeshPolicy.
func TestLegacyPrecedence(t *testing.T) {
	t.Parallel()
	withOrigin := &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: legacyJWT(t)}}}
	mesh := mustLegacy(t, "istio-system", "default", withOrigin, true)
	nsWide := mustLegacy(t, "default", "default", &LegacyPolicy{}, false) // no origins
	targeted := mustLegacy(t, "default", "pp", &LegacyPolicy{Targets: []TargetSelector{{Name: "productpage"}}, Origins: withOrigin.Origins}, false)
	e := legacyEngine(Config{LegacyPolicies: []*LegacyAuthn{mesh, nsWide, targeted}})
	tests := []struct {
		dest    string
		allowed bool
	}{
		{productpage, false},                         // targeted policy requires a token
		{"reviews.default.svc.cluster.local", true},  // namespace policy has no origins
		{"reviews.other.svc.cluster.local", false},   // MeshPolicy requires a token
		{"api.example.com", false},                   // MeshPolicy covers every destination
		{"reviews.default.svc.cluster.local.", true}, // trailing dot: same service
	}
	for _, tc := range tests {
		if d := e.Authorize(to(get("/"), tc.dest), nil); d.Allowed != tc.allowed {
			t.Errorf("%s: allowed = %v, want %v", tc.dest, d.Allowed, tc.allowed)
		}
	}
}

// principalBinding USE_ORIGIN makes the origin the request principal.
func TestLegacyPrincipalBinding(t *testing.T) {
	t.Parallel()
	needPrincipal := mustPolicy(t, meta("default", "need"), ap("ALLOW", &Rule{From: []*RuleFrom{{Source: &Source{RequestPrincipals: []string{"*"}}}}}))
	needClaim := mustPolicy(t, meta("default", "claim"), ap("ALLOW", &Rule{When: []*Condition{{Key: "request.auth.claims[sub]", Values: []string{"alice"}}}}))
	tok := mint(t, testKeys().a, "k1", claims())
	for _, tc := range []struct {
		binding string
		policy  *Policy
		allowed bool
	}{
		{"USE_ORIGIN", needPrincipal, true},
		{"USE_PEER", needPrincipal, false},
		{"USE_PEER", needClaim, true},
	} {
		l := mustLegacy(t, "default", "pp", &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: legacyJWT(t)}}, PrincipalBinding: tc.binding}, false)
		e := legacyEngine(Config{LegacyPolicies: []*LegacyAuthn{l}, AuthorizationPolicies: []*Policy{tc.policy}})
		r := to(get("/", bearer(tok)...), productpage)
		_, _, id := authn(t, e, r)
		if d := e.Authorize(r, id); d.Allowed != tc.allowed {
			t.Errorf("%s with %s: allowed = %v, want %v", tc.binding, tc.policy.Key, d.Allowed, tc.allowed)
		}
	}
}

// A legacy origin and a RequestAuthentication for another issuer share
// the default location without the origin's token being rejected.
func TestLegacyAndRequestAuthentication(t *testing.T) {
	t.Parallel()
	other := &JWTRule{Issuer: "https://idp-b", JWKS: jwksJSON(rsaJWK("kb", &testKeys().b.PublicKey))}
	l := mustLegacy(t, "default", "pp", &LegacyPolicy{Origins: []OriginAuthenticationMethod{{JWT: legacyJWT(t)}}}, false)
	e := legacyEngine(Config{RequestAuthentications: []*Authn{mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{other}})},
		LegacyPolicies: []*LegacyAuthn{l}})
	r := to(get("/", bearer(mint(t, testKeys().a, "k1", claims()))...), productpage)
	status, body, id := authn(t, e, r)
	if status != 200 || id.Authenticated() {
		t.Fatalf("got %d %q authenticated=%v", status, body, id.Authenticated())
	}
	if d := e.Authorize(r, id); !d.Allowed {
		t.Errorf("legacy origin token not honoured: %+v", d)
	}
	if status, _, _ := authn(t, e, get("/", bearer(mint(t, testKeys().a, "k1", claims("iss", "https://idp-c")))...)); status != 401 {
		t.Errorf("unknown issuer: got %d, want 401", status)
	}
}

func TestLegacyCompileErrors(t *testing.T) {
	t.Parallel()
	two, bad := "/a", "("
	_, errs := CompileLegacyPolicy(meta("default", "p"), &LegacyPolicy{
		PrincipalBinding: "USE_NOTHING",
		Targets:          []TargetSelector{{}},
		Origins: []OriginAuthenticationMethod{{}, {JWT: &LegacyJWT{JWKS: "{}", TriggerRules: []TriggerRule{
			{ExcludedPaths: []StringMatch{{Exact: &two, Prefix: &two}}, IncludedPaths: []StringMatch{{Regex: &bad}}}}}}},
	}, false)
	wantErr(t, errs, "spec.principalBinding", "unknown value", false)
	wantErr(t, errs, "spec.targets[0].name", "required", false)
	wantErr(t, errs, "spec.origins[0].jwt", "required", false)
	wantErr(t, errs, "spec.origins[1].jwt.issuer", "required", false)
	wantErr(t, errs, "spec.origins[1].jwt.triggerRules[0].excludedPaths[0]", "exactly one", false)
	wantErr(t, errs, "spec.origins[1].jwt.triggerRules[0].includedPaths[0].regex", "does not compile", false)
	_, errs = CompileLegacyPolicy(meta("default", "p"), &LegacyPolicy{Peers: []PeerAuthenticationMethod{{MTLS: &MutualTLS{Mode: "STRICT"}}}}, false)
	wantErr(t, errs, "spec.peers[0]", "not enforced", true)
}
