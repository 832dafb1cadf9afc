package authz

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
)

func policyEngine(t testing.TB, ps ...*Policy) *Engine {
	t.Helper()
	return NewEngine(Options{Now: fixedNow}, Config{AuthorizationPolicies: ps})
}

func ap(action string, rules ...*Rule) *AuthorizationPolicy {
	return &AuthorizationPolicy{Action: action, Rules: rules}
}

func toPaths(paths ...string) *Rule {
	return &Rule{To: []*RuleTo{{Operation: &Operation{Paths: paths}}}}
}

func fromIPs(ips ...string) *Rule {
	return &Rule{From: []*RuleFrom{{Source: &Source{IPBlocks: ips}}}}
}

func dryRun(ns, name string) api.Meta {
	m := meta(ns, name)
	m.Annotations = map[string]string{"istio.io/dry-run": "true"}
	return m
}

// istio-api.md 8.2 and security.md AZ-12 (a)-(c).
func TestEvaluationOrder(t *testing.T) {
	t.Parallel()
	deny := mustPolicy(t, meta("ns", "deny-admin"), ap("DENY", toPaths("/admin*")))
	allowAdmin := mustPolicy(t, meta("ns", "allow-admin"), ap("ALLOW", toPaths("/admin*")))
	allowPub := mustPolicy(t, meta("ns", "allow-public"), ap("", toPaths("/nothing"), toPaths("/public")))
	allowAll := mustPolicy(t, meta("ns", "allow-all"), ap("ALLOW", &Rule{}))
	denyAll := mustPolicy(t, meta("ns", "deny-all"), ap("DENY", &Rule{}))
	nothing := mustPolicy(t, meta("ns", "allow-nothing"), nil)
	audit := mustPolicy(t, meta("ns", "audit"), ap("AUDIT", toPaths("/public")))
	tests := []struct {
		name     string
		policies []*Policy
		path     string
		allowed  bool
		policy   string
		rule     int
		reason   string
	}{
		{"(a) DENY wins over ALLOW", []*Policy{allowAdmin, deny}, "/admin/x", false, "ns/deny-admin", 0, ReasonDenyMatched},
		{"(b) no ALLOW matches", []*Policy{allowAdmin}, "/public", false, "", -1, ReasonNoAllowMatched},
		{"(c) empty rule allows all", []*Policy{allowAll}, "/anything", true, "ns/allow-all", 0, ReasonAllowMatched},
		{"no policies", nil, "/x", true, "", -1, ReasonNoEngine},
		{"only DENY, not matching", []*Policy{deny}, "/public", true, "", -1, ReasonNoAllowPolicy},
		{"spec {} allows nothing", []*Policy{nothing}, "/public", false, "", -1, ReasonNoAllowMatched},
		{"DENY rules [{}] denies all", []*Policy{denyAll, allowAll}, "/public", false, "ns/deny-all", 0, ReasonDenyMatched},
		{"second rule matches", []*Policy{allowPub}, "/public", true, "ns/allow-public", 1, ReasonAllowMatched},
		{"AUDIT never decides", []*Policy{audit}, "/public", true, "", -1, ReasonNoAllowPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := policyEngine(t, tc.policies...).Authorize(get(tc.path), nil)
			if d.Allowed != tc.allowed || d.Policy != tc.policy || d.Rule != tc.rule || d.Reason != tc.reason {
				t.Errorf("got %+v, want allowed=%v policy=%q rule=%d reason=%q", d, tc.allowed, tc.policy, tc.rule, tc.reason)
			}
			if !d.Allowed && (d.Status != 403 || d.Body != BodyRBACDenied) {
				t.Errorf("denial = %d %q", d.Status, d.Body)
			}
		})
	}
	if d := policyEngine(t, audit).Authorize(get("/public"), nil); !d.Audit || d.AuditPolicy != "ns/audit" {
		t.Errorf("AUDIT did not mark the decision: %+v", d)
	}
}

func TestDecisionWrite(t *testing.T) {
	t.Parallel()
	d := policyEngine(t, mustPolicy(t, meta("ns", "n"), nil)).Authorize(get("/"), nil)
	rec := httptest.NewRecorder()
	d.Write(rec)
	if rec.Code != 403 || rec.Body.String() != "RBAC: access denied" || rec.Header().Get("Content-Type") != "text/plain" {
		t.Errorf("got %d %q %v", rec.Code, rec.Body, rec.Header())
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	shadowDeny := mustPolicy(t, dryRun("ns", "shadow-deny"), ap("DENY", toPaths("/admin")))
	shadowAllow := mustPolicy(t, dryRun("ns", "shadow-allow"), ap("ALLOW", toPaths("/public")))
	tests := []struct {
		name     string
		policies []*Policy
		path     string
		shadowOK bool
		policy   string
	}{
		{"dry-run DENY would deny", []*Policy{shadowDeny}, "/admin", false, "ns/shadow-deny"},
		{"dry-run DENY would allow", []*Policy{shadowDeny}, "/x", true, ""},
		{"dry-run ALLOW would allow", []*Policy{shadowAllow}, "/public", true, "ns/shadow-allow"},
		{"dry-run ALLOW would deny", []*Policy{shadowAllow}, "/admin", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := policyEngine(t, tc.policies...).Authorize(get(tc.path), nil)
			if !d.Allowed || !d.DryRun.Evaluated || d.DryRun.Allowed != tc.shadowOK || d.DryRun.Policy != tc.policy {
				t.Errorf("got %+v", d)
			}
		})
	}
	if d := policyEngine(t).Authorize(get("/"), nil); d.DryRun.Evaluated {
		t.Error("dry-run evaluated without dry-run policies")
	}
}

