// Package router compiles Istio VirtualServices into immutable route tables
// and matches requests against them.
//
// It is pure: no I/O, no logging, no knowledge of listeners or upstreams.
// The gateway hands it the VirtualService schema values (types.go), the
// Gateway servers that share one route table, and a Resolver that turns a
// destination into an opaque UpstreamID. CompileVirtualService validates one
// resource and returns errors with YAML field paths; BuildTable merges the
// compiled VirtualServices bound to a set of servers into a *Table, following
// Istio's rules (istio-api.md sections 1 and 3): host intersection, merge
// order, delegate VirtualServices merged into their root routes, catch-all
// routes moved last, exact-then-wildcard virtual host choice with no
// fallback between virtual hosts. Problems found while building (a missing
// delegate) are in Table.Warnings.
//
// A Table is immutable after BuildTable and safe for concurrent use. Matching
// a request allocates nothing.
//
// # Executing a matched route
//
// A matched *Route carries an Action, compiled and validated once, plus the
// per-table Forward destinations and Mirrors. The runtime helpers take the
// random numbers they need as arguments, so the gateway owns randomness.
// The gateway executes a route in the order of Envoy's filter chain on an
// Istio gateway:
//
//  1. Fault: sleep Action.Fault.Delay(rnd); then if Fault.Abort(rnd2)
//     aborts, answer with FaultAbortBody (a trailers-only reply for a gRPC
//     abort). No CORS or route headers are added.
//  2. CORS: for method OPTIONS, Action.CORS.Preflight; when handled,
//     answer 200 with its headers and stop.
//  3. Redirect (Redirect.Location, status Redirect.Code, empty body) or
//     DirectResponse (Status, Body), with the response header operations
//     Action.ResponseHeaders and the CORS ResponseHeaders.
//  4. Forward: pick a Dest with Forward.Pick; if Action.Rewrite is set,
//     store the original path in OriginalPathHeader and use Rewrite.Path;
//     set the Host to Dest.Authority when not empty; apply
//     Dest.RequestHeaders.
//  5. Send with Action.Timeout over the whole exchange and Action.Retry
//     (nil: no retries), using its predicates and Backoff between tries.
//     Start each Mirror whose Sample passes with a copy of the request as
//     modified in step 4.
//  6. Apply Dest.ResponseHeaders, then the CORS ResponseHeaders (which
//     overwrite the upstream's), to the response.
package router
