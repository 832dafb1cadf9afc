package authz

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// locKind is where a token is carried.
type locKind uint8

const (
	locHeader locKind = iota
	locParam
	locCookie
)

// location is one place a JWT rule looks for tokens.
type location struct {
	kind   locKind
	name   string // canonical header name, query parameter or cookie
	prefix string
	// fold matches the prefix case-insensitively. It is only set for
	// "Bearer " in Authorization: RFC 7235 makes the scheme
	// case-insensitive, and a token sent as "bearer <t>" is then verified
	// (and rejected if invalid) instead of being silently ignored as Envoy
	// does.
	fold bool
}

// defaultLocations are Envoy's defaults, used by a rule that configures no
// location: "Authorization: Bearer <t>" and "?access_token=<t>".
func defaultLocations() []location {
	return []location{headerLocation("Authorization", "Bearer "), {kind: locParam, name: "access_token"}}
}

func headerLocation(name, prefix string) location {
	return location{kind: locHeader, name: name, prefix: prefix,
		fold: name == "Authorization" && strings.EqualFold(prefix, "Bearer ")}
}

// String describes the location for explanations and logs.
func (l location) String() string {
	switch l.kind {
	case locParam:
		return "query parameter " + l.name
	case locCookie:
		return "cookie " + l.name
	}
	if l.prefix == "" {
		return "header " + l.name
	}
	return "header " + l.name + " (prefix " + strconv.Quote(l.prefix) + ")"
}

// extract returns the tokens found at l. An entry is "" when the location
// holds something that cannot be a token (so that it fails verification
// instead of being ignored).
func (l location) extract(r *Request) []string {
	switch l.kind {
	case locParam:
		return queryValues(r.RawQuery, l.name)
	case locCookie:
		return cookieValues(r.Header, l.name)
	}
	vs := r.Header[l.name]
	if len(vs) == 0 {
		return nil
	}
	v := vs[0]
	if len(vs) > 1 {
		v = strings.Join(vs, ",") // as Envoy sees a repeated header
	}
	if l.prefix == "" {
		return []string{strings.TrimSpace(v)}
	}
	i := indexPrefix(v, l.prefix, l.fold)
	if i < 0 {
		return nil // Envoy: a header without the prefix carries no token
	}
	return []string{tokenAfter(v[i+len(l.prefix):])}
}

// indexPrefix finds prefix anywhere in v, as Envoy's extractor does.
func indexPrefix(v, prefix string, fold bool) int {
	if !fold {
		return strings.Index(v, prefix)
	}
	for i := 0; i+len(prefix) <= len(v); i++ {
		if strings.EqualFold(v[i:i+len(prefix)], prefix) {
			return i
		}
	}
	return -1
}

// tokenAfter returns the token that follows a prefix: the run of base64url
// characters and dots after optional blanks. Unlike Envoy, which takes the
// run and ignores what follows, anything after the run other than blanks
// makes the credential invalid ("Bearer <t> extra" is a 401).
func tokenAfter(s string) string {
	s = strings.TrimLeft(s, " \t")
	n := 0
	for n < len(s) && isTokenChar(s[n]) {
		n++
	}
	if strings.TrimSpace(s[n:]) != "" {
		return ""
	}
	return s[:n]
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// queryValues returns every value of the parameter name in raw.
func queryValues(raw, name string) []string {
	var out []string
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		uv, err := url.QueryUnescape(v)
		if err != nil {
			uv = ""
		}
		out = append(out, uv)
	}
	return out
}

// cookieValues returns every value of the cookie name.
func cookieValues(h http.Header, name string) []string {
	var out []string
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				out = append(out, strings.Trim(v, `"`))
			}
		}
	}
	return out
}
