package authz

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// decodeStrict decodes doc as the gateway does: unknown fields are errors.
func decodeStrict[T any](t *testing.T, doc string) *T {
	t.Helper()
	var v T
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &v
}

const fullAuthorizationPolicy = `
selector: {matchLabels: {istio: ingressgateway}}
action: DENY
rules:
- from:
  - source:
      principals: [cluster.local/ns/a/sa/b]
      notPrincipals: ["*"]
      requestPrincipals: ["https://idp/*"]
      notRequestPrincipals: [x/y]
      namespaces: [a]
      notNamespaces: [b]
      trustDomains: [cluster.local]
      notTrustDomains: [other]
      ipBlocks: [10.0.0.0/8]
      notIpBlocks: [10.1.0.0/16]
      remoteIpBlocks: [203.0.113.0/24]
      notRemoteIpBlocks: [203.0.113.7]
  - source:
      serviceAccounts: [ns/sa]
      notServiceAccounts: [sa2]
  to:
  - operation:
      hosts: [example.com]
      notHosts: ["*.internal"]
      ports: ["8080"]
      notPorts: ["9090"]
      methods: [GET]
      notMethods: [DELETE]
      paths: ["/api/{*}"]
      notPaths: ["/api/admin"]
  when:
  - key: request.headers[x-role]
    values: [admin]
    notValues: [guest]
`

const fullRequestAuthentication = `
targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: gw, namespace: ns}]
jwtRules:
- issuer: https://idp
  audiences: [api]
  jwksUri: https://idp/jwks
  fromHeaders: [{name: x-jwt, prefix: "Bearer "}]
  fromParams: [token]
  fromCookies: [session]
  outputPayloadToHeader: x-jwt-payload
  outputClaimToHeaders: [{header: x-sub, claim: sub}]
  forwardOriginalToken: true
  timeout: 3s
  spaceDelimitedClaims: [roles]
- issuer: https://other
  jwks_uri: https://other/jwks
`

const fullLegacyPolicy = `
targets:
- name: productpage
  labels: {app: productpage}
  ports: [{number: 9080}, {name: http}]
peers:
- mtls: {mode: PERMISSIVE, allowTls: true}
peerIsOptional: true
origins:
- jwt:
    issuer: https://idp
    audiences: [api]
    jwksUri: https://idp/jwks
    jwtHeaders: [x-jwt]
    jwtParams: [token]
    triggerRules:
    - excludedPaths: [{exact: /health}, {prefix: /status}, {suffix: .css}, {regex: "/pub.*"}]
      includedPaths: [{prefix: /}]
originIsOptional: false
principalBinding: USE_ORIGIN
`

const fullRBAC = `
config:
  mode: ON_WITH_INCLUSION
  inclusion: {services: [a.default.svc.cluster.local], namespaces: [default]}
  exclusion: {services: [], namespaces: []}
  enforcementMode: ENFORCED
role:
  rules:
  - services: ["*"]
    hosts: [a]
    notHosts: [b]
    paths: [/x]
    notPaths: [/y]
    methods: [GET]
    notMethods: [POST]
    ports: [80]
    notPorts: [81]
    constraints: [{key: "request.headers[H1]", values: [FRED]}]
binding:
  subjects:
  - user: "*"
    group: g
    names: [n]
    notNames: [m]
    groups: [g1]
    notGroups: [g2]
    namespaces: [ns]
    notNamespaces: [ns2]
    ips: [10.0.0.1]
    notIps: [10.0.0.2]
    properties: {"request.headers[H1]": FRED}
  roleRef: {kind: ServiceRole, name: role}
  mode: PERMISSIVE
`

// Every field Istio defines decodes with KnownFields(true) and compiles.
func TestDecodeEveryField(t *testing.T) {
	t.Parallel()
	p := decodeStrict[AuthorizationPolicy](t, fullAuthorizationPolicy)
	_, errs := CompileAuthorizationPolicy(meta("ns", "p"), p)
	noErrors(t, errs)
	ra := decodeStrict[RequestAuthentication](t, fullRequestAuthentication)
	a, errs := CompileRequestAuthentication(meta("ns", "ra"), ra)
	if noErrors(t, errs); a.rules[1].jwksURI != "https://other/jwks" || a.rules[0].timeout.String() != "3s" {
		t.Errorf("decoded rules: %+v %+v", a.rules[0], a.rules[1])
	}
	lp := decodeStrict[LegacyPolicy](t, fullLegacyPolicy)
	_, errs = CompileLegacyPolicy(meta("default", "p"), lp, false)
	noErrors(t, errs)
	rb := decodeStrict[struct {
		Config  RbacConfig         `yaml:"config"`
		Role    ServiceRole        `yaml:"role"`
		Binding ServiceRoleBinding `yaml:"binding"`
	}](t, fullRBAC)
	_, errs = CompileRBAC(&rb.Config, map[string]*ServiceRole{"default/role": &rb.Role},
		map[string]*ServiceRoleBinding{"default/b": &rb.Binding})
	noErrors(t, errs)
}

// "from: []" is detected after a YAML decode; an unknown field is not.
func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	p := decodeStrict[AuthorizationPolicy](t, "rules:\n- from: []\n  to:\n  - operation: {}\n")
	_, errs := CompileAuthorizationPolicy(meta("ns", "p"), p)
	wantErr(t, errs, "spec.rules[0].from", "must not be empty", false)
	wantErr(t, errs, "spec.rules[0].to[0].operation", "must not be empty", false)
	var ap AuthorizationPolicy
	dec := yaml.NewDecoder(strings.NewReader("rules:\n- to:\n  - operation: {pathz: [/x]}\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&ap); err == nil || !strings.Contains(err.Error(), "pathz") {
		t.Errorf("unknown field: %v", err)
	}
}
