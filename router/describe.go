package router

import (
	"strconv"
	"strings"
)

// RouteInfo is a route as a config dump shows it. Fields that do not apply
// are empty.
type RouteInfo struct {
	Name           string   `json:"name,omitempty"`
	VirtualService string   `json:"virtualService"`
	Delegate       string   `json:"delegate,omitempty"`
	Index          int      `json:"index"`
	Match          string   `json:"match"`
	Action         string   `json:"action"`
	Destinations   []string `json:"destinations,omitempty"`
	Redirect       string   `json:"redirect,omitempty"`
	DirectResponse string   `json:"directResponse,omitempty"`
	Rewrite        string   `json:"rewrite,omitempty"`
	Authority      string   `json:"authority,omitempty"`
	Timeout        string   `json:"timeout,omitempty"`
	Retry          string   `json:"retry,omitempty"`
	Fault          string   `json:"fault,omitempty"`
	CORS           string   `json:"cors,omitempty"`
	Mirrors        []string `json:"mirrors,omitempty"`
	// RequestHeaders and ResponseHeaders are the route-level operations;
	// each destination's merged operations follow it in Destinations.
	RequestHeaders  []string `json:"requestHeaders,omitempty"`
	ResponseHeaders []string `json:"responseHeaders,omitempty"`
}

// Describe summarizes the route for a config dump. It allocates; do not
// call it per request.
func (rt *Route) Describe() RouteInfo {
	a := rt.Action
	ri := RouteInfo{
		Name: rt.Name, VirtualService: rt.VirtualService, Delegate: rt.Delegate, Index: rt.Index,
		Match: rt.cond.String(), Action: a.Kind.String(), Authority: a.Authority,
		RequestHeaders: a.RequestHeaders.Strings(), ResponseHeaders: a.ResponseHeaders.Strings(),
	}
	if a.Timeout > 0 {
		ri.Timeout = a.Timeout.String()
	}
	switch a.Kind {
	case ActionRedirect:
		ri.Redirect = a.Redirect.String()
	case ActionDirectResponse:
		ri.DirectResponse = a.DirectResponse.String()
	default:
		ri.Retry = a.Retry.String()
		ri.Destinations = describeDests(rt.Forward)
	}
	if a.Rewrite != nil {
		ri.Rewrite = a.Rewrite.String()
	}
	if a.Fault != nil {
		ri.Fault = a.Fault.String()
	}
	if a.CORS != nil {
		ri.CORS = a.CORS.String()
	}
	for i := range rt.Mirrors {
		ri.Mirrors = append(ri.Mirrors, rt.Mirrors[i].String())
	}
	return ri
}

func describeDests(f *Forward) []string {
	if f == nil {
		return nil
	}
	var out []string
	for i := range f.Dests {
		d := &f.Dests[i]
		s := d.String() + " weight=" + strconv.Itoa(int(d.Weight))
		if d.Authority != "" {
			s += " authority=" + d.Authority
		}
		if ops := d.RequestHeaders.Strings(); len(ops) > 0 {
			s += " request=[" + strings.Join(ops, "; ") + "]"
		}
		if ops := d.ResponseHeaders.Strings(); len(ops) > 0 {
			s += " response=[" + strings.Join(ops, "; ") + "]"
		}
		out = append(out, s)
	}
	return out
}

// String describes the route on one line for logs.
func (rt *Route) String() string {
	s := rt.VirtualService + " http[" + strconv.Itoa(rt.Index) + "]"
	if rt.Name != "" {
		s += " " + strconv.Quote(rt.Name)
	}
	return s + " " + rt.cond.String() + " -> " + rt.Action.Kind.String()
}

// String writes the match conditions, "*" when there are none.
func (c *condition) String() string {
	var parts []string
	if c.uri.kind != matchAny {
		parts = append(parts, "uri "+c.uri.String())
	}
	if m := c.rest; m != nil {
		for _, f := range []struct {
			name string
			m    *strMatcher
		}{{"scheme", &m.scheme}, {"method", &m.method}, {"authority", &m.authority}} {
			if f.m.kind != matchAny {
				parts = append(parts, f.name+" "+f.m.String())
			}
		}
		for _, h := range m.headers {
			parts = append(parts, "header "+h.key()+" "+h.m.String())
		}
		for _, h := range m.without {
			parts = append(parts, "without header "+h.key()+" "+h.m.String())
		}
		for _, q := range m.query {
			parts = append(parts, "query "+q.name+" "+q.m.String())
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, " && ")
}

func (h *headerMatcher) key() string {
	if h.claim != nil {
		return "@request.auth.claims[" + strings.Join(h.claim, "][") + "]"
	}
	return h.name
}

// String writes the matcher as "exact \"x\"", "prefix \"/a\" (ignoreUriCase)"
// and so on.
func (m *strMatcher) String() string {
	var s string
	switch m.kind {
	case matchAny, matchPresent:
		return m.kind.String()
	case matchRegex:
		src := strings.TrimSuffix(strings.TrimPrefix(m.re.String(), "^(?:"), ")$")
		s = "regex " + strconv.Quote(src)
	default:
		s = m.kind.String() + " " + strconv.Quote(m.s)
	}
	if m.fold {
		s += " (ignoreUriCase)"
	}
	return s
}
