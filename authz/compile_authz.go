package authz

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// Action is what a matching policy does.
type Action string

// The AuthorizationPolicy actions.
const (
	ActionAllow  Action = "ALLOW"
	ActionDeny   Action = "DENY"
	ActionAudit  Action = "AUDIT"
	ActionCustom Action = "CUSTOM"
)

// ErrCustomUnsupported is the error for action CUSTOM.
var ErrCustomUnsupported = fmt.Errorf("action CUSTOM needs an external authorizer, which gatehouse does not implement")

// Policy is a compiled AuthorizationPolicy (or a legacy RBAC binding). It
// is immutable and may be shared by every Engine built from one load.
type Policy struct {
	// Key is "namespace/name".
	Key string
	// Action is the policy's action.
	Action Action
	// DryRun is set by the istio.io/dry-run annotation: the policy is
	// evaluated and its verdict recorded, but never enforced.
	DryRun bool
	scope  scope
	rules  []*rule
}

// ErrDenyHTTPOnly is the warning for a DENY rule made only of HTTP
// fields, which matches every connection of a TCP port. A gateway without
// TCP ports may drop it.
var ErrDenyHTTPOnly = errors.New("uses only HTTP fields: on a TCP port this DENY rule matches every connection")

// CompileAuthorizationPolicy validates spec as Istio does and compiles its
// rules. Every problem is returned, each as an *api.FieldError with its
// YAML path; warnings are wrapped with api.Warning. A nil spec is the
// empty spec "{}", an ALLOW policy that allows nothing.
func CompileAuthorizationPolicy(meta api.Meta, spec *AuthorizationPolicy) (*Policy, []error) {
	if spec == nil {
		spec = &AuthorizationPolicy{}
	}
	c := &compiler{}
	p := &Policy{Key: meta.Key(), DryRun: c.dryRun(meta)}
	p.scope = c.scope(meta.Namespace, spec.Selector, spec.TargetRef, spec.TargetRefs)
	p.Action = c.action(spec)
	if spec.Rules == nil && p.Action == ActionDeny {
		c.errf("spec.rules", "a DENY policy without rules would never match; add rules (use `- {}` to deny everything)")
	}
	for i, r := range spec.Rules {
		if ru := c.rule(fmt.Sprintf("spec.rules[%d]", i), i, r, meta.Namespace); ru != nil {
			p.rules = append(p.rules, ru)
			if p.Action == ActionDeny && ru.onlyHTTP {
				c.errs = append(c.errs, api.Warning(&api.FieldError{Path: fmt.Sprintf("spec.rules[%d]", i), Err: ErrDenyHTTPOnly}))
			}
		}
	}
	return p, c.errs
}

func (c *compiler) action(spec *AuthorizationPolicy) Action {
	a := Action(spec.Action)
	switch a {
	case "":
		a = ActionAllow
	case ActionAllow, ActionDeny, ActionAudit:
	case ActionCustom:
		c.errs = append(c.errs, &api.FieldError{Path: "spec.action", Err: ErrCustomUnsupported})
	default:
		c.errf("spec.action", "unknown action %q: want ALLOW, DENY, AUDIT or CUSTOM", spec.Action)
	}
	if spec.Provider != nil && a != ActionCustom {
		c.errf("spec.provider", "provider is only allowed with action CUSTOM")
	}
	return a
}

// rule compiles one rule; path is "spec.rules[i]".
func (c *compiler) rule(path string, index int, r *Rule, ns string) *rule {
	if r == nil {
		c.errf(path, "a rule must not be null")
		return nil
	}
	ru := &rule{index: index}
	if r.From != nil && len(r.From) == 0 {
		c.errf(path+".from", "must not be empty when set")
	}
	for j, f := range r.From {
		fp := fmt.Sprintf("%s.from[%d]", path, j)
		switch {
		case f == nil:
			c.errf(fp, "must not be null")
		case f.Source == nil:
			c.errf(fp+".source", "required")
		default:
			ru.from = append(ru.from, c.source(fp+".source", strings.TrimPrefix(fp, path+".")+".source", f.Source, ns))
		}
	}
	if r.To != nil && len(r.To) == 0 {
		c.errf(path+".to", "must not be empty when set")
	}
	for j, t := range r.To {
		tp := fmt.Sprintf("%s.to[%d]", path, j)
		switch {
		case t == nil:
			c.errf(tp, "must not be null")
		case t.Operation == nil:
			c.errf(tp+".operation", "required")
		default:
			ru.to = append(ru.to, c.operation(tp+".operation", strings.TrimPrefix(tp, path+".")+".operation", t.Operation))
		}
	}
	for k, w := range r.When {
		ru.when = append(ru.when, c.condition(fmt.Sprintf("%s.when[%d]", path, k), k, w)...)
	}
	ru.computeHTTPOnly()
	return ru
}

