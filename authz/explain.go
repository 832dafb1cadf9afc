package authz

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Trace is a human-readable, rule-by-rule account of how the engine
// treated one request, for `gatehouse explain`.
type Trace struct {
	// Lines are the steps, in evaluation order.
	Lines []string
	// Identity is what authentication produced (nil without a token).
	Identity *Identity
	// Rejected is set when authentication rejected the request; Decision
	// is then the zero value.
	Rejected *Response
	// Decision is the authorization outcome.
	Decision Decision
}

// String returns the lines joined by newlines.
func (t Trace) String() string { return strings.Join(t.Lines, "\n") }

// Explain runs Authenticate and Authorize on a copy of r (its headers are
// not modified) and records every step: each token found and its verdict,
// each policy and rule, and for a rule that did not match the field that
// failed with the value the request had. It is slow and meant for tools.
func (e *Engine) Explain(ctx context.Context, r *Request) Trace {
	cp := *r
	cp.Header = r.Header.Clone()
	tr := &tracer{}
	if e == nil {
		tr.line("no engine: everything is allowed")
		return Trace{Lines: tr.lines, Decision: e.Authorize(&cp, nil)}
	}
	id, resp := e.authenticate(ctx, &cp, tr)
	if resp != nil {
		tr.line("result: rejected by authentication: %d %q", resp.Status, resp.Body)
		return Trace{Lines: tr.lines, Rejected: resp}
	}
	if id.Authenticated() {
		tr.line("request.auth.principal: %s", logSafe(id.Principal()))
	}
	var d Decision
	if e.authz {
		d = e.authorize(&cp, id, tr)
	} else {
		d = e.Authorize(&cp, id)
	}
	tr.result(d)
	return Trace{Lines: tr.lines, Identity: id, Decision: d}
}

// tracer collects explanation lines. Its methods are only called when
// explaining; on the request path the tracer is nil and callers guard
// every call, so that no arguments are boxed.
type tracer struct{ lines []string }

func (t *tracer) line(format string, args ...any) {
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

// token records the verdict on one token; a nil tracer ignores it.
func (t *tracer) token(l location, tok *token, rule string, err *authnError) {
	if t == nil {
		return
	}
	what := "token"
	if tok != nil {
		what = fmt.Sprintf("token (iss %s, kid %s, alg %s)", logSafe(tok.iss), logSafe(tok.kid), tok.alg)
	}
	if rule != "" {
		rule = " against " + rule
	}
	if err == nil {
		t.line("authenticate: %s at %s%s: verified", what, l, rule)
		return
	}
	t.line("authenticate: %s at %s%s: %d %q", what, l, rule, err.status, err.body)
}

func (t *tracer) policy(p *Policy) {
	mode := ""
	if p.DryRun {
		mode = " (dry-run)"
	}
	t.line("%s policy %s%s: %d rule(s)", p.Action, p.Key, mode, len(p.rules))
}

func (t *tracer) condFailed(tag ruleTag, field string, c *cond, x *evalCtx) {
	want := strings.Join(c.raw, ", ")
	if c.not {
		t.line("  %s: %s failed: %s matches one of [%s]", tag, field, c.observed(x), want)
		return
	}
	t.line("  %s: %s failed: %s is not one of [%s]", tag, field, c.observed(x), want)
}

func (t *tracer) result(d Decision) {
	switch {
	case d.Allowed && d.Policy != "":
		t.line("result: allowed (%s) by %s rules[%d]", d.Reason, d.Policy, d.Rule)
	case d.Allowed:
		t.line("result: allowed (%s)", d.Reason)
	case d.Policy != "" && d.Rule >= 0:
		t.line("result: denied %d %q (%s) by %s rules[%d]", d.Status, d.Body, d.Reason, d.Policy, d.Rule)
	default:
		t.line("result: denied %d %q (%s)", d.Status, d.Body, d.Reason)
	}
	if d.Audit {
		t.line("audit: marked by %s", d.AuditPolicy)
	}
	if d.DryRun.Evaluated {
		t.line("dry-run: would be allowed=%v (%s)", d.DryRun.Allowed, d.DryRun.Policy)
	}
}

// observed describes the attribute a condition looked at.
func (c *cond) observed(x *evalCtx) string {
	r := x.r
	switch c.kind {
	case kPrincipal, kNamespace, kServiceAccount, kTrustDomain:
		if r.PeerPrincipal == "" {
			return "peer identity (none: no mTLS)"
		}
		return "peer identity " + logSafe(r.PeerPrincipal)
	case kSourceIP:
		return "source.ip " + r.SourceIP.String()
	case kRemoteIP:
		return "remote.ip " + r.RemoteIP.String()
	case kDestIP, kDestPort:
		return "destination " + r.Local.String()
	case kSNI:
		return "sni " + logSafe(r.SNI)
	case kDestService, kDestName, kDestNamespace:
		return "destination service " + logSafe(r.Destination)
	case kHost:
		return fmt.Sprintf("host %s port %d", logSafe(r.Host), r.Port)
	case kMethod:
		return "method " + logSafe(r.Method)
	case kPath:
		return "path " + logSafe(r.Path)
	case kHeader:
		return c.observedHeader(r)
	case kNever:
		return "an attribute gatehouse never has"
	}
	if x.tok == nil {
		return "request.auth (no verified token)"
	}
	return "request.auth of " + logSafe(x.tok.Issuer+"/"+x.tok.Subject)
}

// observedHeader describes the header, or the request field standing for
// a pseudo-header, that a request.headers condition looked at.
func (c *cond) observedHeader(r *Request) string {
	switch c.pseudo {
	case pseudoAuthority:
		return fmt.Sprintf("host %s port %d", logSafe(r.Host), r.Port)
	case pseudoMethod:
		return "method " + logSafe(r.Method)
	case pseudoPath:
		return "path " + logSafe(r.Path)
	case pseudoScheme:
		return "scheme " + logSafe(r.Scheme)
	}
	return fmt.Sprintf("header %s %q", c.header, r.Header[c.header])
}

// logSafe quotes s for a log line or an explanation, escaping control
// characters and truncating it, so that attacker-chosen values (a token's
// kid or issuer) cannot forge log lines or flood them.
func logSafe(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
