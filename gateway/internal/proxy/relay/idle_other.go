//go:build !linux

package relay

import (
	"net"
	"time"
)

// quietFor cannot ask the kernel on this system: TCP idle timeouts are not
// enforced.
func quietFor(net.Conn) (time.Duration, bool) { return 0, false }
