package authz

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// compiler collects the problems of one resource, each an *api.FieldError
// with its YAML path, warnings wrapped with api.Warning.
type compiler struct{ errs []error }

func (c *compiler) errf(path, format string, args ...any) {
	c.errs = append(c.errs, api.Errorf(path, format, args...))
}

func (c *compiler) warnf(path, format string, args ...any) {
	c.errs = append(c.errs, api.Warning(api.Errorf(path, format, args...)))
}

// scope records which gateways a policy selects; NewEngine decides.
type scope struct {
	namespace  string
	selector   map[string]string // nil: every workload
	targetRefs []PolicyTargetReference
}

// scope validates selector, targetRef and targetRefs.
func (c *compiler) scope(ns string, sel *WorkloadSelector, ref *PolicyTargetReference, refs []PolicyTargetReference) scope {
	s := scope{namespace: ns}
	if sel != nil {
		if _, ok := sel.MatchLabels[""]; ok {
			c.errf("spec.selector.matchLabels", "empty label key")
		}
		s.selector = sel.MatchLabels
	}
	field := "spec.targetRefs"
	switch {
	case ref != nil && len(refs) > 0:
		c.errf("spec.targetRef", "only one of targetRef or targetRefs may be set")
	case ref != nil:
		refs, field = []PolicyTargetReference{*ref}, "spec.targetRef"
	}
	if len(refs) > 0 && sel != nil {
		c.errf("spec.selector", "selector and targetRef(s) are mutually exclusive")
	}
	for i, r := range refs {
		if path := field; r.Kind == "" || r.Name == "" {
			if ref == nil {
				path = fmt.Sprintf("%s[%d]", field, i)
			}
			c.errf(path, "kind and name are required")
		}
	}
	if len(refs) > 0 {
		c.warnf(field, "gatehouse is a single gateway: a policy with targetRef(s) applies to it as if it had no selector")
	}
	s.targetRefs = refs
	return s
}

// nonEmpty reports an error for every empty string of a list.
func (c *compiler) nonEmpty(path string, vs []string) bool {
	ok := true
	for i, v := range vs {
		if v == "" {
			c.errf(fmt.Sprintf("%s[%d]", path, i), "empty value is not allowed")
			ok = false
		}
	}
	return ok
}

// fill compiles vs into the matcher that cd.kind needs, validating each
// value. It returns false when a value was invalid.
func (c *compiler) fill(path string, cd *cond, vs []string, ns string) bool {
	if !c.nonEmpty(path, vs) {
		return false
	}
	ok := true
	cd.raw = append(cd.raw, vs...)
	for i, v := range vs {
		vp := fmt.Sprintf("%s[%d]", path, i)
		if err := cd.add(v, ns); err != nil {
			c.errf(vp, "%v", err)
			ok = false
		}
	}
	if cd.ipList != nil {
		cd.ips = newIPSet(cd.ipList)
		cd.ipList = nil
	}
	return ok
}

// add compiles one value into cd.
func (cd *cond) add(v, ns string) error {
	switch cd.kind {
	case kSourceIP, kRemoteIP, kDestIP:
		p, err := parseIPOrCIDR(v)
		if err != nil {
			return err
		}
		cd.ipList = append(cd.ipList, p)
	case kDestPort:
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return fmt.Errorf("invalid port %q: want a number 0-65535", v)
		}
		cd.ports = append(cd.ports, uint16(n))
	case kPath:
		m, err := compilePath(v)
		if err != nil {
			return err
		}
		cd.paths = append(cd.paths, m)
	case kReqPrincipal:
		cd.princs = append(cd.princs, newPrincipalPattern(v))
	case kServiceAccount:
		return cd.addServiceAccount(v, ns)
	case kHost:
		return cd.addHost(v)
	case kHeader:
		if cd.pseudo == pseudoAuthority {
			return cd.addHost(v)
		}
		if v == "*" {
			cd.present = true
			return nil
		}
		cd.pats = append(cd.pats, newPattern(v))
	default:
		cd.pats = append(cd.pats, newPattern(v))
	}
	return nil
}

// addHost compiles a hosts value, or a value of request.headers[host] or
// [:authority].
func (cd *cond) addHost(v string) error {
	h, err := parseHostPattern(v)
	if err != nil {
		return err
	}
	cd.hosts = append(cd.hosts, h)
	return nil
}

// addServiceAccount parses "ns/sa" or "sa" (in the policy's namespace).
func (cd *cond) addServiceAccount(v, ns string) error {
	if strings.Contains(v, "*") {
		return fmt.Errorf("service account %q: wildcards are not allowed", v)
	}
	sns, sa, ok := strings.Cut(v, "/")
	if !ok {
		sns, sa = ns, v
	}
	if sns == "" || sa == "" || strings.Contains(sa, "/") {
		return fmt.Errorf("service account %q: want \"namespace/name\" or \"name\"", v)
	}
	cd.sas = append(cd.sas, saRef{ns: sns, sa: sa})
	return nil
}

// list compiles one source or operation field into cl. not selects the
// notX form.
func (c *compiler) list(cl *clause, path, field string, vs []string, kind condKind, not bool, ns string) {
	if len(vs) == 0 {
		return // an empty list is the same as an absent one in protobuf
	}
	cd := cond{field: field, kind: kind, not: not}
	if c.fill(path+"."+field, &cd, vs, ns) {
		cl.conds = append(cl.conds, cd)
	}
}

// dryRun reads the istio.io/dry-run annotation.
func (c *compiler) dryRun(meta api.Meta) bool {
	v, ok := meta.Annotations["istio.io/dry-run"]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.errf("metadata.annotations.istio.io/dry-run", "invalid value %q: want \"true\" or \"false\"", v)
	}
	return b
}
