package listener

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// admit applies the listener's connection cap (the Gateway annotation
// gatehouse.io/max-connections, else Options.MaxConnections): beyond it
// a new connection is closed at once and counted, so that one listener
// cannot take every descriptor from the others. It returns the
// connection to serve, counted until it closes, or nil.
func (l *Listener) admit(c net.Conn, lc *Config) net.Conn {
	limit := int64(lc.Options.MaxConns)
	if limit == 0 {
		limit = int64(l.d.MaxConnections)
	}
	if limit <= 0 {
		return c
	}
	if l.active.Add(1) > limit {
		l.active.Add(-1)
		c.Close()
		l.d.Metrics.ConnRefused("max_connections")
		if ok, held := l.d.RefusalLog.Allow(); ok {
			l.d.Log.Warn("connection refused: the listener holds its maximum of connections",
				"listener", l.ln.Addr().String(), "peer", c.RemoteAddr().String(), "max", limit, "similar_lines_suppressed", held)
		}
		return nil
	}
	return &countedConn{Conn: c, active: &l.active}
}

// countedConn gives its slot back when it closes.
type countedConn struct {
	net.Conn
	active *atomic.Int64
	once   sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.active.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite half-closes the connection.
func (c *countedConn) CloseWrite() error { return CloseWrite(c.Conn) }

// WriteTo and ReadFrom keep the kernel's socket-to-socket splice for
// forwarded TCP.
func (c *countedConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, c.Conn) }

func (c *countedConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }
