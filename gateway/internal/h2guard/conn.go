package h2guard

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Modes of a connection, shared by Read and Write. Read moves a connection
// out of modeDetect and modeUpgrade and into modeClosing; Write moves it
// from modeHTTP1 to modeUpgrade and from modeClosing to modeClosed; the
// engine's Close moves it from modeActive to modeShut.
const (
	modeDetect  int32 = iota // the client's first bytes may be the preface
	modeUpgrade              // a 101 was written: the client's next bytes may be the preface
	modeActive               // HTTP/2: the client's frames are counted
	modeClosing              // the rule tripped: a GOAWAY awaits a frame boundary
	modeClosed               // the GOAWAY was sent, or given up on
	modeHTTP1                // HTTP/1.1: Write watches for a 101
	modeRaw                  // neither HTTP/1.1 nor HTTP/2 any more, for good
	modeShut                 // HTTP/2 the engine closed: lingering, then closed
)

// Times the guard gives a closing connection.
const (
	// goAwayWait bounds the wait for the server's bytes to reach a frame
	// boundary, and the write of the GOAWAY.
	goAwayWait = time.Second
	// lingerTime bounds the reads after the GOAWAY, before the close.
	lingerTime = time.Second
)

// Conn is a net.Conn that counts the streams its HTTP/2 client opens and
// resets, and closes the connection when the client resets too many; see
// the package documentation. Deadlines and the addresses are the wrapped
// conn's.
//
// Read may run concurrently with Write, but not with itself; likewise Write.
type Conn struct {
	net.Conn
	mode    atomic.Int32
	onClose func(reason string)
	rd      counter // Read's alone
	// rmu orders the engine's reads against the drain of a closing
	// connection, which may start while a read is blocked.
	rmu sync.Mutex

	wmu sync.Mutex // held while writing; guards wr
	wr  writer

	// Set by Read before it stores modeClosing, read-only after.
	goAway [goAwayLen]byte
	sent   chan struct{} // closed once the GOAWAY was written

	wait, linger time.Duration // goAwayWait and lingerTime; tests shorten them
	// lingerRun runs the lingering close of an engine's Close (SetLingerRunner);
	// nil runs it on a goroutine of its own.
	lingerRun func(func())
}

// SetLingerRunner makes run start the lingering close an engine's Close
// leaves behind (see Close), so that a server can wait for those at
// shutdown: a WaitGroup's Go, typically. Call it before serving c.
func (c *Conn) SetLingerRunner(run func(func())) { c.lingerRun = run }

// New returns c guarded with the limits lim. onClose, if not nil, is called
// once with ReasonPrematureResets when the guard has closed the connection,
// from the goroutine reading it.
func New(c net.Conn, lim Limits, onClose func(reason string)) *Conn {
	return &Conn{
		Conn:    c,
		onClose: onClose,
		rd:      newCounter(lim.withDefaults()),
		wait:    goAwayWait,
		linger:  lingerTime,
	}
}

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// connectionStater is a conn with TLS state, as *tls.Conn is.
type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

// ForServer returns the conn to hand to the HTTP/2 server engine: c itself
// when the wrapped conn has no TLS state, a *TLSConn when it has.
func (c *Conn) ForServer() net.Conn {
	if _, ok := c.Conn.(connectionStater); ok {
		return &TLSConn{c}
	}
	return c
}

// TLSConn is a Conn over a TLS connection, as ForServer returns it, with
// the ConnectionState method through which engines read the TLS state.
type TLSConn struct {
	*Conn
}

// ConnectionState returns the TLS state of the wrapped conn, or the zero
// value if it has none.
func (c *TLSConn) ConnectionState() tls.ConnectionState {
	if s, ok := c.NetConn().(connectionStater); ok {
		return s.ConnectionState()
	}
	return tls.ConnectionState{}
}

// Active reports whether the connection turned out to be HTTP/2: its
// client sent the preface first, or right after an h2c 101.
func (c *Conn) Active() bool {
	switch c.mode.Load() {
	case modeActive, modeClosing, modeClosed, modeShut:
		return true
	}
	return false
}

