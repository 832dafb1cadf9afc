// Package mesh reads the mesh-level configuration of one load into
// Settings: the meshConfig of an IstioOperator or of the istio ConfigMap
// (access log, pathNormalization, rootNamespace, ingressClass,
// defaultConfig.gatewayTopology and terminationDrainDuration), the
// EnvoyFilters that add the PROXY protocol listener filter, and each
// Gateway's annotations: Istio's proxy.istio.io/config and gatehouse's
// own gatehouse.io/ ones (PROXY protocol trust, path parameters, headers
// with underscores, header and connection limits, stream idle timeout).
//
// Listeners ask Settings what applies to them (ProxyFor, HopsFor,
// XFCCFor, GatewayOptions): a Gateway's own annotation first, then an
// EnvoyFilter for its port, then the mesh default.
package mesh
