package authz

import (
	"net/http"
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

// headerLocation builds a header location. A case-insensitive prefix is
// spelled one way, so that "bearer " and "Bearer " in Authorization are
// the same location and a token there is counted once.
func headerLocation(name, prefix string) location {
	fold := name == "Authorization" && strings.EqualFold(prefix, "Bearer ")
	if fold {
		prefix = "Bearer "
	}
	return location{kind: locHeader, name: name, prefix: prefix, fold: fold}
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

// scan counts the tokens the request carries at l and returns the first
// one: each value of a query parameter (an empty one too), each cookie
// occurrence, each field line of a header without a prefix, and each
// occurrence of the prefix in each field line of a header with one. The
// token is "" when the location holds something that cannot be a token,
// so that it fails verification instead of being ignored.
func (l *location) scan(r *Request) (int, string) {
	switch l.kind {
	case locParam:
		return scanQuery(r.RawQuery, l.name)
	case locCookie:
		return scanCookies(r.Header, l.name)
	}
	vs := r.Header[l.name]
	if len(vs) == 0 {
		return 0, ""
	}
	if l.prefix == "" {
		return len(vs), strings.TrimSpace(vs[0])
	}
	return l.scanPrefix(vs)
}

// scanPrefix counts the occurrences of the prefix in each field line; the
// token and the blanks after an occurrence are skipped before looking for
// the next, so a token is never counted twice. The token follows the first
// occurrence. A repeated header is read as Envoy reads it, its lines
// joined by commas, so any line after the token's is junk after the token.
func (l *location) scanPrefix(vs []string) (n int, tok string) {
	for i, v := range vs {
		for {
			j := indexPrefix(v, l.prefix, l.fold)
			if j < 0 {
				break
			}
			v = v[j+len(l.prefix):]
			if n == 0 {
				tok = tokenAfter(v)
				if i < len(vs)-1 {
					tok = ""
				}
			}
			n++
			v = v[tokenRun(v):]
		}
	}
	return n, tok
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

// tokenRun returns the length of the blanks and token characters that
// start s.
func tokenRun(s string) int {
	n := len(s) - len(strings.TrimLeft(s, " \t"))
	for n < len(s) && isTokenChar(s[n]) {
		n++
	}
	return n
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// scanCookies counts the occurrences of the cookie name and returns the
// first one's value.
func scanCookies(h http.Header, name string) (n int, tok string) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				if n == 0 {
					tok = strings.Trim(v, `"`)
				}
				n++
			}
		}
	}
	return n, tok
}
