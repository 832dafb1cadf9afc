package authz

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ResourceError names the legacy RBAC resource that a problem belongs to.
// Err is usually an *api.FieldError whose path is relative to that
// resource; errors.As finds both.
type ResourceError struct {
	// Kind is RbacConfig, ServiceRole or ServiceRoleBinding.
	Kind string
	// Key is "namespace/name" ("" for the RbacConfig).
	Key string
	Err error
}

// Error formats the error as "Kind ns/name: path: what".
func (e *ResourceError) Error() string {
	if e.Key == "" {
		return e.Kind + ": " + e.Err.Error()
	}
	return e.Kind + " " + e.Key + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ResourceError) Unwrap() error { return e.Err }

// RBAC is compiled legacy rbac.istio.io configuration: which destinations
// it covers, and one ALLOW policy per ServiceRoleBinding. It is immutable.
type RBAC struct {
	mode     string
	incl     *RbacTargets
	excl     *RbacTargets
	dryRun   bool      // enforcementMode PERMISSIVE
	bindings []*Policy // Action ALLOW; DryRun for PERMISSIVE bindings
}

// roleRule is a compiled AccessRule: the services it scopes to and the
// operation (with constraints) it grants.
type roleRule struct {
	scope cond
	to    clause
}

// CompileRBAC compiles the legacy RBAC resources of one load. cfg is the
// RbacConfig or ClusterRbacConfig (nil means RBAC is OFF); roles and
// bindings are keyed "namespace/name". Each problem is a *ResourceError
// wrapping an *api.FieldError. A binding whose role does not exist is
// skipped with a warning, as Istio did.
func CompileRBAC(cfg *RbacConfig, roles map[string]*ServiceRole, bindings map[string]*ServiceRoleBinding) (*RBAC, []error) {
	var errs []error
	wrap := func(kind, key string, es []error) {
		for _, e := range es {
			errs = append(errs, &ResourceError{Kind: kind, Key: key, Err: e})
		}
	}
	c := &compiler{}
	rb := c.rbacConfig(cfg)
	wrap("RbacConfig", "", c.errs)
	compiled := map[string][]roleRule{}
	for _, key := range slices.Sorted(maps.Keys(roles)) {
		c := &compiler{}
		compiled[key] = c.roleRules("spec.rules", roles[key].Rules, nsOf(key))
		wrap("ServiceRole", key, c.errs)
	}
	for _, key := range slices.Sorted(maps.Keys(bindings)) {
		c := &compiler{}
		if p := c.binding(key, bindings[key], compiled, rb.dryRun); p != nil {
			rb.bindings = append(rb.bindings, p)
		}
		wrap("ServiceRoleBinding", key, c.errs)
	}
	return rb, errs
}

func (c *compiler) rbacConfig(cfg *RbacConfig) *RBAC {
	rb := &RBAC{mode: "OFF"}
	if cfg == nil {
		return rb
	}
	switch cfg.Mode {
	case "", "OFF":
	case "ON":
		rb.mode = cfg.Mode
	case "ON_WITH_INCLUSION", "ON_WITH_EXCLUSION":
		rb.mode = cfg.Mode
		t, field := cfg.Inclusion, "inclusion"
		if cfg.Mode == "ON_WITH_EXCLUSION" {
			t, field = cfg.Exclusion, "exclusion"
		}
		if t == nil || len(t.Services)+len(t.Namespaces) == 0 {
			c.errf("spec."+field, "required for mode %s", cfg.Mode)
		}
		rb.incl, rb.excl = cfg.Inclusion, cfg.Exclusion
	default:
		c.errf("spec.mode", "unknown mode %q: want OFF, ON, ON_WITH_INCLUSION or ON_WITH_EXCLUSION", cfg.Mode)
	}
	switch cfg.EnforcementMode {
	case "", "ENFORCED":
	case "PERMISSIVE":
		rb.dryRun = true
	default:
		c.errf("spec.enforcementMode", "unknown value %q: want ENFORCED or PERMISSIVE", cfg.EnforcementMode)
	}
	return rb
}

// covers reports whether RBAC applies to the destination service. An
// unrouted request (no destination) is never covered.
func (rb *RBAC) covers(dest string) bool {
	if rb == nil || dest == "" {
		return false
	}
	switch rb.mode {
	case "ON":
		return true
	case "ON_WITH_INCLUSION":
		return rb.incl.has(dest)
	case "ON_WITH_EXCLUSION":
		return !rb.excl.has(dest)
	}
	return false
}

func (t *RbacTargets) has(dest string) bool {
	if t == nil {
		return false
	}
	return slices.ContainsFunc(t.Services, func(s string) bool { return strings.EqualFold(s, dest) }) ||
		slices.Contains(t.Namespaces, destNamespace(dest))
}

// roleRules compiles AccessRules; ns is the role's namespace, which its
// services are in.
func (c *compiler) roleRules(path string, rules []AccessRule, ns string) []roleRule {
	if len(rules) == 0 {
		c.errf(path, "at least one rule is required")
	}
	var out []roleRule
	for i := range rules {
		p := fmt.Sprintf("%s[%d]", path, i)
		r := &rules[i]
		rr := roleRule{scope: cond{field: "services", kind: kDestService, ns: ns}, to: clause{path: "to[0].operation"}}
		if len(r.Services) == 0 {
			c.errf(p+".services", "required")
		}
		c.fill(p+".services", &rr.scope, r.Services, ns)
		c.list(&rr.to, p, "hosts", r.Hosts, kHost, false, ns)
		c.list(&rr.to, p, "notHosts", r.NotHosts, kHost, true, ns)
		c.list(&rr.to, p, "paths", r.Paths, kPath, false, ns)
		c.list(&rr.to, p, "notPaths", r.NotPaths, kPath, true, ns)
		c.list(&rr.to, p, "methods", r.Methods, kMethod, false, ns)
		c.list(&rr.to, p, "notMethods", r.NotMethods, kMethod, true, ns)
		c.list(&rr.to, p, "ports", portStrings(r.Ports), kDestPort, false, ns)
		c.list(&rr.to, p, "notPorts", portStrings(r.NotPorts), kDestPort, true, ns)
		if len(r.Ports)+len(r.NotPorts) > 0 {
			c.warnf(p+".ports", "at a gateway ports are the listener port, not the service port")
		}
		for j, k := range r.Constraints {
			kp := fmt.Sprintf("%s.constraints[%d]", p, j)
			if cd, ok := c.legacyCond(kp, k.Key, k.Values, ns); ok {
				rr.to.conds = append(rr.to.conds, cd)
			}
		}
		out = append(out, rr)
	}
	return out
}

// legacyCond compiles a constraint or a subject property.
func (c *compiler) legacyCond(path, key string, vs []string, ns string) (cond, bool) {
	cd, err := parseKey(key, true)
	if err == errNeverMatches {
		c.warnf(path+".key", "%s: %v", key, err)
	} else if err != nil {
		c.errf(path+".key", "%v", err)
		return cond{}, false
	}
	if len(vs) == 0 {
		c.errf(path+".values", "required")
		return cond{}, false
	}
	cd.field = key
	return cd, c.fill(path+".values", &cd, vs, ns)
}

func portStrings(ps []int32) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprint(p))
	}
	return out
}

func nsOf(key string) string {
	ns, _, _ := strings.Cut(key, "/")
	return ns
}