func TestSelectorsAndNamespaces(t *testing.T) {
	t.Parallel()
	sel := &AuthorizationPolicy{Selector: &WorkloadSelector{MatchLabels: map[string]string{"istio": "ingressgateway"}}}
	p := mustPolicy(t, meta("apps", "gw-only"), sel) // allow-nothing when it applies
	tests := []struct {
		name    string
		opts    Options
		applies bool
	}{
		{"no labels: every selector matches", Options{}, true},
		{"matching labels", Options{Labels: map[string]string{"istio": "ingressgateway", "x": "y"}}, true},
		{"other labels", Options{Labels: map[string]string{"istio": "egress"}}, false},
		{"namespace scoped, other namespace", Options{NamespaceScoped: true, Namespace: "gw"}, false},
		{"namespace scoped, same namespace", Options{NamespaceScoped: true, Namespace: "apps"}, true},
		{"namespace scoped, root namespace", Options{NamespaceScoped: true, Namespace: "gw", RootNamespace: "apps"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := NewEngine(tc.opts, Config{AuthorizationPolicies: []*Policy{p}}).Authorize(get("/"), nil)
			if d.Allowed == tc.applies {
				t.Errorf("policy applies = %v, want %v", !d.Allowed, tc.applies)
			}
		})
	}
}

// security.md AZ-12 (d) and (e): HTTP-only fields on a TCP connection.
func TestTCPSemantics(t *testing.T) {
	t.Parallel()
	tcp := func(port string) *Request {
		return &Request{TCP: true, SourceIP: netip.MustParseAddr("10.1.2.3"), RemoteIP: netip.MustParseAddr("10.1.2.3"),
			Local: netip.MustParseAddrPort("10.0.0.1:" + port)}
	}
	allowGETPort := mustPolicy(t, meta("ns", "allow-get"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{Methods: []string{"GET"}, Ports: []string{"9000"}}}}}))
	allowPort := mustPolicy(t, meta("ns", "allow-port"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{Ports: []string{"9000"}}}}}))
	denyGET := mustPolicy(t, meta("ns", "deny-get"), ap("DENY", &Rule{To: []*RuleTo{{Operation: &Operation{Methods: []string{"GET"}}}}}))
	denyPathIP := mustPolicy(t, meta("ns", "deny-ip"), ap("DENY", &Rule{
		From: []*RuleFrom{{Source: &Source{IPBlocks: []string{"10.9.0.0/16"}}}},
		To:   []*RuleTo{{Operation: &Operation{Paths: []string{"/admin"}}}}}))
	tests := []struct {
		name     string
		policies []*Policy
		r        *Request
		allowed  bool
	}{
		{"(d) ALLOW rule with methods is dropped", []*Policy{allowGETPort}, tcp("9000"), false},
		{"ALLOW on ports only works on TCP", []*Policy{allowPort}, tcp("9000"), true},
		{"ALLOW on ports, other port", []*Policy{allowPort}, tcp("9001"), false},
		{"(e) DENY methods denies every connection", []*Policy{denyGET}, tcp("9000"), false},
		{"DENY ignores paths but keeps ipBlocks", []*Policy{denyPathIP}, tcp("9000"), true},
		{"same DENY on HTTP", []*Policy{denyGET}, get("/"), false},
		{"HTTP POST not denied", []*Policy{denyGET}, &Request{Method: "POST", Path: "/"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := policyEngine(t, tc.policies...).Authorize(tc.r, nil); d.Allowed != tc.allowed {
				t.Errorf("got %+v, want allowed=%v", d, tc.allowed)
			}
		})
	}
	r := tcp("9000")
	r.SourceIP = netip.MustParseAddr("10.9.1.1")
	if d := policyEngine(t, denyPathIP).Authorize(r, nil); d.Allowed {
		t.Error("DENY with ipBlocks did not deny a matching TCP peer")
	}
}

