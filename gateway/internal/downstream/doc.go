// Package downstream is the request pipeline's view of a client's HTTP
// request and the interface its answer is written through, whatever HTTP
// engine served the connection.
//
// Each engine has one adapter (net/http's is package nethttp) that fills
// a Request from the engine's own request and implements ResponseWriter
// over the engine's writer, then calls a Handler: the pipeline. Nothing
// below the adapters (proxy, accesslog, upstream) sees an engine's types,
// so an engine can be replaced without touching what a request goes
// through.
//
// The package is a leaf: it imports the standard library only. Header
// maps are http.Header, and trailers are declared and set as net/http
// does (TrailerPrefix), since every engine can produce and read those.
package downstream
