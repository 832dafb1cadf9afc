package mesh

import "github.com/gatehouse-proxy/gatehouse/gateway/internal/config"
import "github.com/gatehouse-proxy/gatehouse/api"

// The mesh-level configuration gatehouse reads: Istio's MeshConfig (from
// an IstioOperator's spec.meshConfig or the "mesh" key of the istio
// ConfigMap), the proxy.istio.io/config annotation, and EnvoyFilters that
// add the PROXY protocol listener filter. Only the fields below mean
// something to gatehouse; the many other fields of these resources are
// accepted and ignored (they configure Kubernetes, sidecars or istiod).

// IstioOperatorSpec is the spec of an install.istio.io IstioOperator.
type IstioOperatorSpec struct {
	MeshConfig *MeshConfig `yaml:"meshConfig"`
	// Rest holds every other field (profile, components, values, ...).
	Rest map[string]any `yaml:",inline"`
}

// MeshConfig is the part of Istio's mesh configuration gatehouse uses.
type MeshConfig struct {
	// AccessLogFile is where access logs go: "/dev/stdout", "/dev/stderr"
	// or a file path. Empty disables access logs.
	AccessLogFile string `yaml:"accessLogFile"`
	// AccessLogEncoding is TEXT (default) or JSON.
	AccessLogEncoding string `yaml:"accessLogEncoding"`
	// AccessLogFormat is an Envoy format string; empty is Istio's default.
	AccessLogFormat string `yaml:"accessLogFormat"`
	// DefaultConfig is the default proxy configuration of every gateway.
	DefaultConfig *ProxyConfig `yaml:"defaultConfig"`
	// PathNormalization sets how request paths are normalized before
	// policy and routing.
	PathNormalization *PathNormalization `yaml:"pathNormalization"`
	// RootNamespace holds mesh-wide security policies (default
	// istio-system).
	RootNamespace string `yaml:"rootNamespace"`
	// IngressClass is the Ingress class gatehouse serves (default istio).
	IngressClass string `yaml:"ingressClass"`
	// Rest holds every other MeshConfig field.
	Rest map[string]any `yaml:",inline"`
}

// PathNormalization is MeshConfig.pathNormalization.
type PathNormalization struct {
	// Normalization is DEFAULT, NONE, BASE, MERGE_SLASHES or
	// DECODE_AND_MERGE_SLASHES.
	Normalization string `yaml:"normalization"`
}

// ProxyConfig is the proxy.istio.io/config annotation, or
// meshConfig.defaultConfig.
type ProxyConfig struct {
	GatewayTopology *Topology `yaml:"gatewayTopology"`
	// TerminationDrainDuration is how long the gateway keeps accepting
	// connections after it was told to stop, asking clients to move
	// (Istio's default 5s), so that a load balancer notices first.
	TerminationDrainDuration *api.Duration `yaml:"terminationDrainDuration"`
	// Rest holds every other ProxyConfig field.
	Rest map[string]any `yaml:",inline"`
}

// Topology describes the network in front of the gateway.
type Topology struct {
	// NumTrustedProxies is how many proxies in front of the gateway append
	// to X-Forwarded-For: the client address is the Nth from the right.
	NumTrustedProxies *uint32 `yaml:"numTrustedProxies"`
	// ForwardClientCertDetails is how X-Forwarded-Client-Cert is handled.
	ForwardClientCertDetails string `yaml:"forwardClientCertDetails"`
	// ProxyProtocol, when present, makes every listener expect a PROXY
	// protocol header.
	ProxyProtocol *ProxyProtocolSettings `yaml:"proxyProtocol"`
}

// ProxyProtocolSettings is Topology.proxyProtocol, an empty object in
// Istio.
type ProxyProtocolSettings struct {
	Rest map[string]any `yaml:",inline"`
}

// EnvoyFilterSpec is the spec of a networking.istio.io EnvoyFilter.
// gatehouse has no Envoy to patch: it understands the patches that add the
// PROXY protocol listener filter and ignores the rest with a warning.
type EnvoyFilterSpec struct {
	WorkloadSelector *api.WorkloadSelector `yaml:"workloadSelector"`
	TargetRefs       []map[string]any      `yaml:"targetRefs"`
	ConfigPatches    []EnvoyConfigPatch    `yaml:"configPatches"`
	Priority         int32                 `yaml:"priority"`
}

// EnvoyConfigPatch is one configPatches entry.
type EnvoyConfigPatch struct {
	ApplyTo string         `yaml:"applyTo"`
	Match   map[string]any `yaml:"match"`
	Patch   *EnvoyPatch    `yaml:"patch"`
}

// EnvoyPatch is the patch of an EnvoyConfigPatch: an operation and an
// Envoy configuration fragment.
type EnvoyPatch struct {
	Operation   string `yaml:"operation"`
	Value       any    `yaml:"value"`
	FilterClass string `yaml:"filterClass"`
}

// ConfigMapEnvelope is a Kubernetes ConfigMap; gatehouse reads the
// "mesh" key of the one named istio.
type ConfigMapEnvelope struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   config.Ignored    `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	BinaryData map[string]string `yaml:"binaryData"`
	Immutable  *bool             `yaml:"immutable"`
}

func (e *ConfigMapEnvelope) SpecPtr() any { return &e.Data }
