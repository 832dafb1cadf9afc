package gateway

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/router"
	"gopkg.in/yaml.v3"
)

// meshSettings is the mesh-level configuration of one load, and what
// EnvoyFilters and proxy.istio.io/config annotations add per listener.
type meshSettings struct {
	accessLogFile     string
	accessLogEncoding string
	accessLogFormat   string
	// accessLogFrom is the resource that configured the access log, for
	// reporting a file that cannot be opened.
	accessLogFrom *resource
	pathMode      router.PathMode
	trustedHops   uint32
	xfcc          xfccMode
	rootNamespace string
	ingressClass  string
	// proxy is the mesh-wide PROXY protocol (gatewayTopology.proxyProtocol).
	proxy *proxySettings
	// filterAll and filterPort come from EnvoyFilters, for every listener
	// or for one port.
	filterAll  *proxySettings
	filterPort map[uint32]*proxySettings
	// filterFrom names where each filterPort entry was set, for the
	// warning when no listener has that port.
	filterFrom map[uint32]fieldRef
	// gateways holds each Gateway's own topology, from its annotation.
	gateways map[string]gatewayTopology
	// drainDelay is defaultConfig.terminationDrainDuration, when set.
	drainDelay    time.Duration
	drainDelaySet bool
	// gwOptions holds each Gateway's request-handling annotations.
	gwOptions map[string]gatewayOptions
}

// fieldRef names a field of a resource.
type fieldRef struct {
	r    *resource
	path string
}

type gatewayTopology struct {
	trustedHops *uint32
	proxy       *proxySettings
	xfcc        *xfccMode
}

// compileMesh reads the mesh configuration: one IstioOperator or istio
// ConfigMap, the EnvoyFilters, and the Gateways' annotations.
func compileMesh(byKind map[string][]*resource, ps *problems) *meshSettings {
	m := &meshSettings{rootNamespace: "istio-system", ingressClass: "istio", filterPort: map[uint32]*proxySettings{}, filterFrom: map[uint32]fieldRef{}, gateways: map[string]gatewayTopology{}, gwOptions: map[string]gatewayOptions{}}
	var sources []*resource
	sources = append(sources, byKind["IstioOperator"]...)
	for _, r := range byKind["ConfigMap"] {
		if r.Meta.Name == "istio" {
			sources = append(sources, r)
		}
	}
	sortResources(sources)
	for i, r := range sources {
		if i > 0 {
			ps.warnf(r, "metadata", "ignored: the mesh configuration comes from %s %s", sources[0].Kind, sources[0].Meta.Key())
			continue
		}
		if mc, path := meshConfigOf(r, ps); mc != nil {
			m.apply(r, path, mc, ps)
		}
	}
	for _, r := range byKind["EnvoyFilter"] {
		m.envoyFilter(r, ps)
	}
	for _, r := range byKind["Gateway"] {
		m.gwOptions[r.Meta.Key()] = gatewayOptionsOf(r, ps)
		if v, ok := r.Meta.Annotations[annotationProxyConfig]; ok {
			if pc := parseProxyConfig(r, v, ps); pc != nil && pc.GatewayTopology != nil {
				t := pc.GatewayTopology
				gt := gatewayTopology{trustedHops: t.NumTrustedProxies}
				if t.ForwardClientCertDetails != "" {
					mode := parseXFCCMode(r, "metadata.annotations", t.ForwardClientCertDetails, ps)
					gt.xfcc = &mode
				}
				if t.ProxyProtocol != nil {
					gt.proxy = proxySettingsOf(r, false, ps)
				}
				m.gateways[r.Meta.Key()] = gt
			}
		}
	}
	return m
}

// meshConfigOf returns the MeshConfig of an IstioOperator or of the mesh
// key of the istio ConfigMap, with the YAML path to report problems at.
func meshConfigOf(r *resource, ps *problems) (*MeshConfig, string) {
	if r.Kind == "IstioOperator" {
		return r.Spec.(*IstioOperatorSpec).MeshConfig, "spec.meshConfig"
	}
	data := *r.Spec.(*map[string]string)
	text, ok := data["mesh"]
	if !ok {
		ps.warnf(r, "data", "the istio ConfigMap has no \"mesh\" key; nothing to read")
		return nil, ""
	}
	var mc MeshConfig
	if err := yaml.Unmarshal([]byte(text), &mc); err != nil {
		ps.errf(r, "data.mesh", "%v", err)
		return nil, ""
	}
	return &mc, "data.mesh"
}

