package gateway

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h2guard"
)

// defaultTCPIdleTimeout closes a forwarded TCP connection on which nothing
// moved for this long (Istio's connectionPool.tcp.idleTimeout default).
const defaultTCPIdleTimeout = time.Hour

// watchIdle closes both sides of a forwarded connection once neither has
// carried data for idle. It returns a function that stops the watch.
func watchIdle(down, up net.Conn, idle time.Duration) (stop func()) {
	every := min(max(idle/4, time.Second), time.Minute)
	t := time.NewTicker(every)
	done := make(chan struct{})
	go func() {
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			d1, ok1 := quietFor(down)
			d2, ok2 := quietFor(up)
			if ok1 && ok2 && d1 >= idle && d2 >= idle {
				down.Close()
				up.Close()
				return
			}
		}
	}()
	return func() { close(done) }
}

// rawConn returns the socket under a connection's wrappers.
func rawConn(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *tls.Conn:
			c = w.NetConn()
		case *h1guard.Conn:
			c = w.NetConn()
		case *h2guard.Conn:
			c = w.NetConn()
		case *h2guard.TLSConn:
			c = w.NetConn()
		case *countedConn:
			c = w.Conn
		case *prefixConn:
			c = w.Conn
		case *headerConn:
			c = w.Conn
		default:
			return c
		}
	}
}
