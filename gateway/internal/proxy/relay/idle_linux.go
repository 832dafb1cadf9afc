//go:build linux

package relay

import (
	"net"
	"syscall"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
	"golang.org/x/sys/unix"
)

// quietFor returns how long a TCP socket has neither sent nor received
// data, from the kernel's TCP_INFO: the copy between two sockets happens in
// the kernel (splice), so gatehouse never sees the bytes go by.
func quietFor(c net.Conn) (time.Duration, bool) {
	sc, ok := listener.RawConn(c).(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err != nil || info == nil {
		return 0, false
	}
	ms := min(info.Last_data_recv, info.Last_data_sent)
	return time.Duration(ms) * time.Millisecond, true
}
