package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/authz"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/legacy"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
	"github.com/gatehouse-proxy/gatehouse/router"
)

// spec returns a kind's decoder: its typed envelope.
func spec[T any]() func() config.Holder { return config.Spec[T]() }

// groupKinds lists, per API group, the versions Istio serves and the kinds
// gatehouse reads.
var groupKinds = map[string]struct {
	versions []string
	kinds    map[string]config.KindInfo
}{
	"networking.istio.io": {
		versions: []string{"v1", "v1beta1", "v1alpha3"},
		kinds: map[string]config.KindInfo{
			"Gateway":         {NewSpec: spec[listener.GatewaySpec]()},
			"VirtualService":  {NewSpec: spec[router.VirtualService]()},
			"DestinationRule": {NewSpec: spec[upstream.DestinationRuleSpec]()},
			"ServiceEntry":    {NewSpec: spec[upstream.ServiceEntrySpec]()},
			"EnvoyFilter":     {NewSpec: spec[mesh.EnvoyFilterSpec]()},
			"Sidecar":         {IgnoreWhy: "Sidecar configures mesh sidecars, not a gateway"},
			"WorkloadGroup":   {IgnoreWhy: "WorkloadGroup only means something to istiod's auto-registration"},
			"ProxyConfig":     {IgnoreWhy: "ProxyConfig tunes Envoy internals gatehouse does not have"},
		},
	},
	"security.istio.io": {
		versions: []string{"v1", "v1beta1"},
		kinds: map[string]config.KindInfo{
			"AuthorizationPolicy":   {NewSpec: spec[authz.AuthorizationPolicy]()},
			"RequestAuthentication": {NewSpec: spec[authz.RequestAuthentication]()},
			"PeerAuthentication":    {IgnoreWhy: "PeerAuthentication sets mesh mTLS between sidecars; a gateway's client TLS is set on the Gateway server"},
		},
	},
	"authentication.istio.io": {
		versions: []string{"v1alpha1"},
		kinds: map[string]config.KindInfo{
			"Policy":     {NewSpec: spec[authz.LegacyPolicy]()},
			"MeshPolicy": {NewSpec: spec[authz.LegacyPolicy]()},
		},
	},
	"rbac.istio.io": {
		versions: []string{"v1alpha1"},
		kinds: map[string]config.KindInfo{
			"RbacConfig":         {NewSpec: spec[authz.RbacConfig]()},
			"ClusterRbacConfig":  {NewSpec: spec[authz.RbacConfig]()},
			"ServiceRole":        {NewSpec: spec[authz.ServiceRole]()},
			"ServiceRoleBinding": {NewSpec: spec[authz.ServiceRoleBinding]()},
		},
	},
	"install.istio.io": {
		versions: []string{"v1alpha1"},
		kinds:    map[string]config.KindInfo{"IstioOperator": {NewSpec: spec[mesh.IstioOperatorSpec]()}},
	},
	"": { // the Kubernetes core group: apiVersion "v1"
		versions: []string{"v1"},
		kinds: map[string]config.KindInfo{"ConfigMap": {OnlyName: "istio",
			NewSpec: func() config.Holder { return &mesh.ConfigMapEnvelope{} }}},
	},
	"extensions": {
		versions: []string{"v1beta1"},
		kinds:    map[string]config.KindInfo{"Ingress": {NewSpec: spec[legacy.IngressSpec]()}},
	},
	"networking.k8s.io": {
		versions: []string{"v1", "v1beta1"},
		kinds: map[string]config.KindInfo{
			"Ingress":      {NewSpec: spec[legacy.IngressSpec]()},
			"IngressClass": {IgnoreWhy: "gatehouse serves Ingresses of class \"istio\" (annotation kubernetes.io/ingress.class or spec.ingressClassName) without reading IngressClass resources"},
		},
	},
	"config.istio.io": {
		versions: []string{"v1alpha2"},
		kinds: map[string]config.KindInfo{
			"RouteRule":         {NewSpec: spec[legacy.RouteRuleSpec]()},
			"DestinationPolicy": {IgnoreWhy: "Istio 0.x DestinationPolicy is not translated; write a networking.istio.io DestinationRule"},
		},
	},
	"telemetry.istio.io": {
		versions: []string{"v1", "v1alpha1"},
		kinds: map[string]config.KindInfo{
			"Telemetry": {IgnoreWhy: "use meshConfig accessLogFile for access logs"},
		},
	},
}

// lookupKind returns what to do with a document; nil means the kind is not
// one gatehouse knows, and the document is skipped.
func lookupKind(apiVersion, kind string) *config.KindInfo {
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
		return &config.KindInfo{Err: fmt.Sprintf("apiVersion %s: %s serves %s in versions %s", apiVersion, group, kind, strings.Join(g.versions, ", "))}
	}
	return &k
}
