// Package proxy is gatehouse's request pipeline: what happens to a
// request, or a forwarded TCP connection, between the listener that
// accepted it and the upstream that answers it. Pipeline serves against
// the current Generation (listeners, clusters, the security engine, the
// access log, mesh settings), which the gateway swaps on every reload.
//
// The pipeline sees a request as a downstream.Request and answers it
// through a downstream.ResponseWriter, whatever HTTP engine parsed it:
// each engine's adapter (downstream/nethttp) calls Pipeline.Handler's
// ServeDownstream. An HTTP request, in order (handler.go, decide.go,
// plan.go):
//
//  1. admit: refuse what no route may see (malformed targets, upgrades,
//     too many headers, underscores, path parameters), normalise the
//     path and the host once, work out the client address (PROXY
//     protocol, numTrustedProxies) and set the forwarding headers
//     (package forwarded).
//  2. decide: on a TLS listener, check that the Host belongs to the
//     server negotiated for the SNI (421 otherwise); authenticate the
//     JWT (one token per request); match the route; authorize on the
//     normalised path and its merged form; 404 or the HTTPS redirect.
//  3. plan: fault abort, CORS preflight, redirect, direct response, or
//     forward to the destination's cluster.
//  4. forward (proxy.go, exchange.go, retry.go): pick an endpoint, send the request
//     through upstream/transport with retries and a route timeout,
//     mirror it, relay the response (or tunnel an upgrade), and turn
//     failures into Envoy's local replies and response flags.
//  5. record: one access-log entry and the Istio metrics per request.
//
// Decide and plan take a Tracer: serving passes a no-op, and Explain a
// recorder, so explain runs the serving code and cannot drift from it.
// TCP routes (tcp.go) are authorized per connection and forwarded with
// half-close, idle and duration limits.
package proxy
