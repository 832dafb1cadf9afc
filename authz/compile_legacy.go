package authz

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// MaxRegexLength caps the regular expressions of legacy trigger rules, as
// Istio caps regexes, so that a hostile file cannot make compiling slow.
const MaxRegexLength = 1024

// LegacyAuthn is a compiled authentication.istio.io/v1alpha1 Policy or
// MeshPolicy. It is immutable.
type LegacyAuthn struct {
	// Key is "namespace/name".
	Key            string
	namespace      string
	mesh           bool
	targets        []string // service FQDNs; none means the namespace
	origins        []*legacyOrigin
	originOptional bool
	useOrigin      bool
}

// legacyOrigin is one origins[].jwt with its trigger rules.
type legacyOrigin struct {
	rule     *jwtRule
	triggers []trigger
}

// trigger is one compiled TriggerRule.
type trigger struct{ excluded, included []strMatch }

// strMatch is a compiled legacy StringMatch.
type strMatch struct {
	pat pattern
	re  *regexp.Regexp
}

func (m *strMatch) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return m.pat.match(s)
}

// CompileLegacyPolicy validates and compiles a legacy Policy; meshWide
// marks a MeshPolicy, which applies to every destination. Peer (mTLS)
// methods are accepted with a warning: a gateway does not enforce them.
func CompileLegacyPolicy(meta api.Meta, spec *LegacyPolicy, meshWide bool) (*LegacyAuthn, []error) {
	if spec == nil {
		spec = &LegacyPolicy{}
	}
	c := &compiler{}
	l := &LegacyAuthn{Key: meta.Key(), namespace: meta.Namespace, mesh: meshWide, originOptional: spec.OriginIsOptional}
	c.legacyTargets(l, spec.Targets)
	for i, p := range spec.Peers {
		if p.MTLS != nil || p.JWT != nil {
			c.warnf(fmt.Sprintf("spec.peers[%d]", i), "peer authentication is not enforced at a gateway")
		}
	}
	switch spec.PrincipalBinding {
	case "", "USE_PEER":
	case "USE_ORIGIN":
		l.useOrigin = true
	default:
		c.errf("spec.principalBinding", "unknown value %q: want USE_PEER or USE_ORIGIN", spec.PrincipalBinding)
	}
	for i, o := range spec.Origins {
		path := fmt.Sprintf("spec.origins[%d].jwt", i)
		if o.JWT == nil {
			c.errf(path, "required")
			continue
		}
		l.origins = append(l.origins, c.legacyOrigin(path, meta.Key(), o.JWT))
	}
	return l, c.errs
}

func (c *compiler) legacyTargets(l *LegacyAuthn, ts []TargetSelector) {
	if l.mesh && len(ts) > 0 {
		c.warnf("spec.targets", "a MeshPolicy applies to every service; targets are ignored")
		return
	}
	for i, t := range ts {
		path := fmt.Sprintf("spec.targets[%d]", i)
		if t.Name == "" {
			c.errf(path+".name", "required")
			continue
		}
		if len(t.Ports) > 0 {
			c.warnf(path+".ports", "gatehouse matches targets by service name only; ports are ignored")
		}
		if len(t.Labels) > 0 {
			c.warnf(path+".labels", "gatehouse matches targets by service name only; labels are ignored")
		}
		name := t.Name
		if !strings.Contains(name, ".") {
			name += "." + l.namespace + ".svc.cluster.local"
		}
		l.targets = append(l.targets, name)
	}
}

