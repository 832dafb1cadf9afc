// Package gateway runs gatehouse: it loads Istio-style YAML from disk,
// compiles it into an immutable Snapshot, binds the listeners the Gateways
// declare, serves HTTP and TCP traffic against the current snapshot, and
// swaps in a new snapshot whenever the configuration changes.
//
// The request path reads one atomic.Pointer[Snapshot] per request (per
// connection for TCP and PROXY decisions), so a reload never blocks or
// disturbs traffic: in-flight requests finish on the snapshot they started
// with. OS resources (listeners, upstream connection pools, JWKS caches)
// outlive snapshots and are reconciled after each swap.
//
// The package owns the Gateway, ServiceEntry, DestinationRule and mesh-level
// schemas and the loader; VirtualService routing lives in package router,
// authentication and authorization in authz, and certificates in tls.
package gateway
