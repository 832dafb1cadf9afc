package authz

import (
	"slices"
	"strings"
)

// Identity is what Authenticate learned from the request's one token. Its
// token fields describe that token when it verified against a
// RequestAuthentication rule; they are empty when only legacy Policy
// origins verified it (see Authenticated). An Identity is owned by one
// request and must not be modified.
type Identity struct {
	// Issuer is the verified token's "iss".
	Issuer string
	// Subject is its "sub".
	Subject string
	// Audiences are its "aud" values.
	Audiences []string
	// Presenter is its "azp".
	Presenter string
	// Claims is the decoded payload; numbers are json.Number.
	Claims map[string]any

	// split are the claims split on spaces for matching.
	split []string
	// origins holds, per legacy origin of the engine, the identity its
	// token verified to, or nil.
	origins []*Identity
	// token is set when the fields above come from a RequestAuthentication
	// token.
	token bool
}

// Authenticated reports whether a token verified against a
// RequestAuthentication rule. It is false for a nil Identity.
func (id *Identity) Authenticated() bool { return id != nil && id.token }

// Principal returns "iss/sub", Istio's request.auth.principal, or "" when
// no RequestAuthentication token verified.
func (id *Identity) Principal() string {
	if !id.Authenticated() {
		return ""
	}
	return id.Issuer + "/" + id.Subject
}

// Claim returns the claim at path (["groups"], or ["a", "b"] for a nested
// claim): a string claim as one value, a list as its string elements.
// Numbers, booleans and objects never match and give false. "scope",
// "permission" and the rule's spaceDelimitedClaims are split on spaces. It
// satisfies the router's ClaimSource and is safe on a nil Identity.
func (id *Identity) Claim(path []string) ([]string, bool) {
	if id == nil {
		return nil, false
	}
	var out []string
	id.eachClaimValue(path, func(s string) bool {
		out = append(out, s)
		return false
	})
	return out, len(out) > 0
}

// lookup returns the claim value at path.
func (id *Identity) lookup(path []string) (any, bool) {
	if id == nil || len(path) == 0 {
		return nil, false
	}
	var v any = id.Claims
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// eachClaimValue calls f with every string value of the claim until f
// returns true, and reports whether it did.
func (id *Identity) eachClaimValue(path []string, f func(string) bool) bool {
	v, ok := id.lookup(path)
	if !ok {
		return false
	}
	split := len(path) == 1 && slices.Contains(id.split, path[0])
	switch v := v.(type) {
	case string:
		if !split {
			return f(v)
		}
		for v != "" {
			var w string
			w, v, _ = strings.Cut(v, " ")
			if w != "" && f(w) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && f(s) {
				return true
			}
		}
	}
	return false
}

// claimMatch reports whether a value of the claim matches one of ps.
func (id *Identity) claimMatch(path []string, ps []pattern) bool {
	return id.eachClaimValue(path, func(s string) bool { return anyMatch(ps, s) })
}

// audienceMatch reports whether one of the audiences matches one of ps.
func (id *Identity) audienceMatch(ps []pattern) bool {
	for _, a := range id.Audiences {
		if anyMatch(ps, a) {
			return true
		}
	}
	return false
}

// principalMatch matches iss and sub against requestPrincipals patterns.
func (id *Identity) principalMatch(ps []principalPattern) bool {
	for i := range ps {
		if ps[i].match(id.Issuer, id.Subject) {
			return true
		}
	}
	return false
}
