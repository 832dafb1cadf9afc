package gateway

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/legacy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// legacyLoad decodes YAML documents as the loader does and runs
// legacy.Translate on them.
func legacyLoad(t *testing.T, data string) *legacyResult {
	t.Helper()
	d := config.Decode([]config.File{config.NewFile("legacy.yaml", []byte(data))}, nil, lookupKind)
	by := map[string][]*config.Resource{}
	for _, r := range d.Resources {
		by[r.Kind] = append(by[r.Kind], r)
	}
	res := &legacyResult{t: t}
	res.gen, res.notes = legacy.Translate(by["Ingress"], by["RouteRule"], by["ServiceEntry"], &d.Problems)
	res.problems = d.Problems.List
	return res
}

// legacyFixture reads a file of testdata/legacy.
func legacyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "legacy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type legacyResult struct {
	t        *testing.T
	gen      []*config.Resource
	notes    []string
	problems []Problem
}

// find returns the generated resource of kind called "ns/name".
func (l *legacyResult) find(kind, key string) *config.Resource {
	l.t.Helper()
	for _, r := range l.gen {
		if r.Kind == kind && r.Meta.Key() == key {
			return r
		}
	}
	var have []string
	for _, r := range l.gen {
		have = append(have, r.Kind+" "+r.Meta.Key())
	}
	l.t.Fatalf("no %s %s generated; have %v", kind, key, have)
	return nil
}

// keys lists the generated resources as "Kind ns/name".
func (l *legacyResult) keys() []string {
	var out []string
	for _, r := range l.gen {
		out = append(out, r.Kind+" "+r.Meta.Key())
	}
	return out
}

// messages lists the problems as "W|E line: message", without file names.
func (l *legacyResult) messages() []string {
	var out []string
	for _, p := range l.problems {
		sev := "E"
		if p.Warning {
			sev = "W"
		}
		out = append(out, fmt.Sprintf("%s %d: %s %s/%s: %v", sev, p.Line, p.Kind, p.Namespace, p.Name, p.Err))
	}
	return out
}

// wantProblems checks that every want is a substring of some problem
// message, and that there are no errors unless errs is set.
func (l *legacyResult) wantProblems(errs bool, want ...string) {
	l.t.Helper()
	msgs := l.messages()
	for _, w := range want {
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, w) }) {
			l.t.Errorf("no problem contains %q; have:\n  %s", w, strings.Join(msgs, "\n  "))
		}
	}
	if !errs {
		for _, m := range msgs {
			if strings.HasPrefix(m, "E ") {
				l.t.Errorf("unexpected error: %s", m)
			}
		}
	}
}

// compiles checks that every generated VirtualService compiles without
// errors, as compile will require.
func (l *legacyResult) compiles() {
	l.t.Helper()
	for _, r := range l.gen {
		vs, ok := r.Spec.(*router.VirtualService)
		if !ok {
			continue
		}
		_, errs := router.CompileVirtualService(r.Meta, r.Order, vs)
		for _, err := range errs {
			if !api.IsWarning(err) {
				l.t.Errorf("VirtualService %s: %v", r.Meta.Key(), err)
			}
		}
	}
}

// routes describes the routes of a generated VirtualService, one line per
// HTTPRoute: "match -> destinations; actions".
func (l *legacyResult) routes(key string) []string {
	l.t.Helper()
	vs := l.find("VirtualService", key).Spec.(*router.VirtualService)
	var out []string
	for _, h := range vs.HTTP {
		out = append(out, describeRoute(h))
	}
	return out
}

// servers describes the servers of a generated Gateway.
func (l *legacyResult) servers(key string) []string {
	l.t.Helper()
	var out []string
	for _, s := range l.find("Gateway", key).Spec.(*listener.GatewaySpec).Servers {
		d := fmt.Sprintf("%s %d %s %v", s.Port.Protocol, s.Port.Number, s.Port.Name, s.Hosts)
		if s.TLS != nil {
			d += fmt.Sprintf(" %s %s", s.TLS.Mode, s.TLS.CredentialName)
		}
		out = append(out, d)
	}
	return out
}

