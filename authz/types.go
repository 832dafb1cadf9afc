package authz

import "github.com/gatehouse-proxy/gatehouse/api"

// RequestAuthentication is the spec of a security.istio.io
// RequestAuthentication: the JWT issuers the gateway accepts and where it
// looks for their tokens.
type RequestAuthentication struct {
	// Selector limits the policy to workloads with these labels. Empty
	// selects every workload, which includes the gateway.
	Selector *WorkloadSelector `yaml:"selector"`
	// TargetRef selects a Gateway API resource. Exclusive with Selector.
	TargetRef *PolicyTargetReference `yaml:"targetRef"`
	// TargetRefs selects several Gateway API resources.
	TargetRefs []PolicyTargetReference `yaml:"targetRefs"`
	// JWTRules are the accepted issuers. All rules of all applicable
	// policies are pooled and sorted by issuer.
	JWTRules []*JWTRule `yaml:"jwtRules"`
}

// WorkloadSelector picks workloads by label.
type WorkloadSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

// PolicyTargetReference names a Gateway API resource a policy attaches to.
type PolicyTargetReference struct {
	Group     string `yaml:"group"`
	Kind      string `yaml:"kind"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

// JWTRule describes one accepted token issuer.
type JWTRule struct {
	// Issuer is the expected "iss" claim. It may be empty only when JWKSURI
	// is set; then any issuer is accepted at this rule's locations.
	Issuer string `yaml:"issuer"`
	// Audiences, when set, must contain one of the token's "aud" values.
	// Empty means no audience check (Envoy's behaviour).
	Audiences []string `yaml:"audiences"`
	// JWKSURI is the http(s) URL of the issuer's key set.
	JWKSURI string `yaml:"jwksUri"`
	// JWKSURIAlias is the snake_case alias "jwks_uri" the CRD also accepts.
	JWKSURIAlias string `yaml:"jwks_uri"`
	// JWKS is an inline JSON Web Key Set, exclusive with JWKSURI. Without
	// either, the key set is found through OpenID discovery on Issuer.
	JWKS string `yaml:"jwks"`
	// FromHeaders are the headers that carry the token.
	FromHeaders []JWTHeader `yaml:"fromHeaders"`
	// FromParams are query parameters that carry the token.
	FromParams []string `yaml:"fromParams"`
	// FromCookies are cookies that carry the token.
	FromCookies []string `yaml:"fromCookies"`
	// OutputPayloadToHeader names a header that receives the verified
	// payload, base64url encoded without padding.
	OutputPayloadToHeader string `yaml:"outputPayloadToHeader"`
	// OutputClaimToHeaders copies claims into headers.
	OutputClaimToHeaders []ClaimToHeader `yaml:"outputClaimToHeaders"`
	// ForwardOriginalToken keeps the header carrying the token. By default
	// that header is removed after verification.
	ForwardOriginalToken bool `yaml:"forwardOriginalToken"`
	// Timeout bounds each key set fetch; the default is 5s.
	Timeout *api.Duration `yaml:"timeout"`
	// SpaceDelimitedClaims are claims split on spaces for authorization
	// matching, in addition to "scope" and "permission".
	SpaceDelimitedClaims []string `yaml:"spaceDelimitedClaims"`
}

// JWTHeader is a token header location: the token follows Prefix in the
// header's value.
type JWTHeader struct {
	Name   string `yaml:"name"`
	Prefix string `yaml:"prefix"`
}

// ClaimToHeader copies the claim Claim ("a.b.c" for nested claims) into
// the request header Header.
type ClaimToHeader struct {
	Header string `yaml:"header"`
	Claim  string `yaml:"claim"`
}

// AuthorizationPolicy is the spec of a security.istio.io
// AuthorizationPolicy.
type AuthorizationPolicy struct {
	Selector   *WorkloadSelector       `yaml:"selector"`
	TargetRef  *PolicyTargetReference  `yaml:"targetRef"`
	TargetRefs []PolicyTargetReference `yaml:"targetRefs"`
	// Rules are ORed. Absent rules make an ALLOW policy allow nothing.
	Rules []*Rule `yaml:"rules"`
	// Action is ALLOW (the default), DENY, AUDIT or CUSTOM.
	Action string `yaml:"action"`
	// Provider names the external authorizer of a CUSTOM policy.
	Provider *ExtensionProvider `yaml:"provider"`
}

// ExtensionProvider names a meshConfig extension provider.
type ExtensionProvider struct {
	Name string `yaml:"name"`
}

// Rule matches when any From matches (or From is absent), any To matches
// (or To is absent), and every When matches.
type Rule struct {
	From []*RuleFrom  `yaml:"from"`
	To   []*RuleTo    `yaml:"to"`
	When []*Condition `yaml:"when"`
}

// RuleFrom wraps a Source.
type RuleFrom struct {
	Source *Source `yaml:"source"`
}

// RuleTo wraps an Operation.
type RuleTo struct {
	Operation *Operation `yaml:"operation"`
}

// Source describes who sends the request. Set fields are ANDed; values
// within a field are ORed; notX fields must match none of their values.
type Source struct {
	Principals           []string `yaml:"principals"`
	NotPrincipals        []string `yaml:"notPrincipals"`
	RequestPrincipals    []string `yaml:"requestPrincipals"`
	NotRequestPrincipals []string `yaml:"notRequestPrincipals"`
	Namespaces           []string `yaml:"namespaces"`
	NotNamespaces        []string `yaml:"notNamespaces"`
	ServiceAccounts      []string `yaml:"serviceAccounts"`
	NotServiceAccounts   []string `yaml:"notServiceAccounts"`
	TrustDomains         []string `yaml:"trustDomains"`
	NotTrustDomains      []string `yaml:"notTrustDomains"`
	IPBlocks             []string `yaml:"ipBlocks"`
	NotIPBlocks          []string `yaml:"notIpBlocks"`
	RemoteIPBlocks       []string `yaml:"remoteIpBlocks"`
	NotRemoteIPBlocks    []string `yaml:"notRemoteIpBlocks"`
}

// Operation describes what the request does.
type Operation struct {
	// Hosts and NotHosts match Request.Host, and Request.Port when a value
	// has one ("admin.example.com:8443"); see the package doc.
	Hosts      []string `yaml:"hosts"`
	NotHosts   []string `yaml:"notHosts"`
	Ports      []string `yaml:"ports"`
	NotPorts   []string `yaml:"notPorts"`
	Methods    []string `yaml:"methods"`
	NotMethods []string `yaml:"notMethods"`
	Paths      []string `yaml:"paths"`
	NotPaths   []string `yaml:"notPaths"`
}

// Condition is one "when" entry: the attribute Key must match one of
// Values (if set) and none of NotValues (if set).
type Condition struct {
	Key       string   `yaml:"key"`
	Values    []string `yaml:"values"`
	NotValues []string `yaml:"notValues"`
}
