package h2guard

import (
	"net"
	"time"
)

// status101 starts the server's answer to an upgrade request.
const status101 = "HTTP/1.1 101 "

// writer follows the frame boundaries of what the server writes, so that a
// GOAWAY can go between two frames. After an h2c 101 the server's frames
// start after the response head.
type writer struct {
	f     frames
	head  bool // skipping the head of a 101 response
	match int  // bytes of "\r\n\r\n" matched in it
}

// step consumes the start of p: head bytes, payload bytes or header bytes.
// It returns how many bytes it consumed, at least one if p is not empty.
func (w *writer) step(p []byte) int {
	if w.head {
		return w.skipHead(p)
	}
	k, _ := w.f.step(p)
	return k
}

// advance consumes all of p.
func (w *writer) advance(p []byte) {
	for len(p) > 0 {
		p = p[w.step(p):]
	}
}

// boundary reports whether the bytes consumed so far end a frame (or the
// 101 head), so that a frame may follow.
func (w *writer) boundary() bool { return !w.head && w.f.boundary() }

// cut consumes p up to the first frame boundary and returns its offset in
// p: 0 if the bytes so far end a frame, -1 if p ends inside one.
func (w *writer) cut(p []byte) int {
	k := 0
	for !w.boundary() {
		if k == len(p) {
			return -1
		}
		k += w.step(p[k:])
	}
	return k
}

// skipHead consumes p up to the end of the 101 head and returns how many
// bytes that was: all of p if the head goes on.
func (w *writer) skipHead(p []byte) int {
	const end = "\r\n\r\n"
	for i, b := range p {
		switch {
		case b == end[w.match]:
			w.match++
		case b == '\r':
			w.match = 1
		default:
			w.match = 0
		}
		if w.match == len(end) {
			w.head, w.match = false, 0
			return i + 1
		}
	}
	return len(p)
}

// is101 reports whether p starts a 101 response.
func is101(p []byte) bool {
	return len(p) >= len(status101) && string(p[:len(status101)]) == status101
}

// Write writes p to the wrapped conn. On an HTTP/2 connection (or one that
// may become one) it follows the frame boundaries of p, and once the rule
// has tripped it puts the GOAWAY at the first one; see the package
// documentation. On an HTTP/1.1 connection it only looks at the start of p
// for a 101.
func (c *Conn) Write(p []byte) (int, error) {
	if m := c.mode.Load(); m == modeRaw || (m == modeHTTP1 && !is101(p)) {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	n, err := c.writeLocked(p)
	c.wmu.Unlock()
	if c.mode.Load() == modeClosing {
		// The rule tripped while this Write held the lock, too late for
		// it to see: the GOAWAY may be this Write's to send.
		c.tryGoAway()
	}
	return n, err
}

// writeLocked is Write with wmu held.
func (c *Conn) writeLocked(p []byte) (int, error) {
	switch c.mode.Load() {
	case modeHTTP1:
		if !is101(p) {
			return c.Conn.Write(p)
		}
		c.wr = writer{head: true}
		c.mode.Store(modeUpgrade)
	case modeRaw:
		return c.Conn.Write(p)
	case modeClosing:
		return c.writeCut(p)
	case modeClosed:
		return 0, ErrPrematureResets
	case modeShut:
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.wr.advance(p[:n])
	if c.mode.Load() == modeClosing && c.wr.boundary() {
		c.sendGoAway()
	}
	return n, err
}

// writeCut writes p once the rule has tripped: up to the end of the frame
// in progress, then the GOAWAY. What follows in p is not written.
func (c *Conn) writeCut(p []byte) (int, error) {
	k := c.wr.cut(p)
	if k < 0 {
		return c.Conn.Write(p)
	}
	if k > 0 {
		if n, err := c.Conn.Write(p[:k]); err != nil {
			return n, err
		}
	}
	c.sendGoAway()
	if k < len(p) {
		return k, ErrPrematureResets
	}
	return k, nil
}

// trip closes the connection after the rule tripped, from the goroutine
// reading it: GOAWAY at the server's next frame boundary, shutdown of the
// writing side, a short drain of the client's bytes, close, onClose.
func (c *Conn) trip() {
	c.arm()
	c.finish()
}

// arm enters modeClosing with the GOAWAY to send, and sends it if it can.
func (c *Conn) arm() {
	c.goAway = goAwayFrame(c.rd.maxID)
	c.sent = make(chan struct{})
	c.mode.Store(modeClosing)
	c.tryGoAway()
}

// finish waits for the GOAWAY to be sent, drains the client's bytes, then
// closes the connection and calls onClose.
func (c *Conn) finish() {
	t := time.NewTimer(c.wait)
	select {
	case <-c.sent:
		c.drain()
	case <-t.C:
		// A Write blocked on a client that does not read, or a server
		// that stopped inside a frame: close without a GOAWAY.
		c.mode.Store(modeClosed)
	}
	t.Stop()
	// The connection is over whatever Close says.
	_ = c.Conn.Close()
	if c.onClose != nil {
		c.onClose(ReasonPrematureResets)
	}
}

// tryGoAway sends the GOAWAY now if no Write is in progress and the
// server's bytes so far end a frame. Otherwise the Write in progress, or
// the next one, sends it when it reaches a frame boundary.
func (c *Conn) tryGoAway() {
	if !c.wmu.TryLock() {
		return
	}
	if c.mode.Load() == modeClosing && c.wr.boundary() {
		c.sendGoAway()
	}
	c.wmu.Unlock()
}

// sendGoAway writes the GOAWAY and shuts down the writing side, with wmu
// held, in modeClosing: this happens once.
func (c *Conn) sendGoAway() {
	c.mode.Store(modeClosed)
	// Errors change nothing: the connection is closing either way.
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.wait))
	if _, err := c.Conn.Write(c.goAway[:]); err == nil {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	close(c.sent)
}

// drain reads and discards what the client still sends until it closes
// the connection or linger passes. Closing a socket with unread bytes
// sends a TCP reset, which can make the client drop the GOAWAY unread.
func (c *Conn) drain() {
	// The deadline also ends a read of the engine's still blocked, whose
	// turn the drain waits for.
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.linger))
	c.rmu.Lock()
	defer c.rmu.Unlock()
	buf := make([]byte, 4<<10)
	for {
		if _, err := c.Conn.Read(buf); err != nil {
			return
		}
	}
}
