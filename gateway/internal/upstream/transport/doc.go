// Package transport is how a request reaches an upstream endpoint: the
// connections and the exchanges on them, below the clusters of package
// upstream.
//
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
// Limits (a cluster's connection-pool settings) are defined here, since
// pools and the limiter enforce them; package upstream compiles them from
// a DestinationRule.
package transport
