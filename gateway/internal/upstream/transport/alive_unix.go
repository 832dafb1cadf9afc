//go:build unix

package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// peerClosed looks at a pooled connection without blocking: it reports
// whether the upstream has closed it (or reset it), or has sent bytes no
// request asked for. A TLS connection may legitimately have unread bytes
// (a session ticket), so for it only a close counts.
func peerClosed(nc net.Conn) bool {
	_, isTLS := nc.(*tls.Conn)
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK):
		case err != nil, n == 0:
			closed = true
		default:
			closed = !isTLS
		}
		return true
	})
	return closed
}
