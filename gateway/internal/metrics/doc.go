// Package metrics keeps a gateway's Prometheus metrics: Istio's standard
// metrics as an ingress gateway reports them (istio_requests_total,
// istio_request_duration_milliseconds, istio_request_bytes,
// istio_response_bytes, istio_tcp_*), gatehouse's own counters of what it
// refuses at the edge and of its configuration, and the Go and process
// collectors, on a registry of its own that Register serves.
//
// Requests are recorded from their access-log Entry: the destination
// service, status, flags, sizes and duration are plain values there, so
// the package never sees the gateway's upstream types. Recording a request
// in steady state allocates nothing.
package metrics
