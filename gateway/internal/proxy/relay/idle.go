package relay

import (
	"net"
	"time"
)

// DefaultTCPIdleTimeout closes a forwarded TCP connection on which nothing
// moved for this long (Istio's connectionPool.tcp.idleTimeout default).
const DefaultTCPIdleTimeout = time.Hour

// WatchIdle closes both sides of a forwarded connection once neither has
// carried data for idle. It returns a function that stops the watch.
func WatchIdle(down, up net.Conn, idle time.Duration) (stop func()) {
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
