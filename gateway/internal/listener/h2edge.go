package listener

import (
	"crypto/tls"
	"net"
	"net/http"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h2guard"
	"golang.org/x/net/http2"
)

// h2Guard puts the rapid-reset guard (security.md HTTP-07) in front of the
// HTTP/2 engine of a connection: a client that opens 500 streams and
// resets more than half of them gets GOAWAY (ENHANCE_YOUR_CALM) and its
// connection closed, counted and logged. On a plaintext port it watches
// every connection for the HTTP/2 preface (prior knowledge, or after an
// h2c upgrade) and costs a flag check on HTTP/1.1 ones.
func (l *Listener) h2Guard(c net.Conn) net.Conn {
	g := h2guard.New(c, h2guard.Limits{}, func(reason string) {
		l.d.Metrics.H2Closed(reason)
		if ok, held := l.d.RefusalLog.Allow(); ok {
			l.d.Log.Warn("HTTP/2 connection closed: the client reset most of the streams it opened",
				"listener", l.ln.Addr().String(), "peer", c.RemoteAddr().String(), "reason", reason, "similar_lines_suppressed", held)
		}
	})
	g.SetLingerRunner(l.lingering.Go) // Drain waits for these closes
	return g.ForServer()
}

// newH2Server is the HTTP/2 engine of TLS connections that negotiated h2:
// golang.org/x/net/http2's, with the limits net/http's server has on the
// plaintext side, so that the guard can sit between the TLS connection and
// the engine (net/http's own HTTP/2 server only takes a *tls.Conn). It is
// configured on srv, whose Shutdown and keep-alive switch then reach its
// connections with GOAWAY, and whose ALPN hand-off now goes through the
// guard.
func (l *Listener) newH2Server(srv *http.Server, h http.Handler) error {
	h2 := &http2.Server{
		MaxConcurrentStreams:         100,
		MaxReadFrameSize:             16 << 10,
		MaxUploadBufferPerConnection: 1 << 20,
		MaxUploadBufferPerStream:     64 << 10,
		IdleTimeout:                  idleTimeout,
	}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return err
	}
	srv.TLSNextProto["h2"] = func(srv *http.Server, tc *tls.Conn, _ http.Handler) {
		gc := l.h2Guard(tc)
		h2.ServeConn(gc, &http2.ServeConnOpts{Context: WithConnInfo(l.d.Requests, gc), BaseConfig: srv, Handler: h})
	}
	return nil
}