func (m *meshSettings) apply(r *resource, path string, mc *MeshConfig, ps *problems) {
	m.accessLogFile, m.accessLogFormat = mc.AccessLogFile, mc.AccessLogFormat
	switch e := strings.ToUpper(mc.AccessLogEncoding); e {
	case "", "TEXT", "JSON":
		m.accessLogEncoding = e
		if _, err := accesslog.NewFormat(e, mc.AccessLogFormat); err != nil {
			ps.errf(r, path+".accessLogFormat", "%v", err)
		}
	default:
		ps.errf(r, path+".accessLogEncoding", "unknown encoding %q: want TEXT or JSON", mc.AccessLogEncoding)
	}
	m.accessLogFrom = r
	if pn := mc.PathNormalization; pn != nil {
		mode, ok := router.ParsePathMode(pn.Normalization)
		if !ok {
			ps.errf(r, path+".pathNormalization.normalization", "unknown normalization %q: want NONE, BASE, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES", pn.Normalization)
		}
		m.pathMode = mode
	}
	if mc.RootNamespace != "" {
		m.rootNamespace = mc.RootNamespace
	}
	if mc.IngressClass != "" {
		m.ingressClass = mc.IngressClass
	}
	if dc := mc.DefaultConfig; dc != nil && dc.TerminationDrainDuration != nil {
		m.drainDelay = time.Duration(*dc.TerminationDrainDuration)
		m.drainDelaySet = true
	}
	if dc := mc.DefaultConfig; dc != nil && dc.GatewayTopology != nil {
		t := dc.GatewayTopology
		if t.NumTrustedProxies != nil {
			m.trustedHops = *t.NumTrustedProxies
		}
		m.xfcc = parseXFCCMode(r, path+".defaultConfig.gatewayTopology.forwardClientCertDetails", t.ForwardClientCertDetails, ps)
		if t.ProxyProtocol != nil {
			m.proxy = proxySettingsOf(r, false, ps)
		}
	}
}

// envoyFilter reads the PROXY protocol listener filter from an
// EnvoyFilter; every other patch is reported as ignored.
func (m *meshSettings) envoyFilter(r *resource, ps *problems) {
	spec := r.Spec.(*EnvoyFilterSpec)
	for i, cp := range spec.ConfigPatches {
		path := fmt.Sprintf("spec.configPatches[%d]", i)
		if ctx := nested(cp.Match, "context"); ctx != nil && ctx != "GATEWAY" && ctx != "ANY" {
			continue // a sidecar patch: nothing to do at a gateway
		}
		found, allowMissing := proxyProtocolFilter(cp)
		if !found {
			ps.warnf(r, path, "ignored: gatehouse has no Envoy to patch and only understands EnvoyFilters that add the envoy.listener.proxy_protocol listener filter")
			continue
		}
		p := proxySettingsOf(r, allowMissing, ps)
		switch port := nested(cp.Match, "listener", "portNumber"); port := port.(type) {
		case int:
			m.filterPort[uint32(port)] = p
			m.filterFrom[uint32(port)] = fieldRef{r, path + ".match.listener.portNumber"}
		case nil:
			m.filterAll = p
		default:
			ps.errf(r, path+".match.listener.portNumber", "want a port number, got %v", port)
		}
	}
}

// checkFilterPorts warns about EnvoyFilters for a port no Gateway server
// listens on: a PROXY protocol filter that silently applies to nothing
// would leave every client looking like the load balancer.
func (m *meshSettings) checkFilterPorts(listeners map[listenerKey]*listenerConfig, ps *problems) {
	for _, port := range slices.Sorted(maps.Keys(m.filterFrom)) {
		at := m.filterFrom[port]
		used := false
		for k := range listeners {
			used = used || k.Port == port
		}
		if !used {
			ps.warnf(at.r, at.path, "no Gateway server listens on port %d, so this PROXY protocol filter applies to no listener (gatehouse listens on the Gateway servers' port numbers; inside a cluster Envoy's listener is the container port, such as 8080 for a Gateway port 80)", port)
		}
	}
}

// proxyProtocolFilter reports whether a patch adds the PROXY protocol
// listener filter, and whether it lets connections without a header in.
func proxyProtocolFilter(cp EnvoyConfigPatch) (found, allowMissing bool) {
	if cp.Patch == nil {
		return false, false
	}
	var filters []any
	switch cp.ApplyTo {
	case "LISTENER":
		for _, k := range []string{"listener_filters", "listenerFilters"} {
			if fs, ok := nested(cp.Patch.Value, k).([]any); ok {
				filters = append(filters, fs...)
			}
		}
	case "LISTENER_FILTER":
		filters = []any{cp.Patch.Value}
	}
	for _, f := range filters {
		switch nested(f, "name") {
		case "envoy.listener.proxy_protocol", "envoy.filters.listener.proxy_protocol":
			found = true
			for _, k := range []string{"typed_config", "typedConfig"} {
				for _, a := range []string{"allow_requests_without_proxy_protocol", "allowRequestsWithoutProxyProtocol"} {
					if v, ok := nested(f, k, a).(bool); ok && v {
						allowMissing = true
					}
				}
			}
		}
	}
	return found, allowMissing
}

// nested looks up keys in a decoded YAML value.
func nested(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// proxyFor returns the PROXY settings of a listener: a Gateway's own
// annotation first, then an EnvoyFilter for its port, for every listener,
// then the mesh default.
func (m *meshSettings) proxyFor(port uint32, gateways []string) *proxySettings {
	for _, g := range gateways {
		if t, ok := m.gateways[g]; ok && t.proxy != nil {
			return t.proxy
		}
	}
	if p := m.filterPort[port]; p != nil {
		return p
	}
	if m.filterAll != nil {
		return m.filterAll
	}
	return m.proxy
}

// xfccFor returns forwardClientCertDetails for a listener's Gateways.
func (m *meshSettings) xfccFor(gateways []string) xfccMode {
	for _, g := range gateways {
		if t, ok := m.gateways[g]; ok && t.xfcc != nil {
			return *t.xfcc
		}
	}
	return m.xfcc
}

// hopsFor returns numTrustedProxies for a listener's Gateways.
func (m *meshSettings) hopsFor(gateways []string) uint32 {
	for _, g := range gateways {
		if t, ok := m.gateways[g]; ok && t.trustedHops != nil {
			return *t.trustedHops
		}
	}
	return m.trustedHops
}
