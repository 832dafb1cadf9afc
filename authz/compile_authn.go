package authz

import (
	"fmt"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// DefaultJWKSTimeout is the key set fetch timeout when a rule sets none.
const DefaultJWKSTimeout = 5 * time.Second

// Authn is a compiled RequestAuthentication. It is immutable and holds no
// network state: NewEngine binds its remote key sets to a KeySets.
type Authn struct {
	// Key is "namespace/name".
	Key   string
	scope scope
	rules []*jwtRule
}

// jwtRule is one compiled JWT rule (or legacy origin).
type jwtRule struct {
	source        string // "ns/name spec.jwtRules[i]", for explanations
	issuer        string
	audiences     []string
	locations     []location
	jwksURI       string // a remote key set, or OpenID discovery if discovery
	discovery     bool
	inline        *keySet
	timeout       time.Duration
	payloadHeader string
	claimHeaders  []claimHeader
	forward       bool
	split         []string // claims split on spaces
}

// claimHeader is one outputClaimToHeaders entry.
type claimHeader struct {
	header string
	claim  []string
}

// CompileRequestAuthentication validates spec and compiles its rules.
// Every problem is returned as an *api.FieldError with its YAML path;
// warnings are wrapped with api.Warning. It performs no I/O.
func CompileRequestAuthentication(meta api.Meta, spec *RequestAuthentication) (*Authn, []error) {
	if spec == nil {
		spec = &RequestAuthentication{}
	}
	c := &compiler{}
	a := &Authn{Key: meta.Key()}
	a.scope = c.scope(meta.Namespace, spec.Selector, spec.TargetRef, spec.TargetRefs)
	for i, r := range spec.JWTRules {
		path := fmt.Sprintf("spec.jwtRules[%d]", i)
		if r == nil {
			c.errf(path, "must not be null")
			continue
		}
		if jr := c.jwtRule(path, r); jr != nil {
			jr.source = meta.Key() + " " + path
			a.rules = append(a.rules, jr)
		}
	}
	return a, c.errs
}

func (c *compiler) jwtRule(path string, r *JWTRule) *jwtRule {
	jr := &jwtRule{issuer: r.Issuer, forward: r.ForwardOriginalToken, timeout: DefaultJWKSTimeout}
	uri := c.jwksURI(path, r.JWKSURI, r.JWKSURIAlias)
	if r.Issuer == "" && uri == "" {
		c.errf(path+".issuer", "required unless jwksUri is set")
	}
	c.keySource(path, jr, uri, r.JWKS)
	if c.nonEmpty(path+".audiences", r.Audiences) {
		jr.audiences = r.Audiences
	}
	jr.locations = c.locations(path, r)
	if r.OutputPayloadToHeader != "" {
		jr.payloadHeader = c.headerName(path+".outputPayloadToHeader", r.OutputPayloadToHeader)
	}
	for i, ch := range r.OutputClaimToHeaders {
		p := fmt.Sprintf("%s.outputClaimToHeaders[%d]", path, i)
		h := c.headerName(p+".header", ch.Header)
		if ch.Claim == "" || strings.Contains(ch.Claim, "..") || strings.HasPrefix(ch.Claim, ".") || strings.HasSuffix(ch.Claim, ".") {
			c.errf(p+".claim", "invalid claim %q: want a name, or a.b.c for a nested claim", ch.Claim)
			continue
		}
		jr.claimHeaders = append(jr.claimHeaders, claimHeader{header: h, claim: strings.Split(ch.Claim, ".")})
	}
	if r.Timeout != nil {
		if r.Timeout.D() < api.MinDuration {
			c.errf(path+".timeout", "must be at least 1ms")
		} else {
			jr.timeout = r.Timeout.D()
		}
	}
	jr.split = []string{"scope", "permission"}
	if c.nonEmpty(path+".spaceDelimitedClaims", r.SpaceDelimitedClaims) {
		jr.split = append(jr.split, r.SpaceDelimitedClaims...)
	}
	return jr
}

// jwksURI validates jwksUri and its snake_case alias.
func (c *compiler) jwksURI(path, camel, snake string) string {
	uri := camel
	switch {
	case camel != "" && snake != "" && camel != snake:
		c.errf(path+".jwks_uri", "conflicts with jwksUri")
	case camel == "":
		uri = snake
	}
	if uri == "" {
		return ""
	}
	u, err := url.Parse(uri)
	switch {
	case len(uri) > 2048:
		c.errf(path+".jwksUri", "longer than 2048 characters")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.errf(path+".jwksUri", "invalid URL %q: want http:// or https:// with a host", uri)
	}
	return uri
}

// keySource picks the rule's key set: remote, inline or discovery.
func (c *compiler) keySource(path string, jr *jwtRule, uri, jwks string) {
	switch {
	case uri != "" && jwks != "":
		c.errf(path+".jwks", "jwks and jwksUri are mutually exclusive")
	case uri != "":
		jr.jwksURI = uri
	case jwks != "":
		ks, dropped, private, err := parseKeySet([]byte(jwks), true)
		if err != nil {
			c.errf(path+".jwks", "%v", err)
			return
		}
		if len(dropped) > 0 {
			c.warnf(path+".jwks", "keys dropped: %s", describe(dropped))
		}
		if private {
			c.warnf(path+".jwks", "the key set holds private or symmetric key material; publish only public keys")
		}
		jr.inline = ks
	case jr.issuer != "":
		jr.discovery = true
		jr.jwksURI = strings.TrimSuffix(jr.issuer, "/") + "/.well-known/openid-configuration"
		if u, err := url.Parse(jr.jwksURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.errf(path+".issuer", "without jwksUri or jwks the issuer must be an http(s) URL for OpenID discovery")
		}
	}
}

// locations compiles fromHeaders, fromParams and fromCookies, or the
// defaults when none is set.
func (c *compiler) locations(path string, r *JWTRule) []location {
	if len(r.FromHeaders)+len(r.FromParams)+len(r.FromCookies) == 0 {
		return defaultLocations()
	}
	var out []location
	for i, h := range r.FromHeaders {
		if name := c.headerName(fmt.Sprintf("%s.fromHeaders[%d].name", path, i), h.Name); name != "" {
			out = append(out, headerLocation(name, h.Prefix))
		}
	}
	if c.nonEmpty(path+".fromParams", r.FromParams) {
		for _, p := range r.FromParams {
			out = append(out, location{kind: locParam, name: p})
		}
	}
	if c.nonEmpty(path+".fromCookies", r.FromCookies) {
		for _, k := range r.FromCookies {
			out = append(out, location{kind: locCookie, name: k})
		}
	}
	return out
}

// headerName validates a header name and returns its canonical form.
func (c *compiler) headerName(path, name string) string {
	if name == "" || strings.HasPrefix(name, ":") || !validHeaderName(name) {
		c.errf(path, "invalid header name %q", name)
		return ""
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}
