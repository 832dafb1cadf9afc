package authz

import "fmt"

// clause is one from[].source or to[].operation: its conditions are ANDed.
type clause struct {
	path  string // "from[0].source", for explanations
	conds []cond
}

// rule is one compiled rule of a policy (or of a legacy RBAC binding).
type rule struct {
	index int      // position in spec.rules
	scope []cond   // legacy RBAC: the ServiceRole's services
	from  []clause // ORed; none means any source
	to    []clause // ORed; none means any operation
	when  []cond   // ANDed
	// httpOnly is set when the rule uses an HTTP-only field or key. On a
	// TCP connection an ALLOW rule like that is dropped, while DENY and
	// AUDIT rules ignore those fields (Istio's TCP rule).
	httpOnly bool
	// onlyHTTP is set when every condition is HTTP-only, so that on TCP a
	// DENY rule would match every connection.
	onlyHTTP bool
}

// ruleTag names a rule in explanations without formatting anything on
// the request path.
type ruleTag struct {
	policy string
	index  int
}

// String returns "ns/name rules[i]".
func (t ruleTag) String() string { return fmt.Sprintf("%s rules[%d]", t.policy, t.index) }

// match evaluates the rule. allow selects the TCP treatment of ALLOW
// rules.
func (ru *rule) match(x *evalCtx, allow bool, tag ruleTag) bool {
	if x.r.TCP && allow && ru.httpOnly {
		if x.tr != nil {
			x.tr.line("  %s: dropped on TCP: it uses an HTTP-only field", tag)
		}
		return false
	}
	for i := range ru.scope {
		if !x.check(&ru.scope[i], tag, "") {
			return false
		}
	}
	if !x.anyClause(ru.from, tag) || !x.anyClause(ru.to, tag) {
		return false
	}
	for i := range ru.when {
		if !x.check(&ru.when[i], tag, "") {
			return false
		}
	}
	if x.tr != nil {
		x.tr.line("  %s: matched", tag)
	}
	return true
}

// anyClause reports whether cls is empty or one clause matches.
func (x *evalCtx) anyClause(cls []clause, tag ruleTag) bool {
	if len(cls) == 0 {
		return true
	}
	for i := range cls {
		if x.clauseMatch(&cls[i], tag) {
			return true
		}
	}
	return false
}

func (x *evalCtx) clauseMatch(cl *clause, tag ruleTag) bool {
	for i := range cl.conds {
		if !x.check(&cl.conds[i], tag, cl.path) {
			return false
		}
	}
	return true
}

// check evaluates one condition; where is the clause path ("" for scope
// and when conditions). HTTP-only conditions are skipped on TCP: only DENY
// and AUDIT rules get here with them.
func (x *evalCtx) check(c *cond, tag ruleTag, where string) bool {
	if x.r.TCP && c.kind.httpOnly() {
		if x.tr != nil {
			x.tr.line("  %s: %s ignored on TCP", tag, joinField(where, c.field))
		}
		return true
	}
	ok := c.eval(x)
	if !ok && x.tr != nil {
		x.tr.condFailed(tag, joinField(where, c.field), c, x)
	}
	return ok
}

func joinField(where, field string) string {
	if where == "" {
		return field
	}
	return where + "." + field
}

// computeHTTPOnly sets the rule's TCP flags from its conditions.
func (ru *rule) computeHTTPOnly() {
	n, h := 0, 0
	count := func(cs []cond) {
		for i := range cs {
			n++
			if cs[i].kind.httpOnly() {
				h++
			}
		}
	}
	count(ru.when)
	for _, cl := range ru.from {
		count(cl.conds)
	}
	for _, cl := range ru.to {
		count(cl.conds)
	}
	ru.httpOnly = h > 0
	ru.onlyHTTP = n > 0 && h == n
}
