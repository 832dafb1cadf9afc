package authz

import (
	"testing"
)

func rbacEngine(t *testing.T, cfg *RbacConfig, roles map[string]*ServiceRole, bindings map[string]*ServiceRoleBinding) *Engine {
	t.Helper()
	rb, errs := CompileRBAC(cfg, roles, bindings)
	noErrors(t, errs)
	a := mustAuthn(t, &RequestAuthentication{JWTRules: []*JWTRule{inlineRule(t)}})
	return NewEngine(Options{Now: fixedNow}, Config{RBAC: rb, RequestAuthentications: []*Authn{a}})
}

// istio-api.md 8.5 with the upstream examples: a property on a request
// header, and user "*".
func TestLegacyRBAC(t *testing.T) {
	t.Parallel()
	roles := map[string]*ServiceRole{
		"default/reader": {Rules: []AccessRule{{Services: []string{"productpage.default.svc.cluster.local"}, Methods: []string{"GET"}, Paths: []string{"/api*"}}}},
		"default/all":    {Rules: []AccessRule{{Services: []string{"*"}, Methods: []string{"*"}}}},
		"other/all":      {Rules: []AccessRule{{Services: []string{"*"}}}},
	}
	bindings := map[string]*ServiceRoleBinding{
		"default/fred":     {Subjects: []Subject{{Properties: map[string]string{"request.headers[H1]": "FRED"}}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "all"}},
		"default/everyone": {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "reader"}},
		"other/everyone":   {Subjects: []Subject{{User: "*"}}, Role: "/all"},
		"default/admins":   {Subjects: []Subject{{Groups: []string{"admins"}}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "all"}},
	}
	e := rbacEngine(t, &RbacConfig{Mode: "ON"}, roles, bindings)
	admin := mint(t, testKeys().a, "k1", claims("groups", []string{"admins"}))
	tests := []struct {
		name    string
		r       *Request
		allowed bool
	}{
		{"user * reads /api", to(get("/api/x"), productpage), true},
		{"user * may not POST", to(withMethod(get("/api/x"), "POST"), productpage), false},
		{"user * outside its paths", to(get("/admin"), productpage), false},
		{"H1: FRED may do anything", to(withMethod(get("/admin", "H1", "FRED"), "DELETE"), productpage), true},
		{"H1: BOB may not", to(get("/admin", "H1", "BOB"), productpage), false},
		{"JWT groups claim", to(get("/admin", bearer(admin)...), productpage), true},
		{"role services scope the rule", to(get("/api/x"), "reviews.default.svc.cluster.local"), false},
		{"other namespace's binding", to(get("/x"), "db.other.svc.cluster.local"), true},
		{"covered, but no role scopes to a non-service host", to(get("/admin"), "api.example.com"), false},
		{"unrouted is not covered", get("/admin"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if d := decide(t, e, tc.r); d.Allowed != tc.allowed {
				t.Errorf("got %+v, want allowed=%v", d, tc.allowed)
			}
		})
	}
}

func withMethod(r *Request, m string) *Request {
	r.Method = m
	return r
}

func TestRBACModes(t *testing.T) {
	t.Parallel()
	roles := map[string]*ServiceRole{"default/r": {Rules: []AccessRule{{Services: []string{"*"}, Paths: []string{"/ok"}}}}}
	enforced := map[string]*ServiceRoleBinding{"default/b": {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "r"}}}
	permissive := map[string]*ServiceRoleBinding{"default/b": {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "r"}, Mode: "PERMISSIVE"}}
	tests := []struct {
		name     string
		cfg      *RbacConfig
		bindings map[string]*ServiceRoleBinding
		dest     string
		path     string
		allowed  bool
		shadowOK bool
	}{
		{"OFF", &RbacConfig{Mode: "OFF"}, enforced, productpage, "/no", true, true},
		{"no config", nil, enforced, productpage, "/no", true, true},
		{"inclusion covers", &RbacConfig{Mode: "ON_WITH_INCLUSION", Inclusion: &RbacTargets{Namespaces: []string{"default"}}}, enforced, productpage, "/no", false, true},
		{"inclusion elsewhere", &RbacConfig{Mode: "ON_WITH_INCLUSION", Inclusion: &RbacTargets{Services: []string{"x.default.svc.cluster.local"}}}, enforced, productpage, "/no", true, true},
		{"exclusion", &RbacConfig{Mode: "ON_WITH_EXCLUSION", Exclusion: &RbacTargets{Services: []string{productpage}}}, enforced, productpage, "/no", true, true},
		{"enforcement PERMISSIVE", &RbacConfig{Mode: "ON", EnforcementMode: "PERMISSIVE"}, enforced, productpage, "/no", true, false},
		{"enforcement PERMISSIVE, would allow", &RbacConfig{Mode: "ON", EnforcementMode: "PERMISSIVE"}, enforced, productpage, "/ok", true, true},
		{"binding PERMISSIVE: default deny stays", &RbacConfig{Mode: "ON"}, permissive, productpage, "/ok", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := decide(t, rbacEngine(t, tc.cfg, roles, tc.bindings), to(get(tc.path), tc.dest))
			if d.Allowed != tc.allowed || (d.DryRun.Evaluated && d.DryRun.Allowed != tc.shadowOK) {
				t.Errorf("got %+v, want allowed=%v shadow=%v", d, tc.allowed, tc.shadowOK)
			}
		})
	}
}

