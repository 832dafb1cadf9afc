package h1guard

import (
	"net"
	"time"
)

// Lingering close, as nginx's lingering_close: closing a connection the
// client is still writing to (the rest of a refused head, or its body)
// makes the kernel answer the unread bytes with a reset, which can
// discard the refusal before the client reads it. So after writing a
// refusal the guard half-closes its side and reads what the client
// still sends, for a short while and up to a bound, before the engine
// closes the connection.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// linger half-closes the connection and discards what the client sends
// until it closes its side, lingerTime passes or lingerBytes arrived.
func (c *Conn) linger() {
	hc, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return
	}
	c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
	if c.scratch == nil {
		c.scratch = make([]byte, 512)
	}
	for n := 0; n < lingerBytes; {
		m, err := c.Conn.Read(c.scratch)
		n += m
		if err != nil {
			return
		}
	}
}

var _ interface{ CloseWrite() error } = (*net.TCPConn)(nil)
