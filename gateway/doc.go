// Package gateway runs gatehouse: it loads Istio-style YAML from disk,
// compiles it into an immutable Snapshot, binds the listeners the Gateways
// declare, serves HTTP and TCP traffic against the current snapshot, and
// swaps in a new snapshot whenever the configuration changes.
//
// gateway is the front door: Server (New, Run, Reload), Options,
// Snapshot, the compile that turns decoded resources into a snapshot, the
// kind table, admin endpoints, the config dump, Check and Explain. The
// work happens in packages under gateway/internal, one concern each
// (arrows_test.go pins who may import whom):
//
//   - config: reading, decoding and watching the YAML; file:line problems.
//   - mesh: meshConfig, PROXY protocol settings, Gateway annotations.
//   - legacy: Ingress and RouteRule translated to Istio resources.
//   - listener: the Gateway schema and compile, and the runtime listeners
//     (accept, PROXY protocol, TLS/SNI, the HTTP/1.1 and HTTP/2 front ends
//     with their request guards h1guard and h2guard; handoff passes
//     accepted connections to them).
//   - downstream: the request view and response interface the pipeline
//     sees, whatever HTTP engine parsed the request; downstream/nethttp is
//     net/http's adapter to it, the only place its request and writer
//     types appear (engine_types_test.go pins that).
//   - upstream: ServiceEntry and DestinationRule, clusters, balancers,
//     outlier detection; upstream/transport: pools, HTTP/1.1 and HTTP/2
//     clients, limits.
//   - proxy: the request pipeline (decide, plan, forward, retries,
//     mirrors, local replies, TCP forwarding) and explain, which runs it;
//     proxy/forwarded: client addresses and forwarding headers;
//     proxy/relay: byte relays for TCP and upgraded connections.
//   - accesslog and metrics: what every request leaves behind.
//
// The request path reads one atomic.Pointer[Snapshot] per request (per
// connection for TCP and PROXY decisions), so a reload never blocks or
// disturbs traffic: in-flight requests finish on the snapshot they started
// with. OS resources (listeners, upstream connection pools, JWKS caches)
// outlive snapshots and are reconciled after each swap.
package gateway