func TestRBACSubjectsRequireMTLS(t *testing.T) {
	t.Parallel()
	roles := map[string]*ServiceRole{"default/r": {Rules: []AccessRule{{Services: []string{"*"}}}}}
	bindings := map[string]*ServiceRoleBinding{"default/b": {Subjects: []Subject{{User: "cluster.local/ns/default/sa/web"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "r"}}}
	e := rbacEngine(t, &RbacConfig{Mode: "ON"}, roles, bindings)
	r := to(get("/"), productpage)
	if d := decide(t, e, r); d.Allowed {
		t.Error("a named user matched without mTLS")
	}
	r.PeerPrincipal = "cluster.local/ns/default/sa/web"
	if d := decide(t, e, r); !d.Allowed || d.Policy != "default/b" {
		t.Errorf("peer identity not matched: %+v", d)
	}
}

func TestRBACCompileErrors(t *testing.T) {
	t.Parallel()
	roles := map[string]*ServiceRole{
		"default/empty": {},
		"default/bad":   {Rules: []AccessRule{{Constraints: []RoleConstraint{{Key: "request.nope", Values: []string{"x"}}, {Key: "destination.labels[app]", Values: []string{"x"}}}}}},
	}
	bindings := map[string]*ServiceRoleBinding{
		"default/nosubject": {RoleRef: &RoleRef{Kind: "ServiceRole", Name: "bad"}},
		"default/missing":   {Subjects: []Subject{{User: "*"}}, RoleRef: &RoleRef{Kind: "ServiceRole", Name: "nope"}},
		"default/kind":      {Subjects: []Subject{{}}, RoleRef: &RoleRef{Kind: "ClusterRole", Name: "bad"}, Mode: "SOMETIMES"},
	}
	_, errs := CompileRBAC(&RbacConfig{Mode: "ON_WITH_INCLUSION", EnforcementMode: "LAX"}, roles, bindings)
	want := []struct{ kind, key, path, sub string }{
		{"RbacConfig", "", "spec.inclusion", "required"},
		{"RbacConfig", "", "spec.enforcementMode", "unknown value"},
		{"ServiceRole", "default/empty", "spec.rules", "at least one rule"},
		{"ServiceRole", "default/bad", "spec.rules[0].services", "required"},
		{"ServiceRole", "default/bad", "spec.rules[0].constraints[0].key", "unknown attribute"},
		{"ServiceRole", "default/bad", "spec.rules[0].constraints[1].key", "never matches"},
		{"ServiceRoleBinding", "default/nosubject", "spec.subjects", "at least one subject"},
		{"ServiceRoleBinding", "default/missing", "spec.roleRef.name", "not found"},
		{"ServiceRoleBinding", "default/kind", "spec.roleRef.kind", "must be ServiceRole"},
		{"ServiceRoleBinding", "default/kind", "spec.mode", "unknown mode"},
		{"ServiceRoleBinding", "default/kind", "spec.subjects[0]", "a subject needs"},
	}
	for _, w := range want {
		found := false
		for _, err := range errs {
			re, ok := err.(*ResourceError)
			if ok && re.Kind == w.kind && re.Key == w.key && contains([]string{re.Error()}, w.path+": ") && contains([]string{re.Error()}, w.sub) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s %s error at %s containing %q in %v", w.kind, w.key, w.path, w.sub, errs)
		}
	}
}
