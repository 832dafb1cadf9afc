// Package forwarded decides who a request's client is and what the
// upstream is told about it, as an Istio gateway's Envoy does: the peer,
// downstream and trusted client addresses (PROXY protocol, X-Forwarded-For
// with numTrustedProxies), the headers a client may not set (hop-by-hop,
// x-envoy-*, forwarding and method-override headers), and the ones the
// gateway sets (X-Forwarded-For, X-Forwarded-Proto, X-Envoy-External-Address,
// X-Request-Id, X-Forwarded-Client-Cert).
package forwarded
