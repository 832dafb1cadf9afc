package listener

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
)

// peerAddr is the socket peer's address of a newly accepted connection.
func peerAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}

// refuseProxy records a connection closed at its PROXY header: counted by
// reason, and logged with the peer's address at warn (rate limited: a
// flood of refusals never floods the log). A peer that closed without
// sending anything is a load balancer's health check more often than an
// attack: it is counted and logged at debug only.
func (l *Listener) refuseProxy(c net.Conn, reason string, err error) {
	l.d.Metrics.ProxyRefused(reason)
	attrs := []slog.Attr{slog.String("listener", l.ln.Addr().String()), slog.String("peer", c.RemoteAddr().String()),
		slog.String("reason", reason)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if reason == ProxyClosedEarly {
		l.d.Log.LogAttrs(context.Background(), slog.LevelDebug, "connection closed before its PROXY header", attrs...)
		return
	}
	ok, held := l.d.RefusalLog.Allow()
	if !ok {
		return
	}
	if held > 0 {
		attrs = append(attrs, slog.Int64("similar_lines_suppressed", held))
	}
	l.d.Log.LogAttrs(context.Background(), slog.LevelWarn, "connection refused at its PROXY protocol header", attrs...)
}
