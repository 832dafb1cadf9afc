package router

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// HeaderOps is a compiled list of header operations, applied in order. It
// is immutable and shared.
//
// Each Istio headers block becomes one level whose removals run before its
// set and add operations (Envoy's HeaderParser). For a route with a single
// destination, route-level and destination-level blocks form one level,
// route first, so a destination's set wins. With several weighted
// destinations, the destination's level runs before the route's, so a
// route-level set wins. Set operations of a block are sorted by name, then
// add operations, as Istio emits them.
type HeaderOps struct{ steps []headerStep }

type stepKind uint8

const (
	stepRemove stepKind = iota
	stepSet
	stepAdd
)

type headerStep struct {
	kind  stepKind
	name  string    // canonical
	value []string  // a literal value: len 1, cap 1, shared
	parts []fmtPart // a formatted value; nil for a literal
}

// headerLevel is one headers block: removals, then set and add.
type headerLevel struct{ remove, write []headerStep }

// Apply performs the operations on dst (request or response headers).
// Literal values are stored as shared one-element slices with no spare
// capacity: appending to them is safe, overwriting their element is not.
// A value that formats to "" is skipped, as Envoy does. Apply allocates
// only for formatted values and for appending to existing headers; a nil
// HeaderOps does nothing.
func (h *HeaderOps) Apply(dst http.Header, vars FormatVars) {
	if h == nil {
		return
	}
	for i := range h.steps {
		s := &h.steps[i]
		if s.kind == stepRemove {
			delete(dst, s.name)
			continue
		}
		vals := s.value
		if s.parts != nil {
			v := render(s.parts, vars)
			if v == "" {
				continue
			}
			vals = []string{v}
		}
		if old := dst[s.name]; s.kind == stepAdd && len(old) > 0 {
			dst[s.name] = append(old, vals[0])
			continue
		}
		dst[s.name] = vals
	}
}

// Len returns the number of operations.
func (h *HeaderOps) Len() int {
	if h == nil {
		return 0
	}
	return len(h.steps)
}

// Strings describes the operations in order, for config dumps.
func (h *HeaderOps) Strings() []string {
	var out []string
	for i := 0; i < h.Len(); i++ {
		s := &h.steps[i]
		switch s.kind {
		case stepRemove:
			out = append(out, "remove "+s.name)
			continue
		case stepSet:
			out = append(out, "set "+s.name+": "+s.valueString())
		default:
			out = append(out, "add "+s.name+": "+s.valueString())
		}
	}
	return out
}

func (s *headerStep) valueString() string {
	if s.parts == nil {
		return strings.ReplaceAll(s.value[0], "%", "%%")
	}
	var b strings.Builder
	for i := range s.parts {
		b.WriteString(s.parts[i].String())
	}
	return b.String()
}

// newOps concatenates levels into HeaderOps, nil when there is nothing.
func newOps(levels ...headerLevel) *HeaderOps {
	h := &HeaderOps{}
	for _, l := range levels {
		h.steps = append(h.steps, l.remove...)
		h.steps = append(h.steps, l.write...)
	}
	if len(h.steps) == 0 {
		return nil
	}
	return h
}

// mergeLevels makes one level of a then b, as Istio does for a route with a
// single destination.
func mergeLevels(a, b headerLevel) headerLevel {
	return headerLevel{
		remove: append(append([]headerStep(nil), a.remove...), b.remove...),
		write:  append(append([]headerStep(nil), a.write...), b.write...),
	}
}

// framingHeaders control connections and message framing; a route may not
// set them (an Istio extension to its rules: the Go proxy would otherwise
// forward or emit inconsistent framing).
var framingHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Content-Length": true,
}

// headerBlock compiles one HeaderOperations. For request blocks, set or add
// of "host" or ":authority" is a host rewrite, returned as authority.
func (c *compiler) headerBlock(path string, h *HeaderOperations, request bool) (lvl headerLevel, authority string) {
	if h == nil {
		return lvl, ""
	}
	seen := map[opKey]string{}
	for _, op := range []struct {
		kind stepKind
		name string
		m    map[string]string
	}{{stepSet, "set", h.Set}, {stepAdd, "add", h.Add}} {
		for _, k := range slices.Sorted(maps.Keys(op.m)) {
			p := path + "." + op.name + "." + k
			if isAuthority(k) && request {
				if authority != "" {
					c.errf(p, "authority header cannot be set multiple times: have %q, attempting to set %q", authority, op.m[k])
				}
				authority = c.authorityValue(p, op.m[k])
				continue
			}
			if st, ok := c.writeStep(p, op.kind, k, op.m[k], seen); ok {
				lvl.write = append(lvl.write, st)
			}
		}
	}
	for i, k := range h.Remove {
		p := fmt.Sprintf("%s.remove[%d]", path, i)
		if name, ok := c.opName(p, k); ok {
			lvl.remove = append(lvl.remove, headerStep{kind: stepRemove, name: name})
		}
	}
	return lvl, authority
}

