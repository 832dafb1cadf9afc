package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
)

// Authenticate checks the request's token, with Envoy jwt_authn
// semantics as Istio configures it (istio-api.md 7.2): a request without
// a token passes with a nil Identity; a token in a configured location
// must verify against a rule for its exact issuer, or the request is
// rejected (Response non-nil, 401, or 403 for a wrong audience). A request
// may carry one token: more than one, counted over every location of
// every rule (see location.scan), is rejected with 401 BodyJwtNotUnique,
// so that policy and the upstream always see the same identity.
//
// On success it edits r in place: client copies of output headers are
// removed from r.Header; unless the verifying rule sets
// forwardOriginalToken, the header that carried the token is removed
// from r.Header, or the query parameter that carried it from r.RawQuery
// (the caller forwards r.RawQuery upstream); and the output headers are
// set from the token. A rejected request is left as it was, apart from
// the output headers' removal.
//
// Tokens of legacy Policy origins are verified too but never cause a
// rejection here; Authorize decides once the destination is known.
//
// It may wait, within ctx, for a remote key set's first fetch that is
// already in flight; it never waits otherwise.
func (e *Engine) Authenticate(ctx context.Context, r *Request) (*Identity, *Response) {
	if e == nil {
		return nil, nil
	}
	return e.authenticate(ctx, r, nil)
}

func (e *Engine) authenticate(ctx context.Context, r *Request, tr *tracer) (*Identity, *Response) {
	if r.Header != nil {
		e.SanitizeHeaders(r.Header)
	}
	g, raw, n := e.find(r, tr)
	switch {
	case n > 1:
		if tr != nil {
			tr.line("authenticate: %d tokens in the request: %d %q", n, errNotUnique.status, errNotUnique.body)
		}
		e.logNotUnique(ctx, n)
		return nil, rejection(r, errNotUnique)
	case n == 0:
		if tr != nil && len(e.locs) > 0 {
			tr.line("authenticate: no token found")
		}
		return nil, nil
	}
	v, err := e.verifyAt(ctx, g, raw, tr)
	if err != nil {
		e.logReject(ctx, g.loc, raw, err)
		return nil, rejection(r, err)
	}
	if v.p != nil {
		v.p.apply(r, g.loc, v.t)
	}
	return v.id, nil
}

// verdict is what the request's one token verified to.
type verdict struct {
	id *Identity // nil when nothing verified the token
	p  *provider // the RequestAuthentication rule that verified it, or nil
	t  *token
}

// find counts the tokens at every location and returns the location and
// text of the first one with the count.
func (e *Engine) find(r *Request, tr *tracer) (g *locGroup, raw string, n int) {
	for i := range e.locs {
		c, tok := e.locs[i].loc.scan(r)
		if c == 0 {
			continue
		}
		if tr != nil {
			tr.line("authenticate: %d token(s) at %s", c, e.locs[i].loc)
		}
		if n == 0 {
			g, raw = &e.locs[i], tok
		}
		n += c
	}
	return g, raw, n
}

// verifyAt verifies the request's one token, found at g, and returns
// what it verified to, or the error to reject the request with.
func (e *Engine) verifyAt(ctx context.Context, g *locGroup, raw string, tr *tracer) (verdict, *authnError) {
	t := e.tokens.get(raw)
	cached := t != nil
	if !cached {
		var perr *authnError
		if t, perr = parseToken(raw); perr != nil {
			tr.token(g.loc, nil, "", perr)
			if len(g.ra) > 0 {
				return verdict{}, perr
			}
			return verdict{}, nil
		}
	}
	p, matched, err := e.verifyRules(ctx, g, t, tr)
	if err != nil {
		return verdict{}, err
	}
	origins, legacy := e.verifyOrigins(ctx, g, t, tr)
	if !matched && !legacy && len(g.ra) > 0 {
		tr.token(g.loc, t, "", errUnknownIssuer)
		return verdict{}, errUnknownIssuer
	}
	if p == nil && origins == nil {
		return verdict{}, nil
	}
	if !cached {
		e.tokens.put(t)
	}
	id := &Identity{origins: origins}
	if p != nil {
		id.fill(t, p.rule.split)
		id.token = true
	}
	return verdict{id: id, p: p, t: t}, nil
}

