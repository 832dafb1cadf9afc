package router

import (
	"fmt"
	"strconv"
	"strings"
)

// Mismatch explains why the route does not take r: the first of its
// conditions that failed, with what the request had there. It returns ""
// when the route matches. It allocates; it is meant for tools such as
// `gatehouse explain`, never the request path.
func (rt *Route) Mismatch(r *Request) string {
	if rt.cond.match(r) {
		return ""
	}
	return rt.cond.mismatch(r)
}

// MatchString describes the route's conditions ("uri prefix "/api" &&
// method exact "GET""), "*" when it takes everything.
func (rt *Route) MatchString() string { return rt.cond.String() }

func (c *condition) mismatch(r *Request) string {
	if !c.uri.match(r.Path) {
		return fmt.Sprintf("uri %s: path is %s", c.uri.String(), strconv.Quote(r.Path))
	}
	m := c.rest
	if m == nil {
		return ""
	}
	for _, f := range []struct {
		name, value string
		m           *strMatcher
	}{{"scheme", r.Scheme, &m.scheme}, {"method", r.Method, &m.method}, {"authority", r.Authority, &m.authority}} {
		if !f.m.match(f.value) {
			return fmt.Sprintf("%s %s: request has %s", f.name, f.m.String(), strconv.Quote(f.value))
		}
	}
	for i := range m.headers {
		if h := &m.headers[i]; !h.match(r) {
			return "header " + h.key() + " " + h.m.String() + ": " + h.observed(r)
		}
	}
	for i := range m.without {
		if h := &m.without[i]; !h.without(r) {
			return "withoutHeaders " + h.key() + " " + h.m.String() + ": " + h.observed(r)
		}
	}
	for i := range m.query {
		if q := &m.query[i]; !q.match(r.RawQuery) {
			return "queryParams " + q.name + " " + q.m.String() + ": query is " + strconv.Quote(r.RawQuery)
		}
	}
	return ""
}

// observed describes what the request had for a header or claim matcher.
func (h *headerMatcher) observed(r *Request) string {
	if h.claim != nil {
		if r.Claims == nil {
			return "no verified token"
		}
		vals, ok := r.Claims.Claim(h.claim)
		if !ok {
			return "the token has no such claim"
		}
		return "the claim is " + strconv.Quote(strings.Join(vals, ","))
	}
	v, ok := h.value(r)
	if !ok {
		return "absent"
	}
	return "value is " + strconv.Quote(v)
}
