package authz

import (
	"net/netip"
	"testing"
)

func mustIPSet(t testing.TB, vs ...string) *ipSet {
	t.Helper()
	var ps []netip.Prefix
	for _, v := range vs {
		p, err := parseIPOrCIDR(v)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return newIPSet(ps)
}

func TestIPSet(t *testing.T) {
	t.Parallel()
	s := mustIPSet(t, "10.0.0.0/8", "10.1.0.0/16", "192.168.1.7", "192.168.1.8", "2001:db8::/32", "::ffff:203.0.113.0/120", "10.0.0.1/8")
	tests := []struct {
		addr string
		in   bool
	}{
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"9.255.255.255", false},
		{"192.168.1.7", true},
		{"192.168.1.8", true},
		{"192.168.1.9", false},
		{"::ffff:10.2.3.4", true},
		{"203.0.113.77", true},
		{"2001:db8:1::1", true},
		{"2001:db9::1", false},
		{"fe80::1%eth0", false},
	}
	for _, tc := range tests {
		if got := s.Contains(netip.MustParseAddr(tc.addr)); got != tc.in {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.in)
		}
	}
	if s.Contains(netip.Addr{}) {
		t.Error("the zero address is in the set")
	}
	if n := len(s.ranges); n != 4 {
		t.Errorf("%d ranges after merging, want 4: %v", n, s.ranges)
	}
	if all := mustIPSet(t, "0.0.0.0/0", "::/0"); !all.Contains(netip.MustParseAddr("255.255.255.255")) || !all.Contains(netip.MustParseAddr("::1")) {
		t.Error("catch-all prefixes do not contain the top address")
	}
}

func TestParseIPOrCIDR(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "10.0.0.0/33", "10.0.0", "fe80::1%eth0", "1.2.3.4/-1", "example.com"} {
		if _, err := parseIPOrCIDR(bad); err == nil {
			t.Errorf("parseIPOrCIDR(%q) succeeded", bad)
		}
	}
}

func TestIPSetNoAllocs(t *testing.T) {
	s := mustIPSet(t, "10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32")
	a := netip.MustParseAddr("192.168.3.4")
	if n := testing.AllocsPerRun(1000, func() { s.Contains(a) }); n != 0 {
		t.Errorf("Contains allocates %v times", n)
	}
}

// hotEngine has the policies of a typical edge: DENY by IP, path and
// host, ALLOW by method, path template, host and port, header, authority
// and client address.
func hotEngine(t testing.TB) *Engine {
	t.Helper()
	denyIP := mustPolicy(t, meta("gw", "deny-ip"), ap("DENY", fromIPs("10.0.0.0/8", "172.16.0.0/12", "2001:db8::/32")))
	denyPath := mustPolicy(t, meta("gw", "deny-admin"), ap("DENY", toPaths("/admin*", "/internal/{**}")))
	denyHost := mustPolicy(t, meta("gw", "deny-admin-host"), ap("DENY", &Rule{To: []*RuleTo{{Operation: &Operation{Hosts: []string{"admin.example.com", "ops.example.com:8443"}}}}}))
	allow := mustPolicy(t, meta("gw", "allow-api"), ap("ALLOW",
		&Rule{To: []*RuleTo{{Operation: &Operation{Methods: []string{"GET", "POST"}, Paths: []string{"/api/{*}/items", "/static/*"}, Hosts: []string{"*.example.org", "api.example.org:8443"}}}}},
		&Rule{
			From: []*RuleFrom{{Source: &Source{RemoteIPBlocks: []string{"198.51.100.0/24"}, NotRequestPrincipals: []string{"https://blocked/*"}}}},
			To:   []*RuleTo{{Operation: &Operation{Methods: []string{"GET"}, Paths: []string{"/api/*"}, NotHosts: []string{"example.com:9999"}}}},
			When: []*Condition{{Key: "request.headers[x-tenant]", Values: []string{"a", "b", "c*"}}, {Key: "destination.port", Values: []string{"8080"}},
				{Key: "request.headers[:authority]", Values: []string{"[::1]:*", "example.com:8080"}}},
		}))
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	return NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{denyIP, denyPath, denyHost, allow}})
}

