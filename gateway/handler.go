package gateway

import (
	"net/http"
	"strings"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// httpHandler serves the HTTP requests of one listener.
type httpHandler struct {
	s   *Server
	key listenerKey
}

// ServeHTTP routes one request: it reads the snapshot once, normalizes the
// request, picks the virtual host and route, and forwards.
func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := h.s.snap.Load()
	lc := snap.listeners[h.key]
	if lc == nil || lc.routes == nil {
		localReply(w, r, http.StatusNotFound, "")
		return
	}
	if status, msg := checkRequest(r); status != 0 {
		w.Header().Set("Connection", "close")
		localReply(w, r, status, msg)
		return
	}
	path, err := router.NormalizePath(rawPath(r), router.PathBase)
	if err != nil {
		w.Header().Set("Connection", "close")
		localReply(w, r, http.StatusBadRequest, "Bad Request")
		return
	}
	vh := lc.routes.VHost(router.NormalizeHost(r.Host))
	if vh == nil {
		localReply(w, r, http.StatusNotFound, "")
		return
	}
	if vh.RequireTLS && r.TLS == nil {
		httpsRedirect(w, r)
		return
	}
	rr := router.Request{Method: r.Method, Scheme: scheme(r), Authority: r.Host, Path: path, RawQuery: r.URL.RawQuery, Header: r.Header}
	rt := vh.Match(&rr)
	if rt == nil {
		localReply(w, r, http.StatusNotFound, "")
		return
	}
	h.s.serveRoute(w, r, snap, rt, path)
}

// checkRequest refuses requests no route may see: methods that are not
// upper case (Istio rejects them), CONNECT (Envoy's default) and TRACE.
func checkRequest(r *http.Request) (int, string) {
	for i := 0; i < len(r.Method); i++ {
		if c := r.Method[i]; c < 'A' || c > 'Z' {
			return http.StatusBadRequest, "Bad Request"
		}
	}
	switch r.Method {
	case http.MethodConnect:
		return http.StatusForbidden, ""
	case http.MethodTrace:
		return http.StatusMethodNotAllowed, ""
	}
	if r.ProtoMajor == 1 && r.ContentLength != 0 && isUpgrade(r) {
		return http.StatusBadRequest, "Bad Request"
	}
	return 0, ""
}

// rawPath returns the request path exactly as the client sent it, without
// the query, so normalization sees every escape and backslash.
func rawPath(r *http.Request) string {
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		if i := strings.IndexByte(u, '?'); i >= 0 {
			return u[:i]
		}
		return u
	}
	return r.URL.EscapedPath()
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// httpsRedirect answers a plaintext request on a server with httpsRedirect
// as Envoy does: 301 to the same Host and path over https.
func httpsRedirect(w http.ResponseWriter, r *http.Request) {
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	w.Header().Set("Location", "https://"+r.Host+uri)
	w.WriteHeader(http.StatusMovedPermanently)
}

// isUpgrade reports whether the client asks to switch protocols.
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && headerHasToken(r.Header["Connection"], "upgrade")
}

// headerHasToken reports whether a comma-separated header lists tok.
func headerHasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}
