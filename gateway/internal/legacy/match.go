package legacy

import (
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// legacyURI is the uri match Istio gives an Ingress path, before it is
// expressed as VirtualService match entries (legacyMatches).
type legacyURI struct {
	kind  byte // 0: none (catch-all), 'e': exact, 'p': prefix
	value string
}

// Path types of Ingress paths.
const (
	pathTypeExact    = "Exact"
	pathTypePrefix   = "Prefix"
	pathTypeImplSpec = "ImplementationSpecific"
)

// ingressPathURI translates one Ingress path as Istio does
// (pilot/pkg/config/kube/ingress convertIngressRule): Exact is exact,
// Prefix is prefix, and ImplementationSpecific (or no pathType) falls back
// to the legacy string forms: "", "*", "/*" and ".*" match everything, a
// trailing ".*" or "/*" is stripped into a prefix, anything else is exact.
// Regular expressions are not supported.
func ingressPathURI(pathType *string, path string) legacyURI {
	if pathType != nil {
		switch *pathType {
		case pathTypeExact:
			return legacyURI{'e', path}
		case pathTypePrefix:
			return legacyURI{'p', path}
		}
	}
	switch {
	case path == "" || path == "*" || path == "/*" || path == ".*":
		return legacyURI{}
	case strings.HasSuffix(path, ".*"):
		return legacyURI{'p', strings.TrimSuffix(path, ".*")}
	case strings.HasSuffix(path, "/*"):
		return legacyURI{'p', strings.TrimSuffix(path, "/*")}
	}
	return legacyURI{'e', path}
}

// sortIngressRoutes orders the routes of one host as Istio does
// (sortHTTPRoutes): longer uri first, exact before prefix at equal length,
// stable otherwise. A route without uri counts as length 0, so the
// catch-alls end up last.
func sortIngressRoutes(rs []*legacyRoute) {
	key := func(r *legacyRoute) (int, bool) { return len(r.uri.value), r.uri.kind == 'e' }
	slices.SortStableFunc(rs, func(a, b *legacyRoute) int {
		la, ea := key(a)
		lb, eb := key(b)
		switch {
		case la != lb:
			return lb - la
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		}
		return 0
	})
}

// legacyMatches expresses an Ingress uri as VirtualService match entries.
// Istio marks Ingress-derived VirtualServices with ingress route semantics,
// under which every prefix except "/" becomes an Envoy
// path_separated_prefix with the trailing '/' trimmed: prefix "/status/"
// matches "/status" and "/status/x" but not "/statusx". VirtualService has
// no such match form, so a prefix P (trailing '/' trimmed) becomes two ORed
// entries of one HTTPRoute: exact P and prefix P+"/". Exact paths ignore
// the query string, as Envoy's path-separated prefix does. Nil means no
// match at all (catch-all).
func legacyMatches(u legacyURI) []*router.StringMatch {
	switch {
	case u.kind == 0:
		return nil
	case u.kind == 'e':
		return []*router.StringMatch{{Exact: legacyStr(u.value)}}
	case u.value == "/" || u.value == "":
		return []*router.StringMatch{{Prefix: legacyStr(u.value)}}
	}
	p := strings.TrimSuffix(u.value, "/")
	return []*router.StringMatch{{Exact: legacyStr(p)}, {Prefix: legacyStr(p + "/")}}
}

// uriResult is the intersection of an Ingress match entry with a
// RouteRule's uri: ok false when they cannot both match, approx true when
// the result (the rule's regex alone) may also match paths outside the
// Ingress prefix.
type uriResult struct {
	m      *router.StringMatch
	ok     bool
	approx bool
}

// intersectURI intersects one Ingress match entry (nil, exact or prefix)
// with a RouteRule uri (nil, exact, prefix or regex; re is its compiled
// form). The more specific side is kept when one contains the other:
//
//   - exact E ∩ anything: E, if the rule's uri matches E;
//   - prefix Q ∩ exact X: X, if X starts with Q;
//   - prefix Q ∩ prefix Y: the longer of the two when one starts with the
//     other, else nothing;
//   - prefix Q ∩ regex R: R when every match of R starts with Q (R's literal
//     prefix starts with Q), nothing when R's literal prefix and Q diverge,
//     and otherwise R alone, flagged approx: a VirtualService match has one
//     uri, and an RE2 regex cannot be intersected with a prefix.
//
// Prefix "/" matches every path, so it counts as no uri.
func intersectURI(ing, rule *router.StringMatch, re legacyRegex) uriResult {
	if ing == nil || (ing.Prefix != nil && *ing.Prefix == "/") {
		if rule == nil {
			return uriResult{m: ing, ok: true}
		}
		return uriResult{m: rule, ok: true}
	}
	if rule == nil {
		return uriResult{m: ing, ok: true}
	}
	if ing.Exact != nil {
		e := *ing.Exact
		ok := false
		switch {
		case rule.Exact != nil:
			ok = *rule.Exact == e
		case rule.Prefix != nil:
			ok = strings.HasPrefix(e, *rule.Prefix)
		case rule.Regex != nil:
			ok = re.full != nil && re.full.MatchString(e)
		}
		return uriResult{m: ing, ok: ok}
	}
	q := *ing.Prefix
	switch {
	case rule.Exact != nil:
		return uriResult{m: rule, ok: strings.HasPrefix(*rule.Exact, q)}
	case rule.Prefix != nil:
		y := *rule.Prefix
		switch {
		case strings.HasPrefix(y, q):
			return uriResult{m: rule, ok: true}
		case strings.HasPrefix(q, y):
			return uriResult{m: ing, ok: true}
		}
		return uriResult{}
	}
	switch {
	case re.full == nil:
		return uriResult{}
	case re.complete:
		return uriResult{m: &router.StringMatch{Exact: legacyStr(re.literal)}, ok: strings.HasPrefix(re.literal, q)}
	case strings.HasPrefix(re.literal, q):
		return uriResult{m: rule, ok: true}
	case strings.HasPrefix(q, re.literal):
		return uriResult{m: rule, ok: true, approx: true}
	}
	return uriResult{}
}

// sameStringMatch reports whether two matches are the same condition.
func sameStringMatch(a, b *router.StringMatch) bool {
	if a == nil || b == nil {
		return a == b
	}
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return eq(a.Exact, b.Exact) && eq(a.Prefix, b.Prefix) && eq(a.Regex, b.Regex)
}

func legacyStr(s string) *string { return &s }
