package gateway

import (
	"slices"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/api"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// The generated resources carry names, namespaces and bindings as Istio
// derives them, and point at the Ingress's own document.
func TestLegacyIngressMetadata(t *testing.T) {
	t.Parallel()
	l := legacyLoad(t, legacyFixture(t, "simple-ingress.yaml"))
	gw := l.find("Gateway", walkthroughGW)
	vs := l.find("VirtualService", walkthroughVS)
	spec := vs.Spec.(*router.VirtualService)
	if !slices.Equal(spec.Hosts, []string{"*"}) || !slices.Equal(spec.Gateways, []string{walkthroughGW}) {
		t.Errorf("hosts %v gateways %v, want [*] [%s]", spec.Hosts, spec.Gateways, walkthroughGW)
	}
	if got := vs.Meta.Annotations["internal.istio.io/route-semantics"]; got != "ingress" {
		t.Errorf("route-semantics annotation = %q", got)
	}
	for _, r := range []*config.Resource{gw, vs} {
		if r.File != "legacy.yaml" || r.Line != 2 || r.Node() == nil || r.APIVersion != "networking.istio.io/v1alpha3" {
			t.Errorf("%s %s: file %q line %d doc %v apiVersion %q; want the Ingress's document (legacy.yaml:2)", r.Kind, r.Meta.Key(), r.File, r.Line, r.Node() != nil, r.APIVersion)
		}
	}
	// A later problem about a generated field lands on the Ingress.
	if p := vs.Problem(api.Errorf("spec.http[1].route[0].destination.port.number", "x"), true); p.File != "legacy.yaml" || p.Line != 8 {
		t.Errorf("problem at %s:%d, want legacy.yaml:8 (spec)", p.File, p.Line)
	}
}

// gatewaysExist checks that every generated VirtualService is bound to a
// generated Gateway.
func (l *legacyResult) gatewaysExist() {
	l.t.Helper()
	for _, r := range l.gen {
		if vs, ok := r.Spec.(*router.VirtualService); ok {
			for _, g := range vs.Gateways {
				l.find("Gateway", g)
			}
		}
	}
}

// Unknown fields are refused in both Ingress forms and in RouteRules, and
// status (which kubectl get -o yaml includes) is accepted.
func TestLegacyUnknownFields(t *testing.T) {
	t.Parallel()
	l := legacyLoad(t, `apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: typo, annotations: {kubernetes.io/ingress.class: istio}}
spec:
  rules:
  - http:
      paths:
      - path: /
        backend: {serviceName: a, servicePortt: 80}
status:
  loadBalancer:
    ingress: [{ip: 10.0.0.1}]
---
apiVersion: config.istio.io/v1alpha2
kind: RouteRule
metadata: {name: typo}
spec:
  destination: {name: a}
  match:
    request:
      headers:
        uri: {prefx: /a}
  httpReqTimeout: {simpleTimeout: {timeout: 1s, bogus: 1}}
`)
	l.wantProblems(true,
		`E 9: Ingress default/typo: spec.rules[0].http.paths[0].backend.servicePortt: unknown field "servicePortt"`,
		`E 22: RouteRule default/typo: spec.match.request.headers.uri: unknown field "prefx"`,
		`E 23: RouteRule default/typo: spec.httpReqTimeout.simpleTimeout.bogus: unknown field "bogus"`,
	)
	if len(l.gen) != 0 {
		t.Errorf("generated %v from documents that did not decode", l.keys())
	}
}
