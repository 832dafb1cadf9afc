package proxy

import (
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/downstream"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream/transport"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"golang.org/x/net/http/httpguts"
)

// upgradeOf reports the protocol switch a request asks for. As at an Istio
// gateway, only WebSocket is allowed: another Upgrade gets 403, and
// Upgrade: h2c (which a plaintext HTTP2 or GRPC port performs itself) is
// dropped. An upgrade request with a body is malformed.
func upgradeOf(r *downstream.Request) (string, int) {
	u := strings.TrimSpace(r.Header.Get("Upgrade"))
	if u == "" || isH2C(u) || !transport.HeaderHasToken(r.Header["Connection"], "upgrade") {
		return "", 0
	}
	if !strings.EqualFold(u, "websocket") {
		return "", http.StatusForbidden
	}
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		return "", http.StatusBadRequest
	}
	return u, 0
}

// checkRequest refuses requests no route may see: methods that are not
// upper case (Istio rejects them), a Host or :authority with characters a
// host name cannot have (net/http checks HTTP/1 Host headers, not HTTP/2
// :authority), an HTTP/2 host field that is not :authority, CONNECT
// (Envoy's default), TRACE, an absolute-form
// target whose scheme is not the connection's, and a query of more than
// maxQueryParams parameters.
func checkRequest(r *downstream.Request) (int, string) {
	for i := 0; i < len(r.Method); i++ {
		if c := r.Method[i]; c < 'A' || c > 'Z' {
			return http.StatusBadRequest, "Bad Request"
		}
	}
	if !httpguts.ValidHostHeader(r.Host) || !hostFieldAgrees(r) {
		return http.StatusBadRequest, "Bad Request"
	}
	switch r.Method {
	case http.MethodConnect:
		return http.StatusForbidden, ""
	case http.MethodTrace:
		return http.StatusMethodNotAllowed, ""
	}
	if !absoluteSchemeOK(r) || strings.Count(r.RawQuery, "&") >= maxQueryParams {
		return http.StatusBadRequest, "Bad Request"
	}
	return 0, ""
}

// hostFieldAgrees checks an HTTP/2 or HTTP/3 request that carries both
// :authority and a host field: they must name the same host and port
// (RFC 9113 8.3.1), or routing, policies and the upstream could each
// take a different one. (net/http merges an HTTP/1.1 Host into r.Host.)
func hostFieldAgrees(r *downstream.Request) bool {
	hv, ok := r.Header["Host"]
	if !ok || r.ProtoMajor < 2 {
		return true
	}
	return len(hv) == 1 && strings.EqualFold(strings.TrimSuffix(hv[0], "."), strings.TrimSuffix(r.Host, "."))
}

// maxQueryParams caps the parameters of a query (security.md HTTP-05):
// a parser that stops counting at its own limit would let the rest reach
// the upstream unseen by routes and policies (CVE-2026-39825).
const maxQueryParams = 1000

// absoluteSchemeOK checks the scheme of an absolute-form request-target
// ("GET https://a.example.com/ HTTP/1.1"): it must be the connection's,
// http on a plaintext listener and https on a TLS one, as Envoy requires
// at an edge with no trusted hops. Otherwise a client could claim a TLS
// it never used (to routes matching scheme, or to a policy on it).
func absoluteSchemeOK(r *downstream.Request) bool {
	u := r.RequestURI
	if u == "" || u[0] == '/' || u == "*" {
		return true
	}
	return r.TargetScheme == scheme(r)
}

// rawPath returns the request path exactly as the client sent it, without
// the query, so normalization sees every escape and backslash.
func rawPath(r *downstream.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.EscapedPath
}

// checkUnderscores applies a listener's action to header names holding an
// underscore (security.md HTTP-04): false means the request is refused;
// with underscoresDrop such headers are removed. No allocation unless a
// header is dropped.
func checkUnderscores(h http.Header, action mesh.UnderscoreAction) bool {
	if action == mesh.UnderscoresAllow {
		return true
	}
	for k := range h {
		if strings.IndexByte(k, '_') < 0 {
			continue
		}
		if action == mesh.UnderscoresReject {
			return false
		}
		delete(h, k)
	}
	return true
}

func isH2C(u string) bool { return strings.EqualFold(strings.TrimSpace(u), "h2c") }

// headerFields counts a request's header fields as they came on the
// wire: each value of a repeated header once, and Host (or :authority),
// which net/http keeps apart (security.md HTTP-05: Envoy's
// max_headers_count). The HTTP/1.1 validator counts the same way.
func headerFields(r *downstream.Request) int {
	n := 0
	if r.Host != "" {
		n++
	}
	for _, vs := range r.Header {
		n += len(vs)
	}
	return n
}
