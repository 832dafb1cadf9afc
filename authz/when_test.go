package authz

import (
	"net/netip"
	"testing"
)

// whenEngine returns an engine with one ALLOW policy holding conds, and
// an inline JWT rule for "https://idp-a".
func whenEngine(t *testing.T, conds ...*Condition) *Engine {
	t.Helper()
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	p := mustPolicy(t, meta("ns", "when"), ap("ALLOW", &Rule{When: conds}))
	return NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{p}})
}

// decide authenticates and authorizes r.
func decide(t *testing.T, e *Engine, r *Request) Decision {
	t.Helper()
	id, resp := e.Authenticate(t.Context(), r)
	if resp != nil {
		t.Fatalf("authentication rejected: %d %s", resp.Status, resp.Body)
	}
	return e.Authorize(r, id)
}

// Every "when" key of istio-api.md 8.3 that a gateway can observe.
func TestWhenKeys(t *testing.T) {
	t.Parallel()
	tok := mint(t, testKeys().a, "k1", claims("aud", []string{"api", "web"}, "azp", "spa",
		"groups", []string{"admins"}, "o", map[string]any{"team": "blue"}, "scope", "read write", "n", 7))
	full := func() *Request {
		r := get("/x", append(bearer(tok), "X-Role", "admin")...)
		r.PeerPrincipal, r.SNI = "cluster.local/ns/apps/sa/web", "api.example.com"
		return r
	}
	tests := []struct {
		key    string
		values []string
		match  bool
	}{
		{"request.headers[x-role]", []string{"admin"}, true},
		{"request.headers[x-role]", []string{"*"}, true},
		{"request.headers[x-missing]", []string{"*"}, false},
		{"request.headers[host]", []string{"example.*"}, true},
		{"request.headers[:authority]", []string{"example.com"}, true},
		{"request.headers[:method]", []string{"GET"}, true},
		{"request.headers[:path]", []string{"/x"}, true},
		{"source.ip", []string{"192.0.2.0/24"}, true},
		{"source.ip", []string{"198.51.100.7"}, false},
		{"remote.ip", []string{"198.51.100.7"}, true},
		{"source.namespace", []string{"apps"}, true},
		{"source.principal", []string{"cluster.local/ns/apps/sa/web"}, true},
		{"source.serviceAccount", []string{"apps/web"}, true},
		{"request.auth.principal", []string{"https://idp-a/alice"}, true},
		{"request.auth.principal", []string{"https://idp-a/bob"}, false},
		{"request.auth.audiences", []string{"web"}, true},
		{"request.auth.presenter", []string{"spa"}, true},
		{"request.auth.claims[groups]", []string{"admins"}, true},
		{"request.auth.claims[o][team]", []string{"blue"}, true},
		{"request.auth.claims[scope]", []string{"write"}, true},
		{"request.auth.claims[n]", []string{"7"}, false},
		{"request.auth.claims[n]", []string{"*"}, false},
		{"destination.ip", []string{"10.0.0.0/8"}, true},
		{"destination.port", []string{"8080"}, true},
		{"destination.port", []string{"443"}, false},
		{"connection.sni", []string{"*.example.com"}, true},
		{"experimental.envoy.filters.http.jwt_authn[payload]", []string{"x"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.values[0], func(t *testing.T) {
			t.Parallel()
			if d := decide(t, whenEngine(t, &Condition{Key: tc.key, Values: tc.values}), full()); d.Allowed != tc.match {
				t.Errorf("values: allowed = %v, want %v", d.Allowed, tc.match)
			}
			if d := decide(t, whenEngine(t, &Condition{Key: tc.key, NotValues: tc.values}), full()); d.Allowed == tc.match {
				t.Errorf("notValues: allowed = %v, want %v", d.Allowed, !tc.match)
			}
		})
	}
}

// istio-api.md 8.2: a missing attribute never matches, so notValues and
// notX on it hold (DENY notRequestPrincipals ["*"] denies anonymous).
func TestMissingAttributes(t *testing.T) {
	t.Parallel()
	deny := mustPolicy(t, meta("ns", "require-jwt"), ap("DENY", &Rule{From: []*RuleFrom{{Source: &Source{NotRequestPrincipals: []string{"*"}}}}}))
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	e := NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{deny}})
	if d := decide(t, e, get("/")); d.Allowed {
		t.Error("anonymous request allowed by DENY notRequestPrincipals [*]")
	}
	if d := decide(t, e, get("/", bearer(mint(t, testKeys().a, "k1", claims()))...)); !d.Allowed {
		t.Errorf("authenticated request denied: %+v", d)
	}
	for _, c := range []*Condition{
		{Key: "request.headers[x-nope]", NotValues: []string{"a"}},
		{Key: "request.auth.claims[groups]", NotValues: []string{"a"}},
		{Key: "source.principal", NotValues: []string{"*"}},
	} {
		if d := decide(t, whenEngine(t, c), get("/")); !d.Allowed {
			t.Errorf("%s notValues on a missing attribute did not hold", c.Key)
		}
	}
}

