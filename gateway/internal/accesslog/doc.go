// Package accesslog writes Istio-compatible access logs (meshConfig
// accessLogFile, accessLogEncoding and accessLogFormat): one line per
// request or TCP connection, in Istio's default TEXT or JSON format or in
// an Envoy format string the user writes.
//
// An Entry is the per-request record. For an HTTP request, Begin wraps the
// ResponseWriter in a Recorder that carries the Entry with the request:
// whoever answers fills it through EntryOf and Note (Envoy's response flags
// and details), and the server ends it with Finish and Release. A Format,
// compiled once from the configuration, turns an Entry into a line without
// allocating; a Writer hands lines to one goroutine that writes them in
// batches, and drops (and counts) lines rather than ever blocking a
// request.
//
// The package knows nothing of the gateway: entries hold plain strings
// (cluster name, upstream address, destination service), which the
// gateway fills.
package accesslog
