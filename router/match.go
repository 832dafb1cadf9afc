package router

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Request is what a route is matched on. The gateway fills it once per
// request; Path is the normalized path without the query string.
type Request struct {
	Method    string
	Scheme    string
	Authority string // as received, port included
	Path      string
	RawQuery  string
	Header    http.Header
	// Claims answers @request.auth.claims header matches; nil when the
	// request carries no verified JWT.
	Claims ClaimSource
}

// ClaimSource looks up a verified JWT claim by path (["groups"] or
// ["a", "b"] for nested claims). It returns the claim's string value, or
// each element of a list of strings.
type ClaimSource interface {
	Claim(path []string) ([]string, bool)
}

type matchKind uint8

const (
	matchAny matchKind = iota // no constraint
	matchExact
	matchPrefix
	matchRegex
	matchPresent
)

// String names the match kind, as in the YAML.
func (k matchKind) String() string {
	switch k {
	case matchExact:
		return "exact"
	case matchPrefix:
		return "prefix"
	case matchRegex:
		return "regex"
	case matchPresent:
		return "present"
	}
	return "any"
}

// strMatcher is a compiled StringMatch.
type strMatcher struct {
	kind matchKind
	s    string
	re   *regexp.Regexp
	fold bool // ignoreUriCase
}

func (m *strMatcher) match(v string) bool {
	switch m.kind {
	case matchExact:
		if m.fold {
			return strings.EqualFold(v, m.s)
		}
		return v == m.s
	case matchPrefix:
		if m.fold {
			return len(v) >= len(m.s) && strings.EqualFold(v[:len(m.s)], m.s)
		}
		return strings.HasPrefix(v, m.s)
	case matchRegex:
		return m.re.MatchString(v)
	}
	return true
}

// headerMatcher matches one header, or a JWT claim when claim is set.
type headerMatcher struct {
	name  string // canonical header key
	claim []string
	m     strMatcher
}

// value returns the header's values joined with "," (as Envoy sees a
// repeated header) and whether it is present.
func (h *headerMatcher) value(r *Request) (string, bool) {
	vs, ok := r.Header[h.name]
	switch {
	case !ok:
		return "", false
	case len(vs) == 1:
		return vs[0], true
	}
	return strings.Join(vs, ","), true
}

func (h *headerMatcher) match(r *Request) bool {
	if h.claim != nil {
		return h.matchClaim(r)
	}
	v, ok := h.value(r)
	if h.m.kind == matchPresent {
		return ok
	}
	return ok && h.m.match(v)
}

func (h *headerMatcher) matchClaim(r *Request) bool {
	if r.Claims == nil {
		return false
	}
	vals, ok := r.Claims.Claim(h.claim)
	if !ok {
		return false
	}
	if h.m.kind == matchPresent {
		return true
	}
	for _, v := range vals {
		if h.m.match(v) {
			return true
		}
	}
	return false
}

// without is the inverse used by withoutHeaders: a missing header counts as
// "" for value matchers, and a presence matcher matches when it is absent.
func (h *headerMatcher) without(r *Request) bool {
	if h.claim != nil {
		return !h.matchClaim(r)
	}
	v, ok := h.value(r)
	if h.m.kind == matchPresent {
		return !ok
	}
	return !h.m.match(v)
}

type queryMatcher struct {
	name string
	m    strMatcher
}

func (q *queryMatcher) match(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if unescapeQuery(k) != q.name {
			continue
		}
		if q.m.kind == matchPresent {
			return true
		}
		return q.m.match(unescapeQuery(v))
	}
	return false
}

// unescapeQuery decodes a query component, allocating only when it has
// escapes. Undecodable input is compared as written.
func unescapeQuery(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// condition is one compiled HTTPMatchRequest. Most match entries only
// constrain the path, so everything else lives behind rest, nil when
// unused: a table of 100 000 routes stays small.
type condition struct {
	uri  strMatcher
	rest *matchRest
}

// matchRest holds the conditions beyond the path.
type matchRest struct {
	scheme    strMatcher
	method    strMatcher
	authority strMatcher
	headers   []headerMatcher
	without   []headerMatcher
	query     []queryMatcher
}

func (m *matchRest) empty() bool {
	return m.scheme.kind == matchAny && m.method.kind == matchAny && m.authority.kind == matchAny &&
		len(m.headers) == 0 && len(m.without) == 0 && len(m.query) == 0
}

func (c *condition) match(r *Request) bool {
	return c.uri.match(r.Path) && (c.rest == nil || c.rest.match(r))
}

func (m *matchRest) match(r *Request) bool {
	if !m.scheme.match(r.Scheme) || !m.method.match(r.Method) || !m.authority.match(r.Authority) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].match(r) {
			return false
		}
	}
	for i := range m.without {
		if !m.without[i].without(r) {
			return false
		}
	}
	for i := range m.query {
		if !m.query[i].match(r.RawQuery) {
			return false
		}
	}
	return true
}

// catchAll reports whether c matches every request, as Istio decides it:
// a "/" prefix (or no uri) or ".*" regex and nothing else.
func (c *condition) catchAll() bool {
	uriAll := c.uri.kind == matchAny ||
		(c.uri.kind == matchPrefix && c.uri.s == "/") ||
		(c.uri.kind == matchRegex && (c.uri.re.String() == "^(?:.*)$" || c.uri.re.String() == "^(?:*)$"))
	return uriAll && c.rest == nil
}

// MaxRegexLength caps the regular expressions a configuration may hold, as
// Istio does, so that a hostile file cannot make compilation expensive.
const MaxRegexLength = 1024

// strMatch compiles a StringMatch. presence allows the empty form ({} or
// regex "*"), which headers and query parameters use to mean "present".
func (c *compiler) strMatch(path string, m *StringMatch, presence bool) strMatcher {
	if m == nil {
		return strMatcher{}
	}
	n := 0
	for _, p := range []*string{m.Exact, m.Prefix, m.Regex} {
		if p != nil {
			n++
		}
	}
	switch {
	case n > 1:
		c.errf(path, "only one of exact, prefix or regex may be set")
		return strMatcher{}
	case n == 0 && presence:
		return strMatcher{kind: matchPresent}
	case n == 0:
		c.errf(path, "one of exact, prefix or regex is required")
		return strMatcher{}
	case m.Exact != nil:
		return strMatcher{kind: matchExact, s: *m.Exact}
	case m.Prefix != nil:
		return strMatcher{kind: matchPrefix, s: *m.Prefix}
	case presence && *m.Regex == "*":
		return strMatcher{kind: matchPresent}
	}
	re, err := c.regex(*m.Regex)
	if err != nil {
		c.errf(path+".regex", "%v", err)
		return strMatcher{}
	}
	return strMatcher{kind: matchRegex, re: re}
}

// CompileRegex compiles an RE2 expression that must match a whole string,
// as Envoy's safe_regex does.
func CompileRegex(expr string) (*regexp.Regexp, error) {
	if len(expr) > MaxRegexLength {
		return nil, fmt.Errorf("regex is %d characters long; the limit is %d", len(expr), MaxRegexLength)
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		// Report the error against what the user wrote.
		if _, err2 := regexp.Compile(expr); err2 != nil {
			err = err2
		}
		return nil, fmt.Errorf("regex does not compile: %w", err)
	}
	return re, nil
}
