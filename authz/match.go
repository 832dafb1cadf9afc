package authz

import "strings"

// patKind is the form of an Istio string value (istio-api.md 8.4).
type patKind uint8

const (
	patExact    patKind = iota
	patPrefix           // "abc*"
	patSuffix           // "*abc"
	patPresence         // "*": any non-empty value
)

// pattern is one compiled Istio string value. Only one leading or trailing
// "*" is special; everything else is literal, so no configuration value is
// ever interpreted as a regular expression. Matching is case-sensitive;
// hosts are lower case on both sides (see hostPattern).
type pattern struct {
	kind patKind
	s    string
}

// newPattern compiles v in Istio's generic form.
func newPattern(v string) pattern {
	switch {
	case v == "*":
		return pattern{kind: patPresence}
	case strings.HasPrefix(v, "*"):
		return pattern{kind: patSuffix, s: v[1:]}
	case strings.HasSuffix(v, "*"):
		return pattern{kind: patPrefix, s: v[:len(v)-1]}
	}
	return pattern{kind: patExact, s: v}
}

// match reports whether v matches. A presence pattern needs a non-empty v.
func (p *pattern) match(v string) bool {
	switch p.kind {
	case patPresence:
		return v != ""
	case patPrefix:
		return strings.HasPrefix(v, p.s)
	case patSuffix:
		return strings.HasSuffix(v, p.s)
	}
	return v == p.s
}

// anyMatch reports whether v matches one of ps.
func anyMatch(ps []pattern, v string) bool {
	for i := range ps {
		if ps[i].match(v) {
			return true
		}
	}
	return false
}

// principalPattern is a requestPrincipals value split at its last "/"
// into issuer and subject patterns (requestPrincipalGenerator).
type principalPattern struct {
	iss, sub       pattern
	anyIss, anySub bool
	both           bool // "*": iss and sub must both be non-empty
}

func newPrincipalPattern(v string) principalPattern {
	if v == "*" {
		return principalPattern{both: true}
	}
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		switch {
		case strings.HasPrefix(v, "*"):
			return principalPattern{anyIss: true, sub: newPattern(v)}
		case strings.HasSuffix(v, "*"):
			return principalPattern{iss: newPattern(v), anySub: true}
		}
		return principalPattern{iss: pattern{s: v}, anySub: true}
	}
	iss, sub := v[:i], v[i+1:]
	return principalPattern{
		iss: newPattern(iss), anyIss: iss == "*",
		sub: newPattern(sub), anySub: sub == "*",
	}
}

func (p *principalPattern) match(iss, sub string) bool {
	if p.both {
		return iss != "" && sub != ""
	}
	return (p.anyIss || p.iss.match(iss)) && (p.anySub || p.sub.match(sub))
}

// elementsMatch reports whether v, trimmed, or any trimmed comma-separated
// element of v matches one of ps. It is how header values are compared
// (security.md AZ-11): "user,admin" and "  admin " both contain "admin".
func elementsMatch(ps []pattern, v string) bool {
	if anyMatch(ps, strings.TrimSpace(v)) {
		return true
	}
	if strings.IndexByte(v, ',') < 0 {
		return false
	}
	for v != "" {
		var e string
		e, v, _ = strings.Cut(v, ",")
		if anyMatch(ps, strings.TrimSpace(e)) {
			return true
		}
	}
	return false
}
