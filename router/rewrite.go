package router

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// OriginalPathHeader is the header the gateway sets on a forwarded request
// to the path as received whenever the route has a Rewrite (Envoy's
// x-envoy-original-path). The gateway must first remove any copy sent by
// the client.
const OriginalPathHeader = "X-Envoy-Original-Path"

// Rewrite is a compiled HTTPRewrite path rewrite. It is immutable.
type Rewrite struct {
	// URI replaces the matched part of the path (see Path); "" when the
	// rewrite uses a regex or only changes the authority.
	URI string
	// Regex and Substitution are uriRegexRewrite as written.
	Regex        string
	Substitution string
	re           *regexp.Regexp
	template     string // Substitution in regexp.Expand syntax
}

func (c *compiler) rewrite(path string, r *HTTPRewrite, matches []*matchEntry) *Rewrite {
	rr := r.URIRegexRewrite
	switch {
	case r.URI != "" && rr != nil:
		c.errf(path, "rewrite may only contain one of uri or uriRegexRewrite")
	case r.URI == "" && rr == nil && r.Authority == "":
		c.errf(path, "rewrite must specify at least one of uri, uriRegexRewrite or authority")
	}
	if r.URI == "" && rr == nil {
		return nil // authority only: see Action.Authority
	}
	rw := &Rewrite{URI: r.URI}
	if rr != nil {
		c.regexRewrite(path+".uriRegexRewrite", rr, rw)
		c.pathChars(path+".uriRegexRewrite.rewrite", rr.Rewrite)
	} else {
		c.slashWarning(path+".uri", r.URI, matches)
		c.pathChars(path+".uri", r.URI)
		if !strings.HasPrefix(r.URI, "/") {
			c.errf(path+".uri", "a rewritten path must start with '/': %q", r.URI)
		}
	}
	return rw
}

// pathChars refuses what cannot stand in a request path: spaces and
// control characters (which would split the upstream request line) and a
// fragment.
func (c *compiler) pathChars(path, v string) {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= ' ' || b == 0x7f || b == '#' {
			c.errf(path, "%q may not contain spaces, control characters or '#'", v)
			return
		}
	}
}

func (c *compiler) regexRewrite(path string, rr *RegexRewrite, rw *Rewrite) {
	if rr.Match == "" || rr.Rewrite == "" {
		c.errf(path, "uriRegexRewrite requires both match and rewrite")
		return
	}
	if len(rr.Match) > MaxRegexLength {
		c.errf(path+".match", "regex is %d characters long; the limit is %d", len(rr.Match), MaxRegexLength)
		return
	}
	re, err := regexp.Compile(rr.Match)
	if err != nil {
		c.errf(path+".match", "regex does not compile: %v", err)
		return
	}
	tmpl, err := re2Template(rr.Rewrite, re.NumSubexp())
	if err != nil {
		c.errf(path+".rewrite", "%v", err)
		return
	}
	rw.Regex, rw.Substitution, rw.re, rw.template = rr.Match, rr.Rewrite, re, tmpl
}

// re2Template converts an RE2 rewrite string (\1 back-references, \\ for a
// backslash) into Go's regexp.Expand syntax, rejecting what RE2 rejects.
func re2Template(s string, groups int) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '$':
			b.WriteString("$$")
		case ch != '\\':
			b.WriteByte(ch)
		case i+1 == len(s):
			return "", errors.New(`rewrite ends with a lone '\'`)
		case s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case s[i+1] >= '0' && s[i+1] <= '9':
			n := int(s[i+1] - '0')
			if n > groups {
				return "", fmt.Errorf(`rewrite uses \%d but the regex has %d capture groups`, n, groups)
			}
			fmt.Fprintf(&b, "${%d}", n)
			i++
		default:
			return "", fmt.Errorf(`invalid escape \%c in rewrite: use \0-\9 or \\`, s[i+1])
		}
	}
	return b.String(), nil
}

// slashWarning flags the classic doubled slash: prefix "/foo" rewritten to
// "/" turns "/foo/bar" into "//bar".
func (c *compiler) slashWarning(path, uri string, matches []*matchEntry) {
	if !strings.HasSuffix(uri, "/") {
		return
	}
	for _, m := range matches {
		if m.prefix && m.prefixLen > 1 && m.cond.uri.kind == matchPrefix && !strings.HasSuffix(m.cond.uri.s, "/") {
			p := m.cond.uri.s
			c.warnf(path, "prefix %q rewritten to %q turns %q into %q; match %q instead", p, uri, p+"/x", uri+"/x", p+"/")
			return
		}
	}
}

// Path returns the rewritten path (without query) of a request whose path
// (normalized, without query) matched rt, as Envoy's prefix_rewrite and
// regex_rewrite do: with a prefix match (or no uri match) URI replaces the
// first rt.PrefixLen bytes, so prefix "/foo" with uri "/" turns "/foo/bar"
// into "//bar"; with an exact or regex match it replaces the whole path.
// uriRegexRewrite replaces every non-overlapping match. It allocates only
// when the path changes; a nil Rewrite returns path unchanged.
func (rw *Rewrite) Path(path string, rt *Route) string {
	switch {
	case rw == nil:
		return path
	case rw.re != nil:
		if !rw.re.MatchString(path) {
			return path
		}
		if out := rw.re.ReplaceAllString(path, rw.template); out != "" {
			return out
		}
		return path // Envoy keeps the path when the rewrite empties it
	case rw.URI == "":
		return path
	}
	return replacePrefix(path, rw.URI, rt)
}

// replacePrefix replaces the part of path that rt matched with repl.
func replacePrefix(path, repl string, rt *Route) string {
	n := len(path)
	if rt != nil && rt.PrefixMatch && rt.PrefixLen <= len(path) {
		n = rt.PrefixLen
	}
	if n == len(path) {
		return repl
	}
	return repl + path[n:]
}

// String describes the rewrite for config dumps.
func (rw *Rewrite) String() string {
	if rw.re != nil {
		return fmt.Sprintf("regex %q -> %q", rw.Regex, rw.Substitution)
	}
	return "uri " + rw.URI
}
