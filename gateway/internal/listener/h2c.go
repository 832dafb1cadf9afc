package listener

import (
	"net/http"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// NewH2CHandler returns a handler that answers "Upgrade: h2c" by switching
// the connection to HTTP/2 and serving it with next, as a plaintext HTTP2
// or GRPC Gateway port does. (Prior-knowledge h2c is handled by the
// server itself.)
func NewH2CHandler(next http.Handler) http.Handler {
	// The upgrading request becomes stream 1 of the HTTP/2 connection, its
	// headers unchanged: without the upgrade headers, next serves it as any
	// other request.
	upgraded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A copy: the HTTP/1.1 handler that upgraded may still hold r.
		r = r.Clone(r.Context())
		r.Header.Del("Upgrade")
		r.Header.Del("Http2-Settings")
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/2.0", 2, 0
		next.ServeHTTP(w, r)
	})
	return h2c.NewHandler(upgraded, &http2.Server{
		MaxConcurrentStreams:         100,
		MaxReadFrameSize:             16 << 10,
		MaxUploadBufferPerConnection: 1 << 20,
		MaxUploadBufferPerStream:     64 << 10,
		IdleTimeout:                  idleTimeout,
	})
}