// verifyRules checks the token against the RequestAuthentication rules
// for its issuer at g. It returns the first rule that verifies it, whether
// any rule was for its issuer, and the first failure when none verified.
func (e *Engine) verifyRules(ctx context.Context, g *locGroup, t *token, tr *tracer) (*provider, bool, *authnError) {
	matched := false
	var first *authnError
	for _, p := range g.ra {
		if p.rule.issuer != "" && p.rule.issuer != t.iss {
			continue
		}
		matched = true
		err := p.verify(ctx, t, e.now)
		tr.token(g.loc, t, p.rule.source, err)
		if err == nil {
			return p, true, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, matched, first
}

// verifyOrigins checks the token against the legacy origins for its
// issuer at g. It returns, per legacy origin of the engine, the identity
// the token verified to (nil when none verified), and whether any origin
// was configured for the issuer.
func (e *Engine) verifyOrigins(ctx context.Context, g *locGroup, t *token, tr *tracer) ([]*Identity, bool) {
	var out []*Identity
	found := false
	for _, p := range g.legacy {
		if p.rule.issuer != t.iss {
			continue
		}
		found = true
		err := p.verify(ctx, t, e.now)
		tr.token(g.loc, t, p.rule.source, err)
		if err == nil {
			if out == nil {
				out = make([]*Identity, len(e.origins))
			}
			o := &Identity{}
			o.fill(t, p.rule.split)
			out[p.origin] = o
		}
	}
	return out, found
}

// apply edits the request for a token the provider verified at l: unless
// the rule forwards the original token, the header or query parameter
// carrying it is removed (a cookie is kept, as Envoy keeps it), and the
// output headers are set from it.
func (p *provider) apply(r *Request, l location, t *token) {
	switch {
	case p.rule.forward:
	case l.kind == locHeader:
		delete(r.Header, l.name)
	case l.kind == locParam:
		r.RawQuery = removeParam(r.RawQuery, l.name)
	}
	if p.rule.payloadHeader == "" && len(p.rule.claimHeaders) == 0 {
		return
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if h := p.rule.payloadHeader; h != "" {
		r.Header[h] = []string{t.payloadSeg}
	}
	for _, ch := range p.rule.claimHeaders {
		if v, ok := claimHeaderValue(t.claims, ch.claim); ok {
			r.Header[ch.header] = []string{v}
		}
	}
}

// fill sets the token fields of id from t.
func (id *Identity) fill(t *token, split []string) {
	id.Issuer, id.Subject, id.Audiences, id.Presenter = t.iss, t.sub, t.aud, t.azp
	id.Claims, id.split = t.claims, split
}

// claimHeaderValue renders a claim as Envoy's claim_to_headers does:
// strings as they are, numbers and booleans as text, objects and lists as
// base64 JSON. A string with control characters (CR, LF, NUL ...) is not
// copied, so a claim can never inject a header.
func claimHeaderValue(claims map[string]any, path []string) (string, bool) {
	id := Identity{Claims: claims}
	v, ok := id.lookup(path)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, !hasControl(v)
	case json.Number:
		return string(v), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case map[string]any, []any:
		b, err := json.Marshal(v)
		return base64.StdEncoding.EncodeToString(b), err == nil
	}
	return "", false
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// logReject logs a rejected token at debug level. The token itself is
// never logged; only its location and the reason.
func (e *Engine) logReject(ctx context.Context, l location, raw string, err *authnError) {
	if !e.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	e.log.LogAttrs(ctx, slog.LevelDebug, "jwt rejected",
		slog.String("location", l.String()), slog.Int("token_bytes", len(raw)),
		slog.Int("status", err.status), slog.String("reason", err.body))
}

// logNotUnique logs at debug level a request rejected for carrying n
// tokens; the tokens are never logged.
func (e *Engine) logNotUnique(ctx context.Context, n int) {
	if !e.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	e.log.LogAttrs(ctx, slog.LevelDebug, "jwt rejected", slog.Int("tokens", n),
		slog.Int("status", errNotUnique.status), slog.String("reason", errNotUnique.body))
}
