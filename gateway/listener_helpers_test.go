package gateway

import (
	"net"
	"net/netip"
)

// peerAddr is the socket peer's address of a connection.
func peerAddr(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}