// Authorize allocates nothing for a request without a JWT, host and port
// conditions included.
func TestAuthorizeNoAllocs(t *testing.T) {
	e := hotEngine(t)
	r := get("/api/v1/orders", "X-Tenant", "user, cust")
	if d := e.Authorize(r, nil); !d.Allowed || d.Rule != 1 {
		t.Fatalf("setup: %+v", d)
	}
	denied, deniedHost := get("/admin/x"), get("/api/v1/orders", "X-Tenant", "a")
	deniedHost.Host, deniedHost.Port = "ops.example.com", 8443
	if d := e.Authorize(deniedHost, nil); d.Allowed || d.Policy != "gw/deny-admin-host" {
		t.Fatalf("setup: %+v", d)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Authorize(r, nil); e.Authorize(denied, nil); e.Authorize(deniedHost, nil) }); n != 0 {
		t.Errorf("Authorize allocates %v times per run", n)
	}
	var nilEngine *Engine
	if n := testing.AllocsPerRun(1000, func() { nilEngine.Authorize(r, nil) }); n != 0 {
		t.Errorf("nil engine allocates %v times", n)
	}
}

func BenchmarkAuthorize(b *testing.B) {
	e := hotEngine(b)
	r := get("/api/v1/orders", "X-Tenant", "user, cust")
	b.ReportAllocs()
	for b.Loop() {
		if !e.Authorize(r, nil).Allowed {
			b.Fatal("denied")
		}
	}
}

// BenchmarkAuthenticateRS256 verifies a token with a kid (the keyfunc
// route) without the token cache: what a token costs the first time.
func BenchmarkAuthenticateRS256(b *testing.B) { benchAuthenticate(b, "k1", false) }

// BenchmarkAuthenticateRS256NoKid verifies a token without a kid: every
// key of the family is tried.
func BenchmarkAuthenticateRS256NoKid(b *testing.B) { benchAuthenticate(b, "", false) }

// BenchmarkAuthenticateRS256Cached is a client sending the same token
// again: parse and signature come from the token cache.
func BenchmarkAuthenticateRS256Cached(b *testing.B) { benchAuthenticate(b, "k1", true) }

func benchAuthenticate(b *testing.B, kid string, cache bool) {
	e := hotEngine(b)
	if !cache {
		e.tokens = nil
	}
	tok := mint(b, testKeys().a, kid, claims("groups", []string{"a", "b"}, "scope", "read write"))
	h := get("/").Header
	r := get("/api/v1/orders")
	b.ReportAllocs()
	for b.Loop() {
		r.Header = h.Clone()
		r.Header.Set("Authorization", "Bearer "+tok)
		if id, resp := e.Authenticate(b.Context(), r); resp != nil || !id.Authenticated() {
			b.Fatal(resp)
		}
	}
}

// Claim, audience and principal conditions allocate nothing either.
func TestAuthorizeWithJWTNoAllocs(t *testing.T) {
	p := mustPolicy(t, meta("ns", "claims"), ap("ALLOW", &Rule{
		From: []*RuleFrom{{Source: &Source{RequestPrincipals: []string{"https://idp-a/*"}}}},
		When: []*Condition{{Key: "request.auth.claims[groups]", Values: []string{"b"}}, {Key: "request.auth.claims[scope]", Values: []string{"write"}},
			{Key: "request.auth.audiences", Values: []string{"api"}}}}))
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	e := NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{p}})
	r := get("/", bearer(mint(t, testKeys().a, "k1", claims("groups", []string{"a", "b"}, "scope", "read write")))...)
	id, resp := e.Authenticate(t.Context(), r)
	if resp != nil || !e.Authorize(r, id).Allowed {
		t.Fatalf("setup: %v", resp)
	}
	if n := testing.AllocsPerRun(1000, func() { e.Authorize(r, id) }); n != 0 {
		t.Errorf("Authorize with a JWT allocates %v times", n)
	}
}
