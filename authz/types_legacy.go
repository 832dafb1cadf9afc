package authz

// LegacyPolicy is the spec of an authentication.istio.io/v1alpha1 Policy or
// MeshPolicy (removed from Istio in 1.6). gatehouse enforces its origin
// (end-user JWT) authentication; peer (mTLS) settings are accepted and
// reported as not enforced.
type LegacyPolicy struct {
	// Targets are the services, by short name in the policy's namespace,
	// that the policy applies to. Empty means the whole namespace.
	Targets []TargetSelector `yaml:"targets"`
	// Peers are the peer authentication methods (mTLS).
	Peers []PeerAuthenticationMethod `yaml:"peers"`
	// PeerIsOptional accepts requests whose peer authentication failed.
	PeerIsOptional bool `yaml:"peerIsOptional"`
	// Origins are the end-user authentication methods; one must succeed.
	Origins []OriginAuthenticationMethod `yaml:"origins"`
	// OriginIsOptional accepts requests without a valid origin token.
	OriginIsOptional bool `yaml:"originIsOptional"`
	// PrincipalBinding is USE_PEER (default) or USE_ORIGIN.
	PrincipalBinding string `yaml:"principalBinding"`
}

// TargetSelector names a service and, optionally, some of its ports.
type TargetSelector struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
	Ports  []PortSelector    `yaml:"ports"`
}

// PortSelector is a service port by number or name.
type PortSelector struct {
	Number uint32 `yaml:"number"`
	Name   string `yaml:"name"`
}

// PeerAuthenticationMethod is one of mtls or (deprecated) jwt.
type PeerAuthenticationMethod struct {
	MTLS *MutualTLS `yaml:"mtls"`
	JWT  *LegacyJWT `yaml:"jwt"`
}

// MutualTLS is a legacy peer mTLS setting.
type MutualTLS struct {
	AllowTLS bool   `yaml:"allowTls"`
	Mode     string `yaml:"mode"`
}

// OriginAuthenticationMethod wraps a LegacyJWT.
type OriginAuthenticationMethod struct {
	JWT *LegacyJWT `yaml:"jwt"`
}

// LegacyJWT is the v1alpha1 JWT origin method.
type LegacyJWT struct {
	Issuer    string   `yaml:"issuer"`
	Audiences []string `yaml:"audiences"`
	JWKSURI   string   `yaml:"jwksUri"`
	// JWKSURIAlias is the snake_case alias "jwks_uri".
	JWKSURIAlias string `yaml:"jwks_uri"`
	JWKS         string `yaml:"jwks"`
	// JWTHeaders carry the raw token (no prefix).
	JWTHeaders []string `yaml:"jwtHeaders"`
	// JWTParams are query parameters carrying the token.
	JWTParams []string `yaml:"jwtParams"`
	// TriggerRules decide per path whether the origin is enforced.
	TriggerRules []TriggerRule `yaml:"triggerRules"`
}

// TriggerRule enforces the origin for paths not in ExcludedPaths and, if
// IncludedPaths is set, in IncludedPaths.
type TriggerRule struct {
	ExcludedPaths []StringMatch `yaml:"excludedPaths"`
	IncludedPaths []StringMatch `yaml:"includedPaths"`
}

// StringMatch is the legacy oneof exact | prefix | suffix | regex.
type StringMatch struct {
	Exact  *string `yaml:"exact"`
	Prefix *string `yaml:"prefix"`
	Suffix *string `yaml:"suffix"`
	Regex  *string `yaml:"regex"`
}

// RbacConfig is the spec of an rbac.istio.io/v1alpha1 RbacConfig or
// ClusterRbacConfig: which services legacy RBAC covers.
type RbacConfig struct {
	// Mode is OFF (default), ON, ON_WITH_INCLUSION or ON_WITH_EXCLUSION.
	Mode      string       `yaml:"mode"`
	Inclusion *RbacTargets `yaml:"inclusion"`
	Exclusion *RbacTargets `yaml:"exclusion"`
	// EnforcementMode is ENFORCED (default) or PERMISSIVE (dry-run).
	EnforcementMode string `yaml:"enforcementMode"`
}

// RbacTargets lists services (FQDNs) and namespaces.
type RbacTargets struct {
	Services   []string `yaml:"services"`
	Namespaces []string `yaml:"namespaces"`
}

// ServiceRole is the spec of an rbac.istio.io/v1alpha1 ServiceRole.
type ServiceRole struct {
	Rules []AccessRule `yaml:"rules"`
}

// AccessRule is one permission of a ServiceRole.
type AccessRule struct {
	Services    []string         `yaml:"services"`
	Hosts       []string         `yaml:"hosts"`
	NotHosts    []string         `yaml:"notHosts"`
	Paths       []string         `yaml:"paths"`
	NotPaths    []string         `yaml:"notPaths"`
	Methods     []string         `yaml:"methods"`
	NotMethods  []string         `yaml:"notMethods"`
	Ports       []int32          `yaml:"ports"`
	NotPorts    []int32          `yaml:"notPorts"`
	Constraints []RoleConstraint `yaml:"constraints"`
}

// RoleConstraint is an extra attribute condition of an AccessRule.
type RoleConstraint struct {
	Key    string   `yaml:"key"`
	Values []string `yaml:"values"`
}

// ServiceRoleBinding is the spec of an rbac.istio.io/v1alpha1
// ServiceRoleBinding.
type ServiceRoleBinding struct {
	Subjects []Subject `yaml:"subjects"`
	RoleRef  *RoleRef  `yaml:"roleRef"`
	// Role names the ServiceRole ("name" or "/name") instead of RoleRef.
	Role string `yaml:"role"`
	// Actions are inline access rules used instead of a role.
	Actions []AccessRule `yaml:"actions"`
	// Mode is ENFORCED (default) or PERMISSIVE (dry-run).
	Mode string `yaml:"mode"`
}

// RoleRef references a ServiceRole in the binding's namespace.
type RoleRef struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// Subject is one identity a binding grants its role to.
type Subject struct {
	User          string            `yaml:"user"`
	Group         string            `yaml:"group"`
	Names         []string          `yaml:"names"`
	NotNames      []string          `yaml:"notNames"`
	Groups        []string          `yaml:"groups"`
	NotGroups     []string          `yaml:"notGroups"`
	Namespaces    []string          `yaml:"namespaces"`
	NotNamespaces []string          `yaml:"notNamespaces"`
	IPs           []string          `yaml:"ips"`
	NotIPs        []string          `yaml:"notIps"`
	Properties    map[string]string `yaml:"properties"`
}
