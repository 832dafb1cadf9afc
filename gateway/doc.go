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
// Every request and forwarded TCP connection is counted in Istio's
// standard metrics (istio_requests_total, istio_request_duration_milliseconds,
// istio_request_bytes, istio_response_bytes, istio_tcp_*), with the labels
// an Istio ingress gateway reports, on a Prometheus registry each Server
// owns and serves on its admin address (package gateway/internal/metrics).
//
// The package owns the Gateway, ServiceEntry, DestinationRule and mesh-level
// schemas and the loader; VirtualService routing lives in package router,
// authentication and authorization in authz, and certificates in tls.
package gateway
