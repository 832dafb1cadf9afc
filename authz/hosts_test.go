package authz

import (
	"net/http/httptest"
	"strconv"
	"testing"
)

// onHost is a GET / for the normalized host, arrived on port.
func onHost(host string, port uint16) *Request {
	r := get("/")
	r.Host, r.Port = host, port
	return r
}

// istio-api.md 8.4, as gatehouse applies it: hosts values compare with
// the normalized host, and a port in the value is the Gateway port.
func TestHosts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		host  string
		port  uint16
		match bool
	}{
		{"admin.example.com", "admin.example.com", 8443, true},
		{"admin.example.com", "admin.example.com", 0, true},
		{"Admin.Example.COM", "admin.example.com", 80, true},
		{"admin.example.com.", "admin.example.com", 80, true},
		{"admin.example.com", "admin.example.com.evil", 80, false},
		{"admin.example.com:8443", "admin.example.com", 8443, true},
		{"admin.example.com:8443", "admin.example.com", 443, false},
		{"admin.example.com:8443", "admin.example.com", 0, false},
		{"admin.example.com.:8443", "admin.example.com", 8443, true},
		{"admin.example.com:*", "admin.example.com", 8443, true},
		{"admin.example.com:*", "other.example.com", 8443, false},
		{"*.example.com:8443", "a.example.com", 8443, true},
		{"*.example.com:8443", "a.example.com", 80, false},
		{"*.Example.com.", "a.example.com", 80, true},
		{"*", "anything", 1, true},
		{"*", "", 1, false},
		{"*:8443", "anything", 8443, true},
		{"admin*", "admin.example.com", 80, true},
		{"admin*:80", "admin.example.com", 81, false},
		{"[::1]:8080", "[::1]", 8080, true},
		{"[::1]:8080", "[::1]", 80, false},
		{"[::1]", "[::1]", 80, true},
		{"[::1]:*", "[::1]", 80, true},
		{"10.0.0.1:8080", "10.0.0.1", 8080, true},
	}
	for _, tc := range tests {
		t.Run(tc.value+" "+tc.host+":"+strconv.Itoa(int(tc.port)), func(t *testing.T) {
			t.Parallel()
			allow := mustPolicy(t, meta("ns", "hosts"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{Hosts: []string{tc.value}}}}}))
			if d := policyEngine(t, allow).Authorize(onHost(tc.host, tc.port), nil); d.Allowed != tc.match {
				t.Errorf("hosts: allowed = %v, want %v", d.Allowed, tc.match)
			}
			notHosts := mustPolicy(t, meta("ns", "not-hosts"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{NotHosts: []string{tc.value}}}}}))
			if d := policyEngine(t, notHosts).Authorize(onHost(tc.host, tc.port), nil); d.Allowed == tc.match {
				t.Errorf("notHosts: allowed = %v, want %v", d.Allowed, !tc.match)
			}
		})
	}
}

// security.md AZ (host normalization): a DENY on a host cannot be
// bypassed with a port or another spelling of the host, which the gateway
// normalizes before Authorize; only a value with a port narrows it.
func TestAZHostDenyPorts(t *testing.T) {
	t.Parallel()
	deny := func(hosts ...string) *Engine {
		return policyEngine(t, mustPolicy(t, meta("ns", "deny-admin"), ap("DENY", &Rule{To: []*RuleTo{{Operation: &Operation{Hosts: hosts}}}})))
	}
	anyPort, onePort := deny("admin.example.com"), deny("admin.example.com:8443")
	allowAny := policyEngine(t, mustPolicy(t, meta("ns", "allow"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{Hosts: []string{"api.example.com:*"}}}}})))
	tests := []struct {
		name    string
		e       *Engine
		host    string
		port    uint16
		allowed bool
	}{
		{"DENY without a port, port 80", anyPort, "admin.example.com", 80, false},
		{"DENY without a port, port 8443", anyPort, "admin.example.com", 8443, false},
		{"DENY without a port, port unknown", anyPort, "admin.example.com", 0, false},
		{"DENY without a port, other host", anyPort, "www.example.com", 8443, true},
		{"DENY with port 8443, port 8443", onePort, "admin.example.com", 8443, false},
		{"DENY with port 8443, port 443", onePort, "admin.example.com", 443, true},
		{"ALLOW with :*, port 443", allowAny, "api.example.com", 443, true},
		{"ALLOW with :*, port 8080", allowAny, "api.example.com", 8080, true},
		{"ALLOW with :*, other host", allowAny, "admin.example.com", 443, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := tc.e.Authorize(onHost(tc.host, tc.port), nil); d.Allowed != tc.allowed {
				t.Errorf("got %+v, want allowed=%v", d, tc.allowed)
			}
		})
	}
}

