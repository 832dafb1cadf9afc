package listener

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
)

// guard puts the strict HTTP/1.1 request validator in front of the engine
// for a connection of lc (security.md HTTP-01..05): the engine only ever
// reads whole, valid request heads and correctly framed bodies, and every
// refusal is answered, counted and logged here. h2c with prior knowledge
// passes through on plaintext ports (as Envoy's codec detects it); on TLS
// the ALPN protocol decides, and the HTTP/2 preface is refused.
func (l *Listener) guard(c net.Conn, lc *Config, secure bool) net.Conn {
	lim := h1guard.Limits{MaxHeaderBytes: maxHeaderBytes, MaxHeaders: lc.Options.HeaderLimit(), AllowH2C: !secure,
		HeadTimeout: l.d.HeaderTimeout}
	return h1guard.New(c, lim, func(rf *h1guard.Refusal) { l.d.Refused(c, rf) })
}

// serveHTTPS handshakes a connection of a port whose every server is
// HTTPS, within the header timeout, then hands it to the HTTP engine its
// ALPN protocol names.
func (l *Listener) serveHTTPS(c net.Conn, lc *Config) {
	tc := tls.Server(c, &tls.Config{GetConfigForClient: lc.TLS.GetConfigForClient})
	ctx, cancel := context.WithTimeout(context.Background(), l.d.HeaderTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.d.Log.Debug("TLS handshake failed", "listener", l.ln.Addr().String(), "peer", c.RemoteAddr().String(), "error", err)
		tc.Close()
		return
	}
	l.deliverTLS(tc, lc)
}

// deliverTLS hands a terminated TLS connection to the HTTPS engine: as it
// stands for HTTP/2 (net/http reads its TLS state), behind the guard for
// HTTP/1.1 (whose TLS state connInfo then carries).
func (l *Listener) deliverTLS(tc *tls.Conn, lc *Config) {
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.deliver(l.secure, tc)
		return
	}
	l.deliver(l.secure, l.guard(tc, lc, true))
}
