package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
)

// Authenticate verifies every token the request carries, with Envoy
// jwt_authn semantics as Istio configures it (istio-api.md 7.2): a request
// without a token passes with a nil Identity; a token in a configured
// location must verify against a rule for its exact issuer, or the request
// is rejected (Response non-nil, 401, or 403 for a wrong audience). On
// success it edits r.Header in place: client copies of output headers are
// removed, the header that carried a verified token is removed unless the
// rule sets forwardOriginalToken, and the output headers are set.
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

// authState collects what verified tokens produce until all are checked.
type authState struct {
	id      *Identity
	removes []string
	outputs []headerValue
}

type headerValue struct{ name, value string }

func (e *Engine) authenticate(ctx context.Context, r *Request, tr *tracer) (*Identity, *Response) {
	if r.Header != nil {
		e.SanitizeHeaders(r.Header)
	}
	var st authState
	for i := range e.locs {
		g := &e.locs[i]
		for _, raw := range g.loc.extract(r) {
			if err := e.verifyAt(ctx, g, raw, &st, tr); err != nil {
				e.logReject(ctx, g.loc, raw, err)
				return nil, rejection(r, err)
			}
		}
	}
	if tr != nil && len(e.locs) > 0 && st.id == nil {
		tr.line("authenticate: no token found")
	}
	for _, h := range st.removes {
		delete(r.Header, h)
	}
	if r.Header == nil && len(st.outputs) > 0 {
		r.Header = http.Header{}
	}
	for _, o := range st.outputs {
		r.Header[o.name] = []string{o.value}
	}
	return st.id, nil
}

// verifyAt verifies one token found at a location. It returns the error
// to reject the request with, or nil.
func (e *Engine) verifyAt(ctx context.Context, g *locGroup, raw string, st *authState, tr *tracer) *authnError {
	t := e.tokens.get(raw)
	cached := t != nil
	if !cached {
		var perr *authnError
		if t, perr = parseToken(raw); perr != nil {
			tr.token(g.loc, nil, "", perr)
			if len(g.ra) > 0 {
				return perr
			}
			return nil
		}
	}
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
			st.success(p, g.loc, t, len(e.origins))
			if !cached {
				e.tokens.put(t)
			}
			first = nil
			break
		}
		if first == nil {
			first = err
		}
	}
	legacy := e.verifyOrigins(ctx, g, t, st, tr, cached || st.id != nil && st.id.token)
	switch {
	case first != nil:
		return first
	case !matched && !legacy && len(g.ra) > 0:
		tr.token(g.loc, t, "", errUnknownIssuer)
		return errUnknownIssuer
	}
	return nil
}

// verifyOrigins checks the token against legacy origins for its issuer
// and records those it verifies for. It reports whether any origin was
// configured for the issuer.
func (e *Engine) verifyOrigins(ctx context.Context, g *locGroup, t *token, st *authState, tr *tracer, cached bool) bool {
	found := false
	for _, p := range g.legacy {
		if p.rule.issuer != t.iss {
			continue
		}
		found = true
		err := p.verify(ctx, t, e.now)
		tr.token(g.loc, t, p.rule.source, err)
		if err == nil {
			st.ensure(len(e.origins)).origins[p.origin] = identityOf(t, p.rule.split)
			if !cached {
				e.tokens.put(t)
				cached = true
			}
		}
	}
	return found
}

func (st *authState) ensure(n int) *Identity {
	if st.id == nil {
		st.id = &Identity{origins: make([]*Identity, n)}
	}
	return st.id
}

// success records a token verified by a RequestAuthentication rule.
func (st *authState) success(p *provider, l location, t *token, origins int) {
	id := st.ensure(origins)
	if !id.token {
		o := id.origins
		*id = *identityOf(t, p.rule.split)
		id.origins, id.token = o, true
	}
	if !p.rule.forward && l.kind == locHeader {
		st.removes = append(st.removes, l.name)
	}
	if h := p.rule.payloadHeader; h != "" {
		st.outputs = append(st.outputs, headerValue{h, t.payloadSeg})
	}
	for _, ch := range p.rule.claimHeaders {
		if v, ok := claimHeaderValue(t.claims, ch.claim); ok {
			st.outputs = append(st.outputs, headerValue{ch.header, v})
		}
	}
}

func identityOf(t *token, split []string) *Identity {
	return &Identity{Issuer: t.iss, Subject: t.sub, Audiences: t.aud, Presenter: t.azp, Claims: t.claims, split: split}
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
