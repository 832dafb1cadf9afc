package authz

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// binding compiles one ServiceRoleBinding with its role into an ALLOW
// policy whose rules are the cross product of subjects (from) and role
// rules (to), each scoped to the role's services.
func (c *compiler) binding(key string, b *ServiceRoleBinding, roles map[string][]roleRule, dryRun bool) *Policy {
	if b == nil {
		b = &ServiceRoleBinding{}
	}
	ns := nsOf(key)
	p := &Policy{Key: key, Action: ActionAllow, DryRun: dryRun}
	switch b.Mode {
	case "", "ENFORCED":
	case "PERMISSIVE":
		p.DryRun = true
	default:
		c.errf("spec.mode", "unknown mode %q: want ENFORCED or PERMISSIVE", b.Mode)
	}
	if len(b.Subjects) == 0 {
		c.errf("spec.subjects", "at least one subject is required")
	}
	var from []clause
	for i := range b.Subjects {
		from = append(from, c.subject(fmt.Sprintf("spec.subjects[%d]", i), i, &b.Subjects[i], ns))
	}
	rules, ok := c.bindingRole(b, roles, ns)
	if !ok {
		return nil
	}
	for i, rr := range rules {
		ru := &rule{index: i, scope: []cond{rr.scope}, from: from, to: []clause{rr.to}}
		ru.computeHTTPOnly()
		p.rules = append(p.rules, ru)
	}
	return p
}

// bindingRole resolves the binding's role: inline actions, roleRef or
// role. ok is false when the binding grants nothing.
func (c *compiler) bindingRole(b *ServiceRoleBinding, roles map[string][]roleRule, ns string) ([]roleRule, bool) {
	name := b.Role
	if b.RoleRef != nil {
		if b.RoleRef.Kind != "ServiceRole" {
			c.errf("spec.roleRef.kind", "must be ServiceRole, not %q", b.RoleRef.Kind)
		}
		if b.Role != "" {
			c.errf("spec.role", "role and roleRef are mutually exclusive")
		}
		name = b.RoleRef.Name
	}
	switch {
	case len(b.Actions) > 0 && name != "" && name != "*":
		c.errf("spec.actions", "actions and a role are mutually exclusive")
		return nil, false
	case len(b.Actions) > 0:
		return c.roleRules("spec.actions", b.Actions, ns), true
	case name == "":
		c.errf("spec.roleRef", "required")
		return nil, false
	}
	key := ns + "/" + strings.TrimPrefix(name, "/")
	rules, ok := roles[key]
	if !ok {
		c.warnf("spec.roleRef.name", "ServiceRole %s not found: the binding grants nothing", key)
	}
	return rules, ok
}

// subject compiles one subject into a source clause; its properties
// become conditions of the same clause.
func (c *compiler) subject(path string, i int, s *Subject, ns string) clause {
	cl := clause{path: fmt.Sprintf("subjects[%d]", i)}
	if s.User == "" && s.Group == "" && len(s.Properties) == 0 && allEmpty([][]string{s.Names, s.NotNames,
		s.Groups, s.NotGroups, s.Namespaces, s.NotNamespaces, s.IPs, s.NotIPs}) {
		c.errf(path, "a subject needs at least one of user, group, names, groups, namespaces, ips or properties")
	}
	if s.User != "" && s.User != "*" {
		c.list(&cl, path, "user", []string{s.User}, kPrincipal, false, ns)
	}
	groups := func(field string, vs []string, not bool) {
		cd := cond{field: field, kind: kClaim, claim: []string{"groups"}, not: not}
		if len(vs) > 0 && c.fill(path+"."+field, &cd, vs, ns) {
			cl.conds = append(cl.conds, cd)
		}
	}
	if s.Group != "" {
		groups("group", []string{s.Group}, false)
	}
	groups("groups", s.Groups, false)
	groups("notGroups", s.NotGroups, true)
	c.list(&cl, path, "names", s.Names, kPrincipal, false, ns)
	c.list(&cl, path, "notNames", s.NotNames, kPrincipal, true, ns)
	c.list(&cl, path, "namespaces", s.Namespaces, kNamespace, false, ns)
	c.list(&cl, path, "notNamespaces", s.NotNamespaces, kNamespace, true, ns)
	c.list(&cl, path, "ips", s.IPs, kSourceIP, false, ns)
	c.list(&cl, path, "notIps", s.NotIPs, kSourceIP, true, ns)
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		if cd, ok := c.legacyCond(path+".properties."+k, k, []string{s.Properties[k]}, ns); ok {
			cl.conds = append(cl.conds, cd)
		}
	}
	return cl
}