// legacyOrigin compiles an origins[].jwt into a JWT rule that never
// rejects by itself (Envoy ran it with allow_missing_or_failed) and keeps
// the token (forward: true).
func (c *compiler) legacyOrigin(path, key string, j *LegacyJWT) *legacyOrigin {
	jr := &jwtRule{source: key + " " + path, issuer: j.Issuer, forward: true,
		timeout: DefaultJWKSTimeout, split: []string{"scope", "permission"}}
	if j.Issuer == "" {
		c.errf(path+".issuer", "required")
	}
	c.keySource(path, jr, c.jwksURI(path, j.JWKSURI, j.JWKSURIAlias), j.JWKS)
	if c.nonEmpty(path+".audiences", j.Audiences) {
		jr.audiences = j.Audiences
	}
	if len(j.JWTHeaders)+len(j.JWTParams) == 0 {
		jr.locations = defaultLocations()
	}
	for i, h := range j.JWTHeaders {
		if name := c.headerName(fmt.Sprintf("%s.jwtHeaders[%d]", path, i), h); name != "" {
			jr.locations = append(jr.locations, headerLocation(name, ""))
		}
	}
	if c.nonEmpty(path+".jwtParams", j.JWTParams) {
		for _, p := range j.JWTParams {
			jr.locations = append(jr.locations, location{kind: locParam, name: p})
		}
	}
	o := &legacyOrigin{rule: jr}
	for i, tr := range j.TriggerRules {
		p := fmt.Sprintf("%s.triggerRules[%d]", path, i)
		o.triggers = append(o.triggers, trigger{
			excluded: c.strMatches(p+".excludedPaths", tr.ExcludedPaths),
			included: c.strMatches(p+".includedPaths", tr.IncludedPaths),
		})
	}
	return o
}

func (c *compiler) strMatches(path string, ms []StringMatch) []strMatch {
	var out []strMatch
	for i := range ms {
		p := fmt.Sprintf("%s[%d]", path, i)
		m := &ms[i]
		n := 0
		for _, v := range []*string{m.Exact, m.Prefix, m.Suffix, m.Regex} {
			if v != nil {
				n++
			}
		}
		if n != 1 {
			c.errf(p, "exactly one of exact, prefix, suffix or regex is required")
			continue
		}
		switch {
		case m.Exact != nil:
			out = append(out, strMatch{pat: pattern{kind: patExact, s: *m.Exact}})
		case m.Prefix != nil:
			out = append(out, strMatch{pat: pattern{kind: patPrefix, s: *m.Prefix}})
		case m.Suffix != nil:
			out = append(out, strMatch{pat: pattern{kind: patSuffix, s: *m.Suffix}})
		default:
			re, err := compileRegex(*m.Regex)
			if err != nil {
				c.errf(p+".regex", "%v", err)
				continue
			}
			out = append(out, strMatch{re: re})
		}
	}
	return out
}

// compileRegex compiles an RE2 expression that must match a whole string.
func compileRegex(expr string) (*regexp.Regexp, error) {
	if len(expr) > MaxRegexLength {
		return nil, fmt.Errorf("regex is %d characters long; the limit is %d", len(expr), MaxRegexLength)
	}
	if _, err := regexp.Compile(expr); err != nil {
		return nil, fmt.Errorf("regex does not compile: %w", err)
	}
	return regexp.Compile("^(?:" + expr + ")$")
}

// enforced reports whether the origin applies to path: with no trigger
// rules always; otherwise when some rule does not exclude the path and
// either has no included paths or includes it.
func (o *legacyOrigin) enforced(path string) bool {
	if len(o.triggers) == 0 {
		return true
	}
	for _, t := range o.triggers {
		if !anyStrMatch(t.excluded, path) && (len(t.included) == 0 || anyStrMatch(t.included, path)) {
			return true
		}
	}
	return false
}

func anyStrMatch(ms []strMatch, s string) bool {
	for i := range ms {
		if ms[i].match(s) {
			return true
		}
	}
	return false
}

// appliesTo reports the policy's precedence for a destination: 3 when a
// target names it, 2 for a namespace-wide policy in its namespace, 1 for a
// MeshPolicy, 0 when the policy does not apply.
func (l *LegacyAuthn) appliesTo(dest string) int {
	switch {
	case dest == "":
		return 0
	case l.mesh:
		return 1
	case len(l.targets) == 0:
		if destNamespace(dest) == l.namespace {
			return 2
		}
		return 0
	}
	for _, t := range l.targets {
		if strings.EqualFold(t, dest) {
			return 3
		}
	}
	return 0
}