// opKey identifies a header written by a block, to find duplicates that
// differ only in case.
type opKey struct {
	kind stepKind
	name string
}

func (c *compiler) writeStep(path string, kind stepKind, k, v string, seen map[opKey]string) (headerStep, bool) {
	name, ok := c.opName(path, k)
	if !ok {
		return headerStep{}, false
	}
	if framingHeaders[name] {
		c.errf(path, "header %q controls connections or framing and cannot be set by a route", k)
		return headerStep{}, false
	}
	if prev, dup := seen[opKey{kind, name}]; dup {
		c.errf(path, "header %q is also written as %q", k, prev)
	}
	seen[opKey{kind, name}] = k
	if err := checkHeaderValue(v); err != nil {
		c.errf(path, "%v", err)
		return headerStep{}, false
	}
	lit, parts, err := parseFormat(v)
	switch {
	case err != nil:
		c.errf(path, "%v", err)
		return headerStep{}, false
	case parts == nil && lit == "":
		c.warnf(path, "empty value: the operation is ignored, as Envoy ignores it")
		return headerStep{}, false
	}
	return headerStep{kind: kind, name: name, value: []string{lit}[:1:1], parts: parts}, true
}

// opName validates and canonicalizes the name of a header operation.
func (c *compiler) opName(path, k string) (string, bool) {
	switch {
	case k == "":
		c.errf(path, "header name cannot be empty")
	case strings.EqualFold(k, "host") || strings.HasPrefix(k, ":"):
		c.errf(path, "header %q cannot be modified: host and ':' pseudo-headers are not headers a route can change", k)
	case !validHeaderName(k):
		c.errf(path, "invalid header name %q", k)
	default:
		return textproto.CanonicalMIMEHeaderKey(k), true
	}
	return "", false
}

func (c *compiler) authorityValue(path, v string) string {
	if v == "" || strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) >= 0 {
		c.errf(path, "invalid authority %q", v)
	}
	return v
}

// checkHeaderValue rejects control characters other than tab (Istio's
// httpHeaderValueRegexp), so no configuration can inject CR/LF or NUL.
func checkHeaderValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return fmt.Errorf("header value %q contains a control character", v)
		}
	}
	return nil
}

func isAuthority(k string) bool {
	return strings.EqualFold(k, "host") || strings.EqualFold(k, ":authority")
}

// routeHeaders compiles the route-level and per-destination header
// operations and host rewrites into a.
func (c *compiler) routeHeaders(path string, r *HTTPRoute, a *Action) {
	var req, resp headerLevel
	var auth string
	if r.Headers != nil {
		req, auth = c.headerBlock(path+".headers.request", r.Headers.Request, true)
		resp, _ = c.headerBlock(path+".headers.response", r.Headers.Response, false)
	}
	if r.Rewrite != nil && r.Rewrite.Authority != "" {
		if auth != "" && !c.lenient {
			c.errf(path+".headers.request", "authority header cannot be set multiple times: have %q from rewrite.authority, attempting to set %q", r.Rewrite.Authority, auth)
		}
		auth = c.authorityValue(path+".rewrite.authority", r.Rewrite.Authority)
	}
	a.Authority, a.RequestHeaders, a.ResponseHeaders = auth, newOps(req), newOps(resp)
	single := len(keptDests(r.Route)) == 1
	a.dests = make([]destOps, len(r.Route))
	for i, d := range r.Route {
		var dreq, dresp headerLevel
		var dauth string
		if d.Headers != nil {
			p := fmt.Sprintf("%s.route[%d].headers", path, i)
			dreq, dauth = c.headerBlock(p+".request", d.Headers.Request, true)
			dresp, _ = c.headerBlock(p+".response", d.Headers.Response, false)
		}
		eff := destOps{authority: cmp.Or(auth, dauth)}
		if single {
			eff.req, eff.resp = newOps(mergeLevels(req, dreq)), newOps(mergeLevels(resp, dresp))
		} else {
			eff.req, eff.resp = newOps(dreq, req), newOps(dresp, resp)
		}
		a.dests[i] = eff
	}
}