// Read reads from the wrapped conn and, on an HTTP/2 connection, counts
// the frames read. The Read that trips the rule closes the connection
// before it returns 0 and ErrPrematureResets: it waits up to a second for
// the GOAWAY to go out, then up to a second for the client to close.
func (c *Conn) Read(p []byte) (int, error) {
	switch c.mode.Load() {
	case modeClosing, modeClosed:
		return 0, ErrPrematureResets
	case modeShut:
		return 0, net.ErrClosed
	}
	c.rmu.Lock()
	n, err := c.Conn.Read(p)
	c.rmu.Unlock()
	// The mode is loaded after the read: a 101 written while it waited
	// makes these bytes the first after the 101.
	if m := c.mode.Load(); m <= modeActive && n > 0 && c.see(p[:n], m) {
		c.trip()
		return 0, ErrPrematureResets
	}
	return n, err
}

// see looks at the client bytes b, read in mode m, and reports whether the
// rule tripped.
func (c *Conn) see(b []byte, m int32) bool {
	if m != modeActive {
		b = c.detect(b, m)
		if len(b) == 0 {
			return false
		}
	}
	return c.rd.scan(b)
}

// detect matches b against the rest of the preface. It returns the bytes
// after a completed preface, and nil while the preface is incomplete or
// when b does not match it; then the connection is not HTTP/2.
func (c *Conn) detect(b []byte, m int32) []byte {
	pre := c.rd.pre
	k := min(len(b), len(preface)-pre)
	if string(b[:k]) != preface[pre:pre+k] {
		if m == modeDetect {
			c.mode.Store(modeHTTP1)
		} else {
			c.mode.Store(modeRaw)
		}
		return nil
	}
	c.rd.pre += k
	if c.rd.pre < len(preface) {
		return nil
	}
	if m == modeUpgrade {
		c.rd.maxID, c.rd.opened = 1, 1 // the upgrade request is stream 1
	}
	c.mode.Store(modeActive)
	return b[k:]
}

// Close closes the wrapped conn. While the guard is closing the connection
// itself, Close leaves that to it and returns nil: the guard closes it
// once the client had time to read the GOAWAY.
//
// The engine's own close of a plaintext HTTP/2 connection (h2c) lingers
// the same way: it typically follows the engine's GOAWAY (a protocol
// error, an idle or shutdown timeout) while client bytes are still unread,
// and closing a socket with unread bytes sends a TCP reset, which can make
// the client drop that GOAWAY unread. So when no write is in progress,
// Close shuts down the writing side and returns; the client's bytes are
// read and discarded until it closes or lingerTime passes, then the conn
// is closed. A TLS connection is closed at once: its close_notify would
// need the TLS write lock a stuck write may hold, and net/http closes the
// *tls.Conn itself when the engine returns.
func (c *Conn) Close() error {
	switch m := c.mode.Load(); {
	case m == modeClosing || m == modeClosed || m == modeShut:
		return nil
	case m == modeActive && c.mode.CompareAndSwap(modeActive, modeShut):
		if c.shutWrite() {
			linger := func() {
				c.drain()
				_ = c.Conn.Close()
			}
			if c.lingerRun != nil {
				c.lingerRun(linger)
			} else {
				go linger()
			}
			return nil
		}
	}
	return c.Conn.Close()
}

// shutWrite shuts down the writing side of a plaintext connection when no
// Write is in progress, within the GOAWAY wait; false means the conn must
// be closed at once.
func (c *Conn) shutWrite() bool {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if _, tls := c.Conn.(connectionStater); !ok || tls || !c.wmu.TryLock() {
		return false
	}
	defer c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.wait))
	return cw.CloseWrite() == nil
}

// CloseNow closes the wrapped conn at once, without lingering: a
// connection closed to free its descriptor must free it now.
func (c *Conn) CloseNow() error { return c.Conn.Close() }