// Invalid port parts, and values with no host, are errors at their path.
func TestCompileHostErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, sub string }{
		{"admin.example.com:abc", "invalid port"},
		{"admin.example.com:70000", "invalid port"},
		{"admin.example.com:", "invalid port"},
		{"admin.example.com:0", "invalid port"},
		{"admin.example.com:+80", "invalid port"},
		{"admin.example.com:80*", "invalid port"},
		{"[::1]:x", "invalid port"},
		{"[::1", "closing ]"},
		{"[::1]8080", "want a port"},
		{"::1", "in brackets"},
		{"a:b:80", "in brackets"},
		{":8443", "no host name"},
		{".", "no host name"},
		{"*.", "no host name"},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			_, errs := CompileAuthorizationPolicy(meta("ns", "p"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{NotHosts: []string{"ok.example.com", tc.value}}}}}))
			wantErr(t, errs, "spec.rules[0].to[0].operation.notHosts[1]", tc.sub, false)
			_, errs = CompileAuthorizationPolicy(meta("ns", "p"), ap("ALLOW", &Rule{When: []*Condition{{Key: "request.headers[:authority]", Values: []string{tc.value}}}}))
			wantErr(t, errs, "spec.rules[0].when[0].values[0]", tc.sub, false)
		})
	}
}

// request.headers[host] and [:authority] read the normalized host; a
// port in a value is the Gateway port, as in hosts.
func TestWhenAuthority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, value string
		port       uint16
		match      bool
	}{
		{"request.headers[:authority]", "example.com", 8443, true},
		{"request.headers[:authority]", "EXAMPLE.com.", 8443, true},
		{"request.headers[:authority]", "example.com:8443", 8443, true},
		{"request.headers[:authority]", "example.com:8443", 80, false},
		{"request.headers[host]", "example.com:*", 80, true},
		{"request.headers[Host]", "*.com:80", 80, true},
		{"request.headers[host]", "*", 80, true},
		{"request.headers[host]", "example.org", 80, false},
	}
	for _, tc := range tests {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			if d := decide(t, whenEngine(t, &Condition{Key: tc.key, Values: []string{tc.value}}), onHost("example.com", tc.port)); d.Allowed != tc.match {
				t.Errorf("allowed = %v, want %v", d.Allowed, tc.match)
			}
		})
	}
}

// Legacy ServiceRole hosts and notHosts follow the same rules.
func TestLegacyRBACHosts(t *testing.T) {
	t.Parallel()
	roles := map[string]*ServiceRole{
		"default/api":   {Rules: []AccessRule{{Services: []string{"*"}, Hosts: []string{"API.example.com:8443"}}}},
		"default/other": {Rules: []AccessRule{{Services: []string{"*"}, NotHosts: []string{"*.example.com"}}}},
	}
	bindings := map[string]*ServiceRoleBinding{
		"default/api":   {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "api"}},
		"default/other": {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "other"}},
	}
	e := rbacEngine(t, &RbacConfig{Mode: "ON"}, roles, bindings)
	tests := []struct {
		host    string
		port    uint16
		allowed bool
	}{
		{"api.example.com", 8443, true},
		{"api.example.com", 443, false},
		{"www.example.com", 8443, false},
		{"www.example.org", 80, true},
	}
	for _, tc := range tests {
		if d := e.Authorize(to(onHost(tc.host, tc.port), productpage), nil); d.Allowed != tc.allowed {
			t.Errorf("%s port %d: allowed = %v, want %v", tc.host, tc.port, d.Allowed, tc.allowed)
		}
	}
	_, errs := CompileRBAC(&RbacConfig{Mode: "ON"}, map[string]*ServiceRole{"default/bad": {Rules: []AccessRule{{Services: []string{"*"}, Hosts: []string{"a:b"}}}}}, nil)
	if len(errs) == 0 {
		t.Error("a ServiceRole host with an invalid port compiled")
	}
}

// The realm is built from the normalized host, brackets included.
func TestRealmNormalizedHost(t *testing.T) {
	t.Parallel()
	e := jwtEngine(t, inlineRule(t))
	for host, want := range map[string]string{
		"api.example.com": `Bearer realm="https://api.example.com/x", error="invalid_token"`,
		"[::1]":           `Bearer realm="https://[::1]/x", error="invalid_token"`,
	} {
		r := get("/x", bearer("a.b.c")...)
		r.Scheme, r.Host, r.Port = "https", host, 8443
		_, resp := e.Authenticate(t.Context(), r)
		rec := httptest.NewRecorder()
		resp.Write(rec)
		if got := rec.Header().Get("Www-Authenticate"); got != want {
			t.Errorf("%s: www-authenticate = %q, want %q", host, got, want)
		}
	}
}

// Explain shows the host and port a hosts condition looked at.
func TestExplainHost(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, meta("ns", "p"), ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &Operation{Hosts: []string{"a.example.com:8443"}}}}}))
	tr := policyEngine(t, p).Explain(t.Context(), onHost("a.example.com", 443))
	if !contains(tr.Lines, `hosts failed: host "a.example.com" port 443 is not one of [a.example.com:8443]`) {
		t.Errorf("explanation:\n%s", tr)
	}
}
