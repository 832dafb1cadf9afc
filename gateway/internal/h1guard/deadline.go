package h1guard

import (
	"sync"
	"time"
)

// deadlines merges the engine's read deadline with the guard's head
// deadline (Limits.HeadTimeout for a held head): the socket's read
// deadline is always the earlier of the two. The engine may move its own
// deadline at any time and from any goroutine (net/http interrupts its
// background read with a deadline in the past, then clears it and sets an
// idle one before it reads the next request); the head deadline must
// survive all of that until the head is delivered, or a client dripping
// it would be timed by the engine's idle limit instead.
type deadlines struct {
	mu     sync.Mutex
	engine time.Time // set by the engine; zero is none
	head   time.Time // set by the guard while a head is held; zero is none
}

// effective is the earlier of the two deadlines that are set.
func (d *deadlines) effective() time.Time {
	switch {
	case d.head.IsZero():
		return d.engine
	case d.engine.IsZero() || d.head.Before(d.engine):
		return d.head
	}
	return d.engine
}

// SetReadDeadline sets the engine's read deadline; the socket gets it, or
// the deadline of a held head when that is earlier.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.dl.mu.Lock()
	defer c.dl.mu.Unlock()
	c.dl.engine = t
	return c.Conn.SetReadDeadline(c.dl.effective())
}

// SetDeadline sets the engine's read and write deadlines, as
// SetReadDeadline and SetWriteDeadline would.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// setHeadDeadline starts (t not zero) or ends the deadline of a held head.
func (c *Conn) setHeadDeadline(t time.Time) {
	c.dl.mu.Lock()
	defer c.dl.mu.Unlock()
	c.dl.head = t
	c.Conn.SetReadDeadline(c.dl.effective())
}
