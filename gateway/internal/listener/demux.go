package listener

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"time"

	gwtls "github.com/gatehouse-proxy/gatehouse/tls"
)

// serveStream serves a connection of a TCP port, or of a TLS port that
// passes some connections through or terminates TLS for TCP servers.
func (l *Listener) serveStream(c net.Conn, lc *Config, gen any) {
	local := localIP(c)
	if lc.Family == FamilyTCP {
		rt := lc.TCPRoute(local)
		if rt == nil {
			c.Close()
			return
		}
		l.d.Forward(c, rt.Forward, "", nil, gen)
		return
	}
	l.serveTLSConn(c, lc, gen, local)
}

// serveTLSConn routes a TLS connection by the SNI of its ClientHello:
// through, untouched, when a passthrough route takes the name; otherwise
// terminated, then served as HTTPS or forwarded as TCP.
func (l *Listener) serveTLSConn(c net.Conn, lc *Config, gen any, local netip.Addr) {
	c.SetReadDeadline(time.Now().Add(l.d.HeaderTimeout))
	sni, hello, err := gwtls.PeekClientHello(c, 0)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		l.d.Log.Debug("connection closed: no TLS ClientHello", "listener", l.ln.Addr().String(), "error", err)
		c.Close()
		return
	}
	pc := &prefixConn{Conn: c, prefix: hello}
	if rt := lc.PassthroughRoute(sni, local); rt != nil {
		l.d.Forward(pc, rt.Forward, sni, nil, gen)
		return
	}
	if lc.TLS == nil {
		c.Close() // an SNI no route takes: closed, never forwarded anywhere
		return
	}
	tc := tls.Server(pc, &tls.Config{GetConfigForClient: lc.TLS.GetConfigForClient})
	ctx, cancel := context.WithTimeout(context.Background(), l.d.HeaderTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		l.d.Log.Debug("TLS handshake failed", "listener", l.ln.Addr().String(), "error", err)
		tc.Close()
		return
	}
	cs := tc.ConnectionState()
	switch _, https, rt := lc.TerminatedRoute(cs.ServerName, local); {
	case https:
		l.deliverTLS(tc, lc)
	case rt != nil:
		l.d.Forward(tc, rt.Forward, cs.ServerName, &cs, gen)
	default:
		tc.Close()
	}
}

// localIP returns the address a connection was accepted on.
func localIP(c net.Conn) netip.Addr {
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
