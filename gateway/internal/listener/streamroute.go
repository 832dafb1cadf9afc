package listener

import (
	"net/netip"

	"github.com/gatehouse-proxy/gatehouse/router"
)

// How a listener routes a connection it does not serve as plain HTTP:
// serving (serveStream, serveTLSConn) and explain both ask these, so
// explain cannot say other than what serving does.

// TCPRoute returns the route of a TCP port that takes a connection
// accepted on local, nil when none does (the connection is closed).
func (lc *Config) TCPRoute(local netip.Addr) *router.L4Route {
	return lc.TCP.MatchTCP(local)
}

// PassthroughRoute returns the route that passes a TLS connection with
// SNI sni through untouched, before any handshake; nil when none takes it.
func (lc *Config) PassthroughRoute(sni string, local netip.Addr) *router.L4Route {
	if lc.Passthrough == nil {
		return nil
	}
	return lc.Passthrough.MatchSNI(sni, local)
}

// TerminatedRoute says what follows the handshake of a TLS connection
// whose SNI is sni and that no passthrough route took: the terminating
// server's index (-1: none), whether it serves HTTPS, and otherwise the
// TCP route its decrypted stream is forwarded by (nil: the connection is
// closed).
func (lc *Config) TerminatedRoute(sni string, local netip.Addr) (server int, https bool, rt *router.L4Route) {
	i, ok := lc.TLS.Server(sni)
	if !ok || i < 0 || i >= len(lc.Terminated) {
		return -1, false, nil
	}
	if t := lc.Terminated[i]; t.Routes != nil {
		return i, true, nil
	}
	return i, false, lc.Terminated[i].TCP.MatchTCP(local)
}
