package router

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// Warning is a problem BuildTable found with one VirtualService, such as a
// missing delegate or a delegate route dropped by the merge. The table is
// still usable.
type Warning struct {
	// Key is the VS.Key of the resource, VirtualService its
	// "namespace/name".
	Key            int
	VirtualService string
	// Err is an *api.FieldError with the YAML path, marked with
	// api.Warning.
	Err error
}

// String formats the warning as "ns/name: path: what".
func (w Warning) String() string { return w.VirtualService + ": " + w.Err.Error() }

// Warnings returns the problems found while building the table, each
// once, in the order found.
func (t *Table) Warnings() []Warning {
	if t == nil {
		return nil
	}
	return t.warnings
}

func (b *tableBuilder) warn(vs *VS, path, format string, args ...any) {
	w := Warning{Key: vs.Key, VirtualService: vs.Meta.Key(), Err: api.Warning(api.Errorf(path, format, args...))}
	for _, o := range b.warnings {
		if o.String() == w.String() {
			return
		}
	}
	b.warnings = append(b.warnings, w)
}

// unreachable warns, as istioctl analyze does, about routes and match
// entries of one VirtualService that can never be selected: those after an
// entry that matches every request (no uri or prefix "/" or regex ".*",
// nothing else, and no port, gateways or source filters), and entries that
// repeat an earlier one.
func (c *compiler) unreachable(hrs []*httpRoute) {
	catchAll := ""
	seen := matchSet{}
	for _, hr := range hrs {
		path := fmt.Sprintf("spec.http[%d]", hr.index)
		if catchAll != "" {
			c.warnf(path, "route is never used: %s before it matches every request", catchAll)
			continue
		}
		if hr.spec.Delegate != nil {
			continue
		}
		dups := 0
		for k, m := range hr.matches {
			if len(hr.spec.Match) > k {
				here := matchRef{hr.index, k, &hr.spec.Match[k]}
				if prev, ok := seen.repeat(here); ok {
					c.warnf(fmt.Sprintf("%s.match[%d]", path, k), "match is never used: it repeats %s", prev)
					dups++
					continue
				}
			}
			if !m.filtered && !m.broken && m.cond.catchAll() {
				catchAll = routeRef(hr)
				for j := k + 1; j < len(hr.matches); j++ {
					c.warnf(fmt.Sprintf("%s.match[%d]", path, j), "match is never used: match[%d] before it matches every request", k)
				}
				break
			}
		}
		if dups > 0 && dups == len(hr.spec.Match) {
			c.warnf(path, "route is never used: all its matches repeat earlier ones")
		}
	}
}

func routeRef(hr *httpRoute) string {
	if hr.name != "" {
		return fmt.Sprintf("http[%d] (%q)", hr.index, hr.name)
	}
	return fmt.Sprintf("http[%d]", hr.index)
}

// matchRef is one match entry of a VirtualService.
type matchRef struct {
	route, index int
	m            *HTTPMatchRequest
}

func (r matchRef) String() string { return fmt.Sprintf("http[%d].match[%d]", r.route, r.index) }

// matchSet finds repeated match entries. Entries are grouped by a cheap
// key (their uri and pseudo-header matches and how many header and query
// matchers they have); only entries sharing one are compared in full.
type matchSet map[string][]matchRef

// repeat records r and returns the earlier entry it repeats, if any.
func (s matchSet) repeat(r matchRef) (matchRef, bool) {
	k := cheapKey(r.m)
	for _, prev := range s[k] {
		if matchKey(prev.m) == matchKey(r.m) {
			return prev, true
		}
	}
	s[k] = append(s[k], r)
	return matchRef{}, false
}

func cheapKey(m *HTTPMatchRequest) string {
	return smKey(m.URI) + "|" + smKey(m.Method) + "|" + smKey(m.Authority) + "|" + smKey(m.Scheme) + "|" +
		strconv.Itoa(len(m.Headers)) + "," + strconv.Itoa(len(m.WithoutHeaders)) + "," + strconv.Itoa(len(m.QueryParams)) + "," + strconv.FormatUint(uint64(m.Port), 10)
}

func smKey(m *StringMatch) string {
	switch {
	case m == nil:
		return ""
	case m.Exact != nil:
		return "e:" + *m.Exact
	case m.Prefix != nil:
		return "p:" + *m.Prefix
	case m.Regex != nil:
		return "r:" + *m.Regex
	}
	return "{}"
}

// matchKey identifies a match entry by everything but its names.
func matchKey(m *HTTPMatchRequest) string {
	k := *m
	k.Name, k.StatPrefix = "", ""
	b, _ := json.Marshal(&k)
	return string(b)
}