// security.md AZ-12 (f): values are literal patterns, never regexes.
func TestPatternsAreLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   Source
		peer  string
		match bool
	}{
		{"dot is literal", Source{Principals: []string{"cluster.local/ns/a.b/sa/x"}}, "cluster.local/ns/aXb/sa/x", false},
		{"exact with dots", Source{Principals: []string{"cluster.local/ns/a.b/sa/x"}}, "cluster.local/ns/a.b/sa/x", true},
		{".* is literal", Source{Principals: []string{"cluster.local/ns/.*"}}, "cluster.local/ns/x/sa/y", false},
		{"prefix star", Source{Principals: []string{"cluster.local/ns/x/*"}}, "cluster.local/ns/x/sa/y", true},
		{"suffix star", Source{Principals: []string{"*/sa/y"}}, "td/ns/x/sa/y", true},
		{"namespace .* is literal", Source{Namespaces: []string{".*"}}, "td/ns/foo/sa/y", false},
		{"namespace star", Source{Namespaces: []string{"*"}}, "td/ns/foo/sa/y", true},
		{"namespace prefix", Source{Namespaces: []string{"fo*"}}, "td/ns/foo/sa/y", true},
		{"namespace is a segment, not a substring", Source{Namespaces: []string{"foo"}}, "td/ns/foobar/sa/y", false},
		{"service account", Source{ServiceAccounts: []string{"x/y"}}, "td/ns/x/sa/y", true},
		{"short service account uses the policy namespace", Source{ServiceAccounts: []string{"y"}}, "td/ns/ns/sa/y", true},
		{"trust domain", Source{TrustDomains: []string{"td"}}, "td/ns/x/sa/y", true},
		{"no mTLS: principals never match", Source{Principals: []string{"*"}}, "", false},
		{"no mTLS: notPrincipals always match", Source{NotPrincipals: []string{"*"}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mustPolicy(t, meta("ns", "p"), ap("ALLOW", &Rule{From: []*RuleFrom{{Source: &tc.src}}}))
			r := get("/")
			r.PeerPrincipal = tc.peer
			if d := policyEngine(t, p).Authorize(r, nil); d.Allowed != tc.match {
				t.Errorf("allowed = %v, want %v", d.Allowed, tc.match)
			}
		})
	}
}

// security.md CIP-06: ipBlocks see the physical peer, remoteIpBlocks the
// trusted client address.
func TestIPBlocksVsRemoteIPBlocks(t *testing.T) {
	t.Parallel()
	deny := mustPolicy(t, meta("ns", "deny"), ap("DENY", fromIPs("198.51.100.0/24")))
	allow := mustPolicy(t, meta("ns", "allow"), ap("ALLOW", &Rule{From: []*RuleFrom{{Source: &Source{RemoteIPBlocks: []string{"198.51.100.0/24"}}}}}))
	e := policyEngine(t, deny, allow)
	tests := []struct {
		name, source, remote string
		allowed              bool
	}{
		{"LB peer, client in range", "127.0.0.1", "198.51.100.7", true},
		{"client connects directly", "198.51.100.7", "198.51.100.7", false},
		{"client out of range", "127.0.0.1", "203.0.113.9", false},
		{"IPv4-mapped remote address", "127.0.0.1", "::ffff:198.51.100.7", true},
		{"no remote address", "127.0.0.1", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := get("/")
			r.SourceIP = netip.MustParseAddr(tc.source)
			r.RemoteIP = netip.Addr{}
			if tc.remote != "" {
				r.RemoteIP = netip.MustParseAddr(tc.remote)
			}
			if d := e.Authorize(r, nil); d.Allowed != tc.allowed {
				t.Errorf("got %+v, want allowed=%v", d, tc.allowed)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	deny := mustPolicy(t, meta("ns", "deny"), ap("DENY", fromIPs("192.0.2.0/24")))
	e := NewEngine(Options{Now: fixedNow}, Config{RequestAuthentications: []*Authn{a}, AuthorizationPolicies: []*Policy{deny}})
	r := get("/x", bearer(mint(t, testKeys().a, "k1", claims()))...)
	tr := e.Explain(t.Context(), r)
	for _, want := range []string{"verified", "request.auth.principal", "DENY policy ns/deny", "matched", "result: denied 403"} {
		if !contains(tr.Lines, want) {
			t.Errorf("explanation lacks %q:\n%s", want, tr)
		}
	}
	if r.Header.Get("Authorization") == "" {
		t.Error("Explain modified the request's headers")
	}
	r.SourceIP = netip.MustParseAddr("203.0.113.1")
	if tr := e.Explain(t.Context(), r); !contains(tr.Lines, "ipBlocks failed: source.ip 203.0.113.1 is not one of [192.0.2.0/24]") || !tr.Decision.Allowed {
		t.Errorf("explanation:\n%s", tr)
	}
	bad := get("/x", bearer("a.b.c")...)
	if tr := e.Explain(t.Context(), bad); tr.Rejected == nil || !contains(tr.Lines, "rejected by authentication") {
		t.Errorf("explanation:\n%s", tr)
	}
}

func contains(lines []string, sub string) bool {
	for _, l := range lines {
		if len(sub) <= len(l) && indexOf(l, sub) >= 0 {
			return true
		}
	}
	return false
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
