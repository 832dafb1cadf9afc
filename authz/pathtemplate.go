package authz

import (
	"errors"
	"fmt"
	"strings"
)

// pathTemplate is a compiled Istio path template (istio-api.md 8.4), which
// Istio hands to Envoy's uri_template matcher: "{*}" matches one non-empty
// path segment, "{**}" matches any run of segment characters and slashes
// (possibly empty) and must be the last operator. It is matched without
// regular expressions and without allocating.
type pathTemplate struct {
	parts  []tplPart // everything before "{**}"
	glob   bool      // the template has "{**}"
	suffix string    // the literal text after "{**}"
}

// tplPart is literal text or, when one is set, a "{*}" operator.
type tplPart struct {
	lit string
	one bool
}

// isPathTemplate reports whether a paths value must be parsed as a
// template: it uses an operator, or it holds braces (which are then an
// error, as in Istio's CheckValidPathTemplate).
func isPathTemplate(v string) bool {
	return strings.ContainsAny(v, "{}")
}

// compilePathTemplate parses and validates a template.
func compilePathTemplate(v string) (*pathTemplate, error) {
	if !strings.HasPrefix(v, "/") {
		return nil, errors.New("a path template must start with '/'")
	}
	segs := strings.Split(v[1:], "/")
	t := &pathTemplate{}
	lit := "/"
	for i, seg := range segs {
		last := i == len(segs)-1
		if i > 0 {
			lit += "/"
		}
		switch {
		case seg == "{*}" && t.glob:
			return nil, errors.New("{**} must be the last operator")
		case seg == "{*}":
			t.parts = append(t.parts, tplPart{lit: lit}, tplPart{one: true})
			lit = ""
		case seg == "{**}" && t.glob:
			return nil, errors.New("only one {**} is allowed")
		case seg == "{**}":
			t.parts = append(t.parts, tplPart{lit: lit})
			t.glob, lit = true, ""
		case seg == "" && last:
		case seg == "":
			return nil, errors.New("empty path segment (\"//\") in a template")
		case !validLiteral(seg):
			return nil, fmt.Errorf("segment %q: only {*}, {**} or RFC 3986 path characters (no '*', '{', '}') are allowed", seg)
		default:
			lit += seg
		}
	}
	if t.glob {
		t.suffix = lit
	} else {
		t.parts = append(t.parts, tplPart{lit: lit})
	}
	return t, nil
}

// isLiteralChar reports whether c may appear in a template literal and be
// matched by an operator: RFC 3986 pchar without '*' (Envoy's kLiteral).
func isLiteralChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~%!$&'()+,;:@=", c) >= 0
}

func validLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLiteralChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// match reports whether path matches the template.
func (t *pathTemplate) match(path string) bool {
	for _, p := range t.parts {
		if !p.one {
			if !strings.HasPrefix(path, p.lit) {
				return false
			}
			path = path[len(p.lit):]
			continue
		}
		n := 0
		for n < len(path) && isLiteralChar(path[n]) {
			n++
		}
		if n == 0 {
			return false
		}
		path = path[n:]
	}
	if !t.glob {
		return path == ""
	}
	if !strings.HasSuffix(path, t.suffix) {
		return false
	}
	mid := path[:len(path)-len(t.suffix)]
	for i := 0; i < len(mid); i++ {
		if mid[i] != '/' && !isLiteralChar(mid[i]) {
			return false
		}
	}
	return true
}

// pathMatcher is one paths/notPaths value: a generic pattern or a template.
type pathMatcher struct {
	pat pattern
	tpl *pathTemplate
}

func (m *pathMatcher) match(path string) bool {
	if m.tpl != nil {
		return m.tpl.match(path)
	}
	return m.pat.match(path)
}

// compilePath compiles one paths value.
func compilePath(v string) (pathMatcher, error) {
	if !isPathTemplate(v) {
		return pathMatcher{pat: newPattern(v)}, nil
	}
	t, err := compilePathTemplate(v)
	if err != nil {
		return pathMatcher{}, fmt.Errorf("invalid path template %q: %w", v, err)
	}
	return pathMatcher{tpl: t}, nil
}