// subsets describes the subsets of a generated DestinationRule.
func (l *legacyResult) subsets(key string) []string {
	l.t.Helper()
	dr := l.find("DestinationRule", key).Spec.(*upstream.DestinationRuleSpec)
	var out []string
	for _, s := range dr.Subsets {
		out = append(out, fmt.Sprintf("%s %s %v", dr.Host, s.Name, s.Labels))
	}
	return out
}

func describeRoute(h router.HTTPRoute) string {
	var ms []string
	for _, m := range h.Match {
		var parts []string
		if m.URI != nil {
			parts = append(parts, describeSM(m.URI))
		}
		for _, f := range []struct {
			name string
			sm   *router.StringMatch
		}{{"scheme", m.Scheme}, {"method", m.Method}, {"authority", m.Authority}} {
			if f.sm != nil {
				parts = append(parts, f.name+"="+describeSM(f.sm))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
			parts = append(parts, k+"="+describeSM(m.Headers[k]))
		}
		ms = append(ms, strings.Join(parts, " "))
	}
	s := "*"
	if len(ms) > 0 {
		s = strings.Join(ms, " | ")
	}
	var ds []string
	for _, d := range h.Route {
		ds = append(ds, describeDest(d.Destination)+fmt.Sprintf(" w%d", d.Weight))
	}
	if len(ds) > 0 {
		s += " -> " + strings.Join(ds, ", ")
	}
	var acts []string
	if h.Redirect != nil {
		acts = append(acts, fmt.Sprintf("redirect uri=%q authority=%q", h.Redirect.URI, h.Redirect.Authority))
	}
	if rw := h.Rewrite; rw != nil {
		if rw.URIRegexRewrite != nil {
			acts = append(acts, fmt.Sprintf("rewrite regex %q->%q authority=%q", rw.URIRegexRewrite.Match, rw.URIRegexRewrite.Rewrite, rw.Authority))
		} else {
			acts = append(acts, fmt.Sprintf("rewrite uri=%q authority=%q", rw.URI, rw.Authority))
		}
	}
	if h.Timeout != nil {
		acts = append(acts, "timeout "+h.Timeout.String())
	}
	if r := h.Retries; r != nil {
		a := fmt.Sprintf("retries %d", *r.Attempts)
		if r.PerTryTimeout != nil {
			a += " perTry " + r.PerTryTimeout.String()
		}
		if r.RetryOn != nil {
			a += " on " + *r.RetryOn
		}
		acts = append(acts, a)
	}
	if f := h.Fault; f != nil {
		if d := f.Delay; d != nil {
			acts = append(acts, fmt.Sprintf("delay %v%% %s", d.Percentage.Value, d.FixedDelay))
		}
		if a := f.Abort; a != nil {
			acts = append(acts, fmt.Sprintf("abort %v%% %d", a.Percentage.Value, *a.HTTPStatus))
		}
	}
	if h.Mirror != nil {
		acts = append(acts, "mirror "+describeDest(*h.Mirror))
	}
	if h.Headers != nil && h.Headers.Request != nil {
		for _, k := range slices.Sorted(maps.Keys(h.Headers.Request.Add)) {
			acts = append(acts, fmt.Sprintf("add %s=%s", k, h.Headers.Request.Add[k]))
		}
	}
	if c := h.CorsPolicy; c != nil {
		var origins []string
		for _, o := range c.AllowOrigins {
			origins = append(origins, describeSM(o))
		}
		acts = append(acts, fmt.Sprintf("cors origins=%v methods=%v", origins, c.AllowMethods))
	}
	if len(acts) > 0 {
		s += "; " + strings.Join(acts, "; ")
	}
	if h.Name != "" {
		s += " [" + h.Name + "]"
	}
	return s
}

func describeSM(m *router.StringMatch) string {
	switch {
	case m.Exact != nil:
		return "exact " + *m.Exact
	case m.Prefix != nil:
		return "prefix " + *m.Prefix
	case m.Regex != nil:
		return "regex " + *m.Regex
	}
	return "{}"
}

func describeDest(d router.Destination) string {
	s := d.Host
	if d.Port != nil {
		s += fmt.Sprintf(":%d", d.Port.Number)
	}
	if d.Subset != "" {
		s += "/" + d.Subset
	}
	return s
}

// diffLines reports the differences between two line lists.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
}