// source compiles a Source; path is its YAML path, rel the short form used
// in explanations.
func (c *compiler) source(path, rel string, s *Source, ns string) clause {
	cl := clause{path: rel}
	all := [][]string{s.Principals, s.NotPrincipals, s.RequestPrincipals, s.NotRequestPrincipals,
		s.Namespaces, s.NotNamespaces, s.ServiceAccounts, s.NotServiceAccounts, s.TrustDomains,
		s.NotTrustDomains, s.IPBlocks, s.NotIPBlocks, s.RemoteIPBlocks, s.NotRemoteIPBlocks}
	if allEmpty(all) {
		c.errf(path, "must not be empty")
	}
	if len(s.ServiceAccounts)+len(s.NotServiceAccounts) > 0 &&
		len(s.Principals)+len(s.NotPrincipals)+len(s.Namespaces)+len(s.NotNamespaces) > 0 {
		c.errf(path+".serviceAccounts", "cannot be combined with principals or namespaces")
	}
	if len(s.ServiceAccounts) > 16 || len(s.NotServiceAccounts) > 16 {
		c.errf(path+".serviceAccounts", "at most 16 service accounts are allowed")
	}
	c.list(&cl, path, "principals", s.Principals, kPrincipal, false, ns)
	c.list(&cl, path, "notPrincipals", s.NotPrincipals, kPrincipal, true, ns)
	c.list(&cl, path, "requestPrincipals", s.RequestPrincipals, kReqPrincipal, false, ns)
	c.list(&cl, path, "notRequestPrincipals", s.NotRequestPrincipals, kReqPrincipal, true, ns)
	c.list(&cl, path, "namespaces", s.Namespaces, kNamespace, false, ns)
	c.list(&cl, path, "notNamespaces", s.NotNamespaces, kNamespace, true, ns)
	c.list(&cl, path, "serviceAccounts", s.ServiceAccounts, kServiceAccount, false, ns)
	c.list(&cl, path, "notServiceAccounts", s.NotServiceAccounts, kServiceAccount, true, ns)
	c.list(&cl, path, "trustDomains", s.TrustDomains, kTrustDomain, false, ns)
	c.list(&cl, path, "notTrustDomains", s.NotTrustDomains, kTrustDomain, true, ns)
	c.list(&cl, path, "ipBlocks", s.IPBlocks, kSourceIP, false, ns)
	c.list(&cl, path, "notIpBlocks", s.NotIPBlocks, kSourceIP, true, ns)
	c.list(&cl, path, "remoteIpBlocks", s.RemoteIPBlocks, kRemoteIP, false, ns)
	c.list(&cl, path, "notRemoteIpBlocks", s.NotRemoteIPBlocks, kRemoteIP, true, ns)
	return cl
}

// operation compiles an Operation.
func (c *compiler) operation(path, rel string, o *Operation) clause {
	cl := clause{path: rel}
	if allEmpty([][]string{o.Hosts, o.NotHosts, o.Ports, o.NotPorts, o.Methods, o.NotMethods, o.Paths, o.NotPaths}) {
		c.errf(path, "must not be empty")
	}
	c.list(&cl, path, "hosts", o.Hosts, kHost, false, "")
	c.list(&cl, path, "notHosts", o.NotHosts, kHost, true, "")
	c.list(&cl, path, "ports", o.Ports, kDestPort, false, "")
	c.list(&cl, path, "notPorts", o.NotPorts, kDestPort, true, "")
	c.list(&cl, path, "methods", o.Methods, kMethod, false, "")
	c.list(&cl, path, "notMethods", o.NotMethods, kMethod, true, "")
	c.list(&cl, path, "paths", o.Paths, kPath, false, "")
	c.list(&cl, path, "notPaths", o.NotPaths, kPath, true, "")
	c.checkMethods(path+".methods", o.Methods)
	c.checkMethods(path+".notMethods", o.NotMethods)
	return cl
}

// checkMethods warns about methods that can never match: gatehouse
// rejects methods that are not upper case before authorization.
func (c *compiler) checkMethods(path string, ms []string) {
	for i, m := range ms {
		if m != "*" && m != strings.ToUpper(m) {
			c.warnf(fmt.Sprintf("%s[%d]", path, i), "method %q is not upper case; methods match case-sensitively, so it never matches", m)
		}
	}
}

func allEmpty(lists [][]string) bool {
	for _, l := range lists {
		if len(l) > 0 {
			return false
		}
	}
	return true
}
