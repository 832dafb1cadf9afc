package forwarded

import (
	"net/http"
	"strings"
)

// HopHeaders concern one connection only and never cross the gateway, in
// either direction (RFC 9110 7.6.1, plus the ones net/http's ReverseProxy
// and Envoy also drop).
var HopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Http2-Settings",
}

// Sanitize removes from a request's headers what must not
// reach the upstream and what a client may not set for it: hop-by-hop
// headers and those its Connection header names, Envoy's x-envoy-*
// control headers. X-Forwarded-Client-Cert is setForwardingHeaders'. It
// runs before anything else reads or adds headers.
func Sanitize(h http.Header) {
	for _, v := range h["Connection"] {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			if tok = strings.TrimSpace(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	for _, k := range HopHeaders {
		delete(h, k)
	}
	for k := range h {
		if len(k) > 8 && strings.EqualFold(k[:8], "x-envoy-") {
			delete(h, k)
		}
	}
}
