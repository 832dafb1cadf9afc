package gateway

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/accesslog"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
)

// guard puts the strict HTTP/1.1 request validator in front of the engine
// for a connection of lc (security.md HTTP-01..05): the engine only ever
// reads whole, valid request heads and correctly framed bodies, and every
// refusal is answered, counted and logged here. h2c with prior knowledge
// passes through on plaintext ports (as Envoy's codec detects it); on TLS
// the ALPN protocol decides, and the HTTP/2 preface is refused.
func (l *portListener) guard(c net.Conn, lc *listener.Config, secure bool) net.Conn {
	lim := h1guard.Limits{MaxHeaderBytes: maxHeaderBytes, MaxHeaders: lc.Options.HeaderLimit(), AllowH2C: !secure,
		HeadTimeout: l.s.opts.HeaderTimeout}
	return h1guard.New(c, lim, func(rf *h1guard.Refusal) { l.s.logRefusal(c, rf) })
}

// serveHTTPS handshakes a connection of a port whose every server is
// HTTPS, within the header timeout, then hands it to the HTTP engine its
// ALPN protocol names.
func (l *portListener) serveHTTPS(c net.Conn, lc *listener.Config) {
	tc := tls.Server(c, &tls.Config{GetConfigForClient: lc.TLS.GetConfigForClient})
	ctx, cancel := context.WithTimeout(context.Background(), l.s.opts.HeaderTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.s.log.Debug("TLS handshake failed", "listener", l.ln.Addr().String(), "peer", c.RemoteAddr().String(), "error", err)
		tc.Close()
		return
	}
	l.deliverTLS(tc, lc)
}

// deliverTLS hands a terminated TLS connection to the HTTPS engine: as it
// stands for HTTP/2 (net/http reads its TLS state), behind the guard for
// HTTP/1.1 (whose TLS state connInfo then carries).
func (l *portListener) deliverTLS(tc *tls.Conn, lc *listener.Config) {
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		l.deliver(l.secure, tc)
		return
	}
	l.deliver(l.secure, l.guard(tc, lc, true))
}

// logRefusal records a request the HTTP/1.1 validator refused: a counter
// by status and reason, an access-log line with Envoy's DPE flag (peer
// and PROXY-derived client address included) and a log line, both rate
// limited so that a flood of garbage cannot fill a disk.
func (s *Server) logRefusal(c net.Conn, rf *h1guard.Refusal) {
	code := strconv.Itoa(rf.Status) // "0": closed without an answer
	s.metrics.RefusedRequest(code, rf.Reason)
	ok, held := s.refusalLog.allow()
	if !ok {
		return
	}
	snap := s.snap.Load()
	ci := newConnInfo(c)
	target := redactURI(snap.authz, rf.Target)
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "request refused by the HTTP/1.1 parser",
		slog.Int("status", rf.Status), slog.String("reason", rf.Reason), slog.String("method", rf.Method),
		slog.String("target", target), slog.String("client", c.RemoteAddr().String()),
		slog.String("peer", ci.peer.String()), slog.Bool("in_body", rf.InBody), slog.Int64("similar_lines_suppressed", held))
	if snap.alog == nil {
		return
	}
	e := &accesslog.Entry{Start: time.Now(), UpstreamServiceTime: -1, Method: rf.Method, Path: target, Protocol: rf.Proto,
		Code: rf.Status, Flags: "DPE", Details: "http1." + rf.Reason, DownstreamRemote: c.RemoteAddr().String()}
	if rf.InBody && !rf.HeadHeld {
		e.Code = 0 // the engine answers a request whose body broke
	}
	if ci.local.IsValid() {
		e.DownstreamLocal = ci.local.String()
	}
	if tc, ok := c.(*tls.Conn); ok {
		e.SNI = tc.ConnectionState().ServerName
	}
	snap.alog.Log(e)
}
