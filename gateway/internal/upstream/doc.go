// Package upstream is gatehouse's side of the upstreams: what a route's
// destination resolves to and how a request reaches it.
//
//   - Schema (schema.go): networking.istio.io ServiceEntry and
//     DestinationRule as decoded from YAML.
//   - Compile: NewRegistry validates them (problems go to a
//     config.Problems) and indexes them by host; EffectivePolicy merges a
//     DestinationRule's traffic policy for one port and subset into a
//     Policy, from which come Limits (connection pool and circuit
//     breakers), an OutlierConfig, a HashPolicy (consistent-hash keys) and
//     the compiled upstream TLS (ClientTLS).
//   - Clusters: a Builder resolves each route destination (host, subset,
//     port) into a Cluster once per compile: its endpoints, each on a
//     Pool, its balancer (round robin, least request weighted by
//     endpoint weight, random, ring hash), its limits and outlier
//     detection, which ejects endpoints after consecutive 5xx or gateway
//     errors. Pick chooses an endpoint for an attempt; Send runs it.
//   - Connections and exchanges live in the transport sub-package.
//
// The package never imports gateway, listener, proxy, accesslog or
// metrics: what it needs of the server (the dialer, the files TLS reads)
// is passed in as values and functions.
package upstream
