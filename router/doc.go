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
// order, catch-all routes moved last, exact-then-wildcard virtual host choice
// with no fallback between virtual hosts.
//
// A Table is immutable after BuildTable and safe for concurrent use. Matching
// a request allocates nothing.
package router
