package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
)

// wantErr checks that errs holds an error (or, with warn, a warning) at
// path whose text contains sub.
func wantErr(t *testing.T, errs []error, path, sub string, warn bool) {
	t.Helper()
	for _, err := range errs {
		var fe *api.FieldError
		if errors.As(err, &fe) && fe.Path == path && strings.Contains(err.Error(), sub) && api.IsWarning(err) == warn {
			return
		}
	}
	t.Errorf("no %s at %s containing %q in %v", map[bool]string{false: "error", true: "warning"}[warn], path, sub, errs)
}

func TestCompileAuthorizationPolicyErrors(t *testing.T) {
	t.Parallel()
	src := func(s Source) *AuthorizationPolicy {
		return ap("ALLOW", &Rule{From: []*RuleFrom{{Source: &s}}})
	}
	op := func(o Operation) *AuthorizationPolicy {
		return ap("ALLOW", &Rule{To: []*RuleTo{{Operation: &o}}})
	}
	when := func(c Condition) *AuthorizationPolicy { return ap("ALLOW", &Rule{When: []*Condition{&c}}) }
	tests := []struct {
		name      string
		spec      *AuthorizationPolicy
		path, sub string
		warn      bool
	}{
		{"explicit empty from", ap("ALLOW", &Rule{From: []*RuleFrom{}}), "spec.rules[0].from", "must not be empty", false},
		{"explicit empty to", ap("ALLOW", &Rule{To: []*RuleTo{}}), "spec.rules[0].to", "must not be empty", false},
		{"from without source", ap("ALLOW", &Rule{From: []*RuleFrom{{}}}), "spec.rules[0].from[0].source", "required", false},
		{"empty source", src(Source{}), "spec.rules[0].from[0].source", "must not be empty", false},
		{"empty operation", op(Operation{}), "spec.rules[0].to[0].operation", "must not be empty", false},
		{"null rule", ap("ALLOW", nil), "spec.rules[0]", "null", false},
		{"empty string", src(Source{Principals: []string{"a", ""}}), "spec.rules[0].from[0].source.principals[1]", "empty value", false},
		{"bad CIDR", src(Source{IPBlocks: []string{"10.0.0.0/8", "10.0.0.0/33"}}), "spec.rules[0].from[0].source.ipBlocks[1]", "invalid CIDR", false},
		{"bad IP", src(Source{RemoteIPBlocks: []string{"1.2.3"}}), "spec.rules[0].from[0].source.remoteIpBlocks[0]", "invalid IP", false},
		{"serviceAccounts and principals", src(Source{ServiceAccounts: []string{"a/b"}, Principals: []string{"x"}}), "spec.rules[0].from[0].source.serviceAccounts", "cannot be combined", false},
		{"serviceAccounts wildcard", src(Source{ServiceAccounts: []string{"a/*"}}), "spec.rules[0].from[0].source.serviceAccounts[0]", "wildcards", false},
		{"bad port", op(Operation{Ports: []string{"70000"}}), "spec.rules[0].to[0].operation.ports[0]", "invalid port", false},
		{"bad template", op(Operation{Paths: []string{"/foo/{*}.txt"}}), "spec.rules[0].to[0].operation.paths[0]", "invalid path template", false},
		{"lower-case method", op(Operation{Methods: []string{"get"}}), "spec.rules[0].to[0].operation.methods[0]", "not upper case", true},
		{"unknown when key", when(Condition{Key: "request.foo", Values: []string{"x"}}), "spec.rules[0].when[0].key", "unknown attribute", false},
		{"retired when key", when(Condition{Key: "destination.labels[app]", Values: []string{"x"}}), "spec.rules[0].when[0].key", "no longer supported", false},
		{"malformed header key", when(Condition{Key: "request.headers[]", Values: []string{"x"}}), "spec.rules[0].when[0].key", "invalid key", false},
		{"malformed claim key", when(Condition{Key: "request.auth.claims[a", Values: []string{"x"}}), "spec.rules[0].when[0].key", "invalid key", false},
		{"when without values", when(Condition{Key: "source.ip"}), "spec.rules[0].when[0]", "at least one of values", false},
		{"when bad IP", when(Condition{Key: "source.ip", Values: []string{"x"}}), "spec.rules[0].when[0].values[0]", "invalid IP", false},
		{"when bad port", when(Condition{Key: "destination.port", NotValues: []string{"http"}}), "spec.rules[0].when[0].notValues[0]", "invalid port", false},
		{"metadata key warns", when(Condition{Key: "experimental.envoy.filters.a.b[c]", Values: []string{"x"}}), "spec.rules[0].when[0].key", "never matches", true},
		{"DENY without rules", ap("DENY"), "spec.rules", "DENY policy without rules", false},
		{"CUSTOM", &AuthorizationPolicy{Action: "CUSTOM", Provider: &ExtensionProvider{Name: "x"}, Rules: []*Rule{{}}}, "spec.action", "external authorizer", false},
		{"unknown action", ap("MAYBE", &Rule{}), "spec.action", "unknown action", false},
		{"provider without CUSTOM", &AuthorizationPolicy{Provider: &ExtensionProvider{Name: "x"}}, "spec.provider", "only allowed with action CUSTOM", false},
		{"selector and targetRef", &AuthorizationPolicy{Selector: &WorkloadSelector{}, TargetRef: &PolicyTargetReference{Kind: "Gateway", Name: "gw"}}, "spec.selector", "mutually exclusive", false},
		{"targetRef warns", &AuthorizationPolicy{TargetRef: &PolicyTargetReference{Kind: "Gateway", Name: "gw"}}, "spec.targetRef", "as if it had no selector", true},
		{"DENY on HTTP fields only warns", ap("DENY", toPaths("/x")), "spec.rules[0]", "TCP", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := CompileAuthorizationPolicy(meta("ns", "p"), tc.spec)
			wantErr(t, errs, tc.path, tc.sub, tc.warn)
		})
	}
	_, errs := CompileAuthorizationPolicy(meta("ns", "p"), &AuthorizationPolicy{Action: "CUSTOM", Rules: []*Rule{{}}})
	if len(errs) == 0 || !errors.Is(errs[0], ErrCustomUnsupported) {
		t.Errorf("CUSTOM: %v, want ErrCustomUnsupported", errs)
	}
	m := meta("ns", "p")
	m.Annotations = map[string]string{"istio.io/dry-run": "maybe"}
	_, errs = CompileAuthorizationPolicy(m, nil)
	wantErr(t, errs, "metadata.annotations.istio.io/dry-run", "invalid value", false)
}

