package authz

import (
	"net/url"
	"strings"
)

// scanQuery counts the values of the parameter name in raw and returns
// the first, decoded ("" when its encoding is invalid).
func scanQuery(raw, name string) (n int, tok string) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if !paramIs(k, name) {
			continue
		}
		if n == 0 {
			if uv, err := url.QueryUnescape(v); err == nil {
				tok = uv
			}
		}
		n++
	}
	return n, tok
}

// paramIs reports whether the query parameter name k, as written in the
// query, is name once percent-decoded (url.QueryUnescape's decoding). It
// allocates nothing.
func paramIs(k, name string) bool {
	if k == name {
		return true
	}
	if !strings.ContainsAny(k, "%+") {
		return false
	}
	j := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(k) || !ishex(k[i+1]) || !ishex(k[i+2]) {
				return false
			}
			c = unhex(k[i+1])<<4 | unhex(k[i+2])
			i += 2
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// removeParam returns raw without the parameter name (every value of it,
// though Authenticate only removes a parameter that holds one). The other
// parameters are kept byte for byte and in order. It allocates only when
// something is removed.
func removeParam(raw, name string) string {
	if n, _ := scanQuery(raw, name); n == 0 {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	first := true
	for more := true; more; {
		var kv string
		kv, raw, more = strings.Cut(raw, "&")
		if k, _, _ := strings.Cut(kv, "="); paramIs(k, name) {
			continue
		}
		if !first {
			b.WriteByte('&')
		}
		b.WriteString(kv)
		first = false
	}
	return b.String()
}

// Redacted replaces the value of a token parameter in RedactQuery.
const Redacted = "<redacted>"

// RedactQuery returns the query raw with the value of every parameter that
// a rule of the engine reads tokens from ("access_token" for rules without
// locations, fromParams, legacy jwtParams) replaced by Redacted, whether
// or not the token verified: "a=1&access_token=x" becomes
// "a=1&access_token=<redacted>". Names compare percent-decoded, as tokens
// are found, and stay as written; a name without a value gets "=" and
// Redacted too. Everything else is kept byte for byte. It returns raw
// itself, without allocating, for a nil engine, an engine without
// parameter locations, or a query without such parameters. Use it for
// every query that is logged.
func (e *Engine) RedactQuery(raw string) string {
	if e == nil || len(e.params) == 0 || !e.hasParam(raw) {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw) + len(Redacted))
	for more := true; more; {
		var kv string
		kv, raw, more = strings.Cut(raw, "&")
		if k, _, _ := strings.Cut(kv, "="); e.isParam(k) {
			b.WriteString(k)
			b.WriteString("=" + Redacted)
		} else {
			b.WriteString(kv)
		}
		if more {
			b.WriteByte('&')
		}
	}
	return b.String()
}

// indexParams lists the query parameters tokens are read from.
func (e *Engine) indexParams() {
	for _, g := range e.locs {
		if g.loc.kind == locParam {
			e.params = append(e.params, g.loc.name)
		}
	}
}

// hasParam reports whether raw holds a token parameter.
func (e *Engine) hasParam(raw string) bool {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if k, _, _ := strings.Cut(kv, "="); e.isParam(k) {
			return true
		}
	}
	return false
}

// isParam reports whether k, as written in a query, names a token
// parameter.
func (e *Engine) isParam(k string) bool {
	for _, p := range e.params {
		if paramIs(k, p) {
			return true
		}
	}
	return false
}
