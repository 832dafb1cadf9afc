// Package nethttp is net/http's adapter to the request pipeline: it turns
// each *http.Request into a downstream.Request, wraps the
// http.ResponseWriter in a downstream.ResponseWriter, and calls the
// pipeline's downstream.Handler. It serves the HTTP/2 connections of
// x/net/http2 (ALPN h2, h2c) and, until the HTTP/1.1 engine changes,
// HTTP/1.1 too. No net/http request or writer passes below it.
package nethttp