func TestCompileRequestAuthenticationErrors(t *testing.T) {
	t.Parallel()
	zero := api.Duration(0)
	tests := []struct {
		name      string
		rule      JWTRule
		path, sub string
		warn      bool
	}{
		{"no issuer or jwksUri", JWTRule{JWKS: "{}"}, "spec.jwtRules[0].issuer", "required unless jwksUri", false},
		{"jwks and jwksUri", JWTRule{Issuer: "i", JWKSURI: "https://x/j", JWKS: `{"keys":[]}`}, "spec.jwtRules[0].jwks", "mutually exclusive", false},
		{"bad jwksUri", JWTRule{Issuer: "i", JWKSURI: "ftp://x/j"}, "spec.jwtRules[0].jwksUri", "invalid URL", false},
		{"alias conflict", JWTRule{Issuer: "i", JWKSURI: "https://a/j", JWKSURIAlias: "https://b/j"}, "spec.jwtRules[0].jwks_uri", "conflicts", false},
		{"bad jwks", JWTRule{Issuer: "i", JWKS: "not json"}, "spec.jwtRules[0].jwks", "not a JSON Web Key Set", false},
		{"jwks without usable keys", JWTRule{Issuer: "i", JWKS: `{"keys":[{"kty":"AKP","kid":"x"}]}`}, "spec.jwtRules[0].jwks", "no usable", false},
		{"private key warns", JWTRule{Issuer: "i", JWKS: jwksJSON(map[string]any{"kty": "oct", "k": "c2VjcmV0c2VjcmV0"})}, "spec.jwtRules[0].jwks", "private", true},
		{"zero timeout", JWTRule{Issuer: "https://i", Timeout: &zero}, "spec.jwtRules[0].timeout", "at least 1ms", false},
		{"empty audience", JWTRule{Issuer: "https://i", Audiences: []string{""}}, "spec.jwtRules[0].audiences[0]", "empty value", false},
		{"bad header", JWTRule{Issuer: "https://i", FromHeaders: []JWTHeader{{Name: "bad header"}}}, "spec.jwtRules[0].fromHeaders[0].name", "invalid header name", false},
		{"empty param", JWTRule{Issuer: "https://i", FromParams: []string{""}}, "spec.jwtRules[0].fromParams[0]", "empty value", false},
		{"bad claim", JWTRule{Issuer: "https://i", OutputClaimToHeaders: []ClaimToHeader{{Header: "x-a", Claim: "a..b"}}}, "spec.jwtRules[0].outputClaimToHeaders[0].claim", "invalid claim", false},
		{"bad output header", JWTRule{Issuer: "https://i", OutputPayloadToHeader: "x:y"}, "spec.jwtRules[0].outputPayloadToHeader", "invalid header", false},
		{"discovery needs a URL issuer", JWTRule{Issuer: "testing@secure.istio.io"}, "spec.jwtRules[0].issuer", "OpenID discovery", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, errs := CompileRequestAuthentication(meta("ns", "ra"), &RequestAuthentication{JWTRules: []*JWTRule{&tc.rule}})
			wantErr(t, errs, tc.path, tc.sub, tc.warn)
		})
	}
	a, errs := CompileRequestAuthentication(meta("ns", "ra"), &RequestAuthentication{JWTRules: []*JWTRule{{Issuer: "https://idp", JWKSURIAlias: "https://idp/jwks"}}})
	if noErrors(t, errs); a.rules[0].jwksURI != "https://idp/jwks" {
		t.Errorf("jwks_uri alias ignored: %q", a.rules[0].jwksURI)
	}
}
