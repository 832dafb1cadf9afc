package authz

import "net/http"

// Authorize decides whether the request may proceed, in Istio's order
// (istio-api.md 8.2): a legacy Policy's origin check (401), then DENY
// policies, then — if any ALLOW policy (or covering legacy RBAC) applies —
// at least one ALLOW rule must match. AUDIT policies and dry-run policies
// only annotate the Decision. id is what Authenticate returned (may be
// nil). Authorize allocates nothing.
func (e *Engine) Authorize(r *Request, id *Identity) Decision {
	if e == nil || !e.authz {
		return Decision{Allowed: true, Reason: ReasonNoEngine, Rule: -1, DryRun: DryRun{Rule: -1}}
	}
	return e.authorize(r, id, nil)
}

func (e *Engine) authorize(r *Request, id *Identity, tr *tracer) Decision {
	x := evalCtx{r: r, tr: tr}
	if id.Authenticated() {
		x.tok, x.principal = id, true
	}
	d := Decision{Allowed: true, Rule: -1, DryRun: DryRun{Rule: -1}}
	if e.legacyCheck(&x, id, &d) {
		return d
	}
	covered := e.rbac.covers(r.Destination)
	if p, _ := x.first(e.audit, false); p != nil {
		d.Audit, d.AuditPolicy = true, p.Key
	}
	e.shadow(&x, &d, covered)
	if p, i := x.first(e.deny, false); p != nil {
		return deny(d, ReasonDenyMatched, ActionDeny, p.Key, i)
	}
	enforceRBAC := covered && !e.rbac.dryRun
	if len(e.allow) == 0 && !enforceRBAC {
		d.Reason = ReasonNoAllowPolicy
		return d
	}
	p, i := x.first(e.allow, true)
	if p == nil && enforceRBAC {
		p, i = x.first(e.rbacOn, true)
	}
	if p == nil {
		return deny(d, ReasonNoAllowMatched, "", "", -1)
	}
	d.Reason, d.Action, d.Policy, d.Rule = ReasonAllowMatched, ActionAllow, p.Key, i
	return d
}

func deny(d Decision, reason string, a Action, policy string, rule int) Decision {
	d.Allowed, d.Status, d.Body = false, http.StatusForbidden, BodyRBACDenied
	d.Reason, d.Action, d.Policy, d.Rule = reason, a, policy, rule
	return d
}

// first returns the first policy with a matching rule, and that rule's
// index in spec.rules.
func (x *evalCtx) first(ps []*Policy, allow bool) (*Policy, int) {
	for _, p := range ps {
		if x.tr != nil {
			x.tr.policy(p)
		}
		for _, ru := range p.rules {
			if ru.match(x, allow, ruleTag{p.Key, ru.index}) {
				return p, ru.index
			}
		}
	}
	return nil, -1
}

// shadow evaluates the dry-run policies into d.DryRun.
func (e *Engine) shadow(x *evalCtx, d *Decision, covered bool) {
	rbacShadow := covered && (e.rbac.dryRun || len(e.rbacShadow) > 0)
	if len(e.shadowDeny)+len(e.shadowAlw) == 0 && !rbacShadow {
		return
	}
	if x.tr != nil {
		x.tr.line("dry-run policies:")
	}
	s := &d.DryRun
	s.Evaluated, s.Allowed = true, true
	if p, i := x.first(e.shadowDeny, false); p != nil {
		s.Allowed, s.Policy, s.Rule = false, p.Key, i
		return
	}
	if len(e.shadowAlw) == 0 && !rbacShadow {
		return
	}
	p, i := x.first(e.shadowAlw, true)
	if p == nil && rbacShadow {
		p, i = x.first(e.rbacShadow, true)
		if p == nil && e.rbac.dryRun {
			p, i = x.first(e.rbacOn, true)
		}
	}
	if p == nil {
		s.Allowed = false
		return
	}
	s.Policy, s.Rule = p.Key, i
}

// legacyCheck applies the legacy Policy that covers the destination: if
// one of its origins is enforced for the path, a token verified for one of
// them is required (unless originIsOptional); otherwise the request gets
// 401 "Origin authentication failed.". It reports whether it denied. A
// verified origin supplies request.auth.* when no RequestAuthentication
// token did, and always with principalBinding USE_ORIGIN.
func (e *Engine) legacyCheck(x *evalCtx, id *Identity, d *Decision) bool {
	ent := e.legacyFor(x.r.Destination)
	if ent == nil || len(ent.origins) == 0 || x.r.TCP {
		return false // origin authentication is HTTP only
	}
	triggered := false
	var ok *Identity
	for i, o := range ent.pol.origins {
		if !o.enforced(x.r.Path) {
			continue
		}
		triggered = true
		if id != nil && ent.origins[i] < len(id.origins) && id.origins[ent.origins[i]] != nil {
			ok = id.origins[ent.origins[i]]
			break
		}
	}
	switch {
	case !triggered:
		return false
	case ok == nil && ent.pol.originOptional:
		return false
	case ok == nil:
		d.Allowed, d.Status, d.Body = false, http.StatusUnauthorized, BodyOriginAuthFailed
		d.Reason, d.Policy = ReasonOriginFailed, ent.pol.Key
		if x.tr != nil {
			x.tr.line("legacy Policy %s: no verified origin token for %s", ent.pol.Key, x.r.Path)
		}
		return true
	case ent.pol.useOrigin:
		x.tok, x.principal = ok, true
	case x.tok == nil:
		x.tok = ok
	}
	return false
}

// legacyFor returns the most specific legacy Policy for the destination:
// one that targets the service, else its namespace's, else the
// MeshPolicy.
func (e *Engine) legacyFor(dest string) *legacyEntry {
	var best *legacyEntry
	level := 0
	for i := range e.legacy {
		if l := e.legacy[i].pol.appliesTo(dest); l > level {
			best, level = &e.legacy[i], l
		}
	}
	return best
}
