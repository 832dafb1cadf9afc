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
//   - Connections: a PoolSet owns every Pool, keyed by address and how
//     connections are made (PoolKey); pools outlive configuration
//     snapshots, so a reload keeps warm connections. A Pool speaks
//     HTTP/1.1 with gatehouse's own client (pooled connections, checked
//     for a close by the upstream before reuse) or HTTP/2 over
//     net/http's ClientConn, one stream per attempt. A Limiter enforces a
//     cluster's maxConnections and http1MaxPendingRequests.
//   - Exchange: an Engine sends one Request (the head to write, with the
//     client's side behind the Client interface, which the proxy
//     implements) on a Pool and returns the response head; the body
//     streams from it. Failures are the error types of errors.go
//     (ConnectError, ResetError, ProtocolError, ClientBodyError,
//     RequestError, RefusedStreamError, ErrOverflow, ErrStreamIdle,
//     ErrNoHealthy), which the proxy turns into Envoy's local replies and
//     response flags.
//
// The package never imports gateway, listener, proxy, accesslog or
// metrics: what it needs of the server (the dialer, the files TLS reads)
// is passed in as values and functions.
package upstream