// istio-api.md 8.4: requestPrincipals split at the last "/".
func TestRequestPrincipalForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, iss, sub string
		match             bool
	}{
		{"*", "https://idp-a", "alice", true},
		{"*", "https://idp-a", "", false},
		{"issuer-a*", "issuer-a.example", "anyone", true},
		{"issuer-a", "issuer-a", "anyone", true},
		{"https://idp-a/*", "https://idp-a", "alice", true},
		{"https://idp-a/*", "https://idp-b", "alice", false},
		{"https://idp-a/al*", "https://idp-a", "alice", true},
		{"https://idp-a/al*", "https://idp-a", "bob", false},
		{"*ice", "anything", "alice", true},
		{"*/alice", "https://idp-b", "alice", true},
		{"*idp-a/alice", "https://idp-a", "alice", true},
		{"*idp-a/alice", "https://idp-b", "alice", false},
		{"https://idp-a/alice", "https://idp-a", "alice", true},
		{"https://idp-a/alice", "https://idp-a", "alice2", false},
		{"https://idp-a/a/b", "https://idp-a", "a/b", false},
		// A URL issuer has a "/": the pattern splits there, as in Istio.
		{"https://idp*", "https://idp-a", "x", false},
		{"https://idp-a", "https://idp-a", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.iss+"/"+tc.sub, func(t *testing.T) {
			t.Parallel()
			p := newPrincipalPattern(tc.pattern)
			if got := p.match(tc.iss, tc.sub); got != tc.match {
				t.Errorf("match = %v, want %v", got, tc.match)
			}
		})
	}
}

// security.md AZ-11: every value and every comma element is checked.
func TestHeaderMultiValues(t *testing.T) {
	t.Parallel()
	deny := mustPolicy(t, meta("ns", "deny-admin"), ap("DENY", &Rule{When: []*Condition{{Key: "request.headers[x-role]", Values: []string{"admin"}}}}))
	e := policyEngine(t, deny)
	tests := []struct {
		name    string
		headers []string
		denied  bool
	}{
		{"two values", []string{"X-Role", "user", "X-Role", "admin"}, true},
		{"comma list", []string{"X-Role", "user,admin"}, true},
		{"comma list with blanks", []string{"X-Role", "user , admin "}, true},
		{"blanks", []string{"X-Role", "  admin  "}, true},
		{"name case", []string{"x-ROLE", "admin"}, true},
		{"other value", []string{"X-Role", "user"}, false},
		{"longer value", []string{"X-Role", "administrator"}, false},
		{"absent", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := e.Authorize(get("/", tc.headers...), nil); d.Allowed == tc.denied {
				t.Errorf("denied = %v, want %v", !d.Allowed, tc.denied)
			}
		})
	}
}

func TestOperationFields(t *testing.T) {
	t.Parallel()
	op := &Operation{Methods: []string{"GET", "HEAD"}, NotPaths: []string{"/admin/{**}"}, Paths: []string{"/api/{*}/items", "/static*"}, NotPorts: []string{"9999"}}
	e := policyEngine(t, mustPolicy(t, meta("ns", "op"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: op}}})))
	tests := []struct {
		method, path string
		port         uint16
		allowed      bool
	}{
		{"GET", "/api/v1/items", 8080, true},
		{"GET", "/api/v1/v2/items", 8080, false},
		{"POST", "/api/v1/items", 8080, false},
		{"HEAD", "/static/app.js", 8080, true},
		{"GET", "/static/app.js", 9999, false},
		{"GET", "/admin/x", 8080, false},
	}
	for _, tc := range tests {
		r := get(tc.path)
		r.Method, r.Local = tc.method, netip.AddrPortFrom(r.Local.Addr(), tc.port)
		if d := e.Authorize(r, nil); d.Allowed != tc.allowed {
			t.Errorf("%s %s :%d: allowed = %v, want %v", tc.method, tc.path, tc.port, d.Allowed, tc.allowed)
		}
	}
}

// security.md CIP-01, CIP-05, AZ-10, AZ-06: authorization reads the
// addresses and path the gateway computed, never client-supplied hints.
func TestClientHintsIgnored(t *testing.T) {
	t.Parallel()
	allowInternal := mustPolicy(t, meta("ns", "internal"), ap("ALLOW", &Rule{From: []*RuleFrom{{Source: &Source{RemoteIPBlocks: []string{"10.0.0.0/8"}}}}}))
	denyAdmin := mustPolicy(t, meta("ns", "deny"), ap("DENY", toPaths("/admin"), &Rule{To: []*RuleTo{{Operation: &Operation{Methods: []string{"DELETE"}}}}}))
	spoof := get("/x", "X-Forwarded-For", "10.0.0.1", "X-Real-Ip", "10.0.0.1", "X-Envoy-External-Address", "10.0.0.1",
		"Forwarded", "for=10.0.0.1", "X-Original-Url", "/admin", "X-Rewrite-Url", "/admin", "X-Http-Method-Override", "DELETE")
	spoof.Method, spoof.RemoteIP = "POST", netip.MustParseAddr("127.0.0.2")
	if d := policyEngine(t, allowInternal).Authorize(spoof, nil); d.Allowed {
		t.Error("remoteIpBlocks trusted a forwarding header")
	}
	if d := policyEngine(t, denyAdmin).Authorize(spoof, nil); !d.Allowed {
		t.Errorf("a rewrite or override header changed the decision: %+v", d)
	}
	withQuery := get("/admin")
	withQuery.RawQuery = "x=1"
	if d := policyEngine(t, denyAdmin).Authorize(withQuery, nil); d.Allowed {
		t.Error("a query string hid the path from a DENY rule")
	}
}
