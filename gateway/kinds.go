package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// kindInfo says what gatehouse does with one apiVersion group and kind.
type kindInfo struct {
	// newSpec returns a fresh envelope for the kind's typed decode; nil
	// means the kind is known but deliberately ignored (ignoreWhy says why).
	newSpec   func() specHolder
	ignoreWhy string
	// err is set when the document cannot be used at all (an apiVersion
	// of a known group that no Istio release had).
	err string
	// onlyName, when set, restricts the kind to resources of that name;
	// others are skipped (of all ConfigMaps, only "istio" matters).
	onlyName string
}

func spec[T any]() func() specHolder {
	return func() specHolder { return &envelope[T]{} }
}

// groupKinds lists, per API group, the versions Istio serves and the kinds
// gatehouse reads.
var groupKinds = map[string]struct {
	versions []string
	kinds    map[string]kindInfo
}{
	"networking.istio.io": {
		versions: []string{"v1", "v1beta1", "v1alpha3"},
		kinds: map[string]kindInfo{
			"Gateway":         {newSpec: spec[GatewaySpec]()},
			"VirtualService":  {newSpec: spec[router.VirtualService]()},
			"DestinationRule": {newSpec: spec[DestinationRuleSpec]()},
			"ServiceEntry":    {newSpec: spec[ServiceEntrySpec]()},
			"EnvoyFilter":     {newSpec: spec[EnvoyFilterSpec]()},
			"Sidecar":         {ignoreWhy: "Sidecar configures mesh sidecars, not a gateway"},
			"WorkloadGroup":   {ignoreWhy: "WorkloadGroup only means something to istiod's auto-registration"},
			"ProxyConfig":     {ignoreWhy: "ProxyConfig tunes Envoy internals gatehouse does not have"},
		},
	},
	"security.istio.io": {
		versions: []string{"v1", "v1beta1"},
		kinds: map[string]kindInfo{
			"AuthorizationPolicy":   {newSpec: spec[authz.AuthorizationPolicy]()},
			"RequestAuthentication": {newSpec: spec[authz.RequestAuthentication]()},
			"PeerAuthentication":    {ignoreWhy: "PeerAuthentication sets mesh mTLS between sidecars; a gateway's client TLS is set on the Gateway server"},
		},
	},
	"authentication.istio.io": {
		versions: []string{"v1alpha1"},
		kinds: map[string]kindInfo{
			"Policy":     {newSpec: spec[authz.LegacyPolicy]()},
			"MeshPolicy": {newSpec: spec[authz.LegacyPolicy]()},
		},
	},
	"rbac.istio.io": {
		versions: []string{"v1alpha1"},
		kinds: map[string]kindInfo{
			"RbacConfig":         {newSpec: spec[authz.RbacConfig]()},
			"ClusterRbacConfig":  {newSpec: spec[authz.RbacConfig]()},
			"ServiceRole":        {newSpec: spec[authz.ServiceRole]()},
			"ServiceRoleBinding": {newSpec: spec[authz.ServiceRoleBinding]()},
		},
	},
	"install.istio.io": {
		versions: []string{"v1alpha1"},
		kinds:    map[string]kindInfo{"IstioOperator": {newSpec: spec[IstioOperatorSpec]()}},
	},
	"": { // the Kubernetes core group: apiVersion "v1"
		versions: []string{"v1"},
		kinds: map[string]kindInfo{"ConfigMap": {onlyName: "istio",
			newSpec: func() specHolder { return &configMapEnvelope{} }}},
	},
	"extensions": {
		versions: []string{"v1beta1"},
		kinds:    map[string]kindInfo{"Ingress": {newSpec: spec[IngressSpec]()}},
	},
	"networking.k8s.io": {
		versions: []string{"v1", "v1beta1"},
		kinds: map[string]kindInfo{
			"Ingress":      {newSpec: spec[IngressSpec]()},
			"IngressClass": {ignoreWhy: "gatehouse serves Ingresses of class \"istio\" (annotation kubernetes.io/ingress.class or spec.ingressClassName) without reading IngressClass resources"},
		},
	},
	"config.istio.io": {
		versions: []string{"v1alpha2"},
		kinds: map[string]kindInfo{
			"RouteRule":         {newSpec: spec[RouteRuleSpec]()},
			"DestinationPolicy": {ignoreWhy: "Istio 0.x DestinationPolicy is not translated; write a networking.istio.io DestinationRule"},
		},
	},
	"telemetry.istio.io": {
		versions: []string{"v1", "v1alpha1"},
		kinds: map[string]kindInfo{
			"Telemetry": {ignoreWhy: "use meshConfig accessLogFile for access logs"},
		},
	},
}

// lookupKind returns what to do with a document; nil means the kind is not
// one gatehouse knows, and the document is skipped.
func lookupKind(apiVersion, kind string) *kindInfo {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	g, ok := groupKinds[group]
	if !ok {
		return nil
	}
	k, ok := g.kinds[kind]
	if !ok {
		return nil
	}
	if !slices.Contains(g.versions, version) {
		return &kindInfo{err: fmt.Sprintf("apiVersion %s: %s serves %s in versions %s", apiVersion, group, kind, strings.Join(g.versions, ", "))}
	}
	return &k
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
