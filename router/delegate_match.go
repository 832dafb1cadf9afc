package router

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// mergeMatches is Istio's mergeHTTPMatchRequests: every delegate match
// must be compatible with at least one root match, and yields one merged
// entry per compatible root match; otherwise the route conflicts.
func mergeMatches(root, del []HTTPMatchRequest) ([]HTTPMatchRequest, bool) {
	if len(root) == 0 {
		return del, true
	}
	if len(del) == 0 {
		return root, true
	}
	var out []HTTPMatchRequest
	for i := range del {
		found := false
		for j := range root {
			if matchConflict(&root[j], &del[i]) {
				continue
			}
			out = append(out, mergeMatch(&root[j], &del[i]))
			found = true
		}
		if !found {
			return nil, false
		}
	}
	return out, len(out) > 0
}

// mergeMatch narrows the delegate match d with the root match r.
func mergeMatch(r, d *HTTPMatchRequest) HTTPMatchRequest {
	out := *d
	out.Name = joinName(r.Name, d.Name)
	out.URI = cmp.Or(out.URI, r.URI)
	out.Scheme = cmp.Or(out.Scheme, r.Scheme)
	out.Method = cmp.Or(out.Method, r.Method)
	out.Authority = cmp.Or(out.Authority, r.Authority)
	out.Headers = mergeMaps(r.Headers, d.Headers)
	out.WithoutHeaders = mergeMaps(r.WithoutHeaders, d.WithoutHeaders)
	out.QueryParams = mergeMaps(r.QueryParams, d.QueryParams)
	out.SourceLabels = mergeMaps(r.SourceLabels, d.SourceLabels)
	out.Port = cmp.Or(out.Port, r.Port)
	out.SourceNamespace = cmp.Or(out.SourceNamespace, r.SourceNamespace)
	out.StatPrefix = cmp.Or(out.StatPrefix, r.StatPrefix)
	if len(out.Gateways) == 0 {
		out.Gateways = r.Gateways
	}
	return out
}

// mergeMaps copies a and then b (b wins), nil when both are empty.
func mergeMaps[V any](a, b map[string]V) map[string]V {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, b)
	return out
}

func strOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// stringMatchConflict is Istio's rule for one field: the delegate's match
// must be narrower than the root's.
func stringMatchConflict(root, leaf *StringMatch) bool {
	if root == nil || leaf == nil {
		return false
	}
	rx, rp, re := strOf(root.Regex), strOf(root.Prefix), strOf(root.Exact)
	lx, lp, le := strOf(leaf.Regex), strOf(leaf.Prefix), strOf(leaf.Exact)
	switch {
	case rx != "" && (lx != "" || lp != "" || le != ""), lx != "" && (rx != "" || rp != "" || re != ""):
		return true
	case re != "":
		return lp != "" || le != re
	case rp != "" && lp != "":
		return !strings.HasPrefix(lp, rp)
	case rp != "" && le != "":
		return !strings.HasPrefix(le, rp)
	}
	return true
}

// matchConflict is Istio's hasConflict: whether the delegate match leaf
// cannot be narrowed into the root match.
func matchConflict(root, leaf *HTTPMatchRequest) bool {
	for _, p := range [][2]*StringMatch{{root.URI, leaf.URI}, {root.Scheme, leaf.Scheme}, {root.Method, leaf.Method}, {root.Authority, leaf.Authority}} {
		if stringMatchConflict(p[0], p[1]) {
			return true
		}
	}
	for _, m := range [][2]map[string]*StringMatch{{root.Headers, leaf.Headers}, {root.WithoutHeaders, leaf.WithoutHeaders}, {root.QueryParams, leaf.QueryParams}} {
		for k, v := range m[1] {
			if stringMatchConflict(m[0][k], v) {
				return true
			}
		}
	}
	switch {
	case root.IgnoreURICase != leaf.IgnoreURICase,
		root.Port > 0 && leaf.Port > 0 && root.Port != leaf.Port,
		root.SourceNamespace != "" && leaf.SourceNamespace != root.SourceNamespace:
		return true
	}
	for k, v := range leaf.SourceLabels {
		if rv, ok := root.SourceLabels[k]; ok && rv != v {
			return true
		}
	}
	if len(root.Gateways) > 0 && len(leaf.Gateways) > 0 {
		if len(root.Gateways) < len(leaf.Gateways) {
			return true
		}
		for _, gw := range leaf.Gateways {
			if !slices.Contains(root.Gateways, gw) {
				return true
			}
		}
	}
	return false
}
