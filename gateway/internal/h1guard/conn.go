package h1guard

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// bufSize is the size of the pooled buffers that hold unfinished heads.
const bufSize = 4 << 10

// bufPool holds *[]byte of bufSize bytes.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Phases of a connection, shared by Read and Write.
const (
	phaseHTTP    int32 = iota // requests are validated
	phasePending              // an upgrade or CONNECT awaits its final response
	phasePass                 // everything passes through, for good
)

// badKind is what a refusal left the reading side doing.
type badKind uint8

const (
	badNone badKind = iota
	badHead         // write the refusal, then io.EOF
	badBody         // ErrBadRequestBody
)

// Conn is a net.Conn whose Read delivers only complete, valid HTTP/1.1
// requests; see the package documentation. Deadlines, Close and the
// addresses are the wrapped conn's.
//
// Read may run concurrently with Write, but not with itself; likewise Write.
type Conn struct {
	net.Conn
	onRefuse func(*Refusal)
	sc       scanner

	// Held bytes: buf[r:v] are validated; buf[v:w] are an unfinished head,
	// or, when early is set, the client's bytes that came before the
	// response to an upgrade or CONNECT request, not yet scanned.
	buf     *[]byte
	r, v, w int
	early   bool

	bad      badKind
	timing   bool // the deadline of HeadTimeout is set for a held head
	dl       deadlines
	status   int    // of the refusal to write
	answered bool   // the refusal was written, or skipped after a 101
	scratch  []byte // where reads are discarded once refused

	phase       atomic.Int32
	bodyRefused atomic.Bool // a violation in a body whose head was delivered
	wmu         sync.Mutex  // guards watch
	watch       watcher
}

// New returns c guarded with the limits lim. onRefuse, if not nil, is
// called once, synchronously from Read, when a violation is found.
func New(c net.Conn, lim Limits, onRefuse func(*Refusal)) *Conn {
	g := &Conn{Conn: c, onRefuse: onRefuse}
	g.sc.lim = lim.withDefaults()
	g.sc.fresh = true
	return g
}

// BodyRefused reports whether a violation was found in a request body
// after its head was delivered: the engine is answering that request and
// its body reads fail with ErrBadRequestBody. It may be called from any
// goroutine.
func (c *Conn) BodyRefused() bool { return c.bodyRefused.Load() }

// NetConn returns the wrapped connection.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// Read reads validated request bytes into p; see the package documentation
// for what it returns around a violation.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.early && c.phase.Load() != phasePending {
			c.decideEarly()
		}
		switch {
		case c.r < c.v:
			return c.take(p), nil
		case c.bad == badHead:
			return c.readRefused(p)
		case c.bad == badBody:
			return 0, ErrBadRequestBody
		case c.early:
			if err := c.readEarly(); err != nil {
				return 0, err
			}
		case 2*(c.w-c.v) > len(p):
			// An unfinished head too big to move into p: read into buf.
			if err := c.fill(); err != nil {
				return 0, err
			}
		default:
			if n, done, err := c.readDirect(p); done {
				return n, err
			}
		}
	}
}

// readDirect reads into p and scans it there: a request arriving whole
// is returned without a copy. An unfinished head held from before is moved
// into p first; one left at the end, or bytes that must wait for the
// response to an upgrade, are copied aside. done is false when the caller
// should go round again.
func (c *Conn) readDirect(p []byte) (n int, done bool, err error) {
	h := 0
	if c.buf != nil {
		h = copy(p, (*c.buf)[c.v:c.w])
		c.release()
	}
	n, err = c.Conn.Read(p[h:])
	if n == 0 {
		if h > 0 {
			c.hold(p[:h])
			if c.endHeldHead(err) {
				return 0, false, nil
			}
		}
		return 0, err != nil, err
	}
	switch c.phase.Load() {
	case phasePass:
		return n, true, err
	case phasePending:
		// Nothing else is held while an upgrade awaits its response, so
		// h is 0: p[:n] is all the client's, to wait for the response.
		c.hold(p[:n])
		c.early = true
		c.limitEarly()
		return 0, err != nil && c.bad == badNone, err
	}
	n, d, out := c.sc.scan(p[:h+n], h)
	if (out == outMore || out == outPending) && d < n {
		c.hold(p[d:n])
	}
	c.timeHead(out, d, n)
	c.settle(out)
	switch {
	case d > 0:
		return d, true, err
	case c.bad != badNone || err == nil:
		return 0, false, nil
	}
	return 0, true, err
}

// fill reads more of the unfinished head held in buf.
func (c *Conn) fill() error {
	b := c.room()
	n, err := c.Conn.Read(b[c.w:])
	if n > 0 {
		c.scanHeld(c.w, c.w+n)
	}
	if c.r < c.v || c.bad != badNone || c.endHeldHead(err) {
		return nil
	}
	return err
}

// endHeldHead delivers a head held with the start of its first chunk-size
// line when the client has finished sending (err is io.EOF): the request
// is cut short either way, and so the engine sees what it would have seen
// had the bytes come in other pieces. It reports whether it did.
func (c *Conn) endHeldHead(err error) bool {
	if err != io.EOF || c.buf == nil || c.v == c.w || !c.sc.heldHead() {
		return false
	}
	c.v = c.w
	c.sc.m.headSent = true
	return true
}

// scanHeld scans buf[i:end], bytes just read after an unfinished head or
// early bytes a response just let through, and keeps what it must.
func (c *Conn) scanHeld(i, end int) {
	m, d, out := c.sc.scan((*c.buf)[:end], i)
	c.v, c.w = d, m
	if out == outBad {
		c.w = d
	}
	c.timeHead(out, d-c.r, m-c.r)
	c.settle(out)
	if c.buf != nil && c.r == c.w {
		c.release()
	}
}

// timeHead starts Limits.HeadTimeout when a scan that delivers nothing
// leaves the start of a request after the first held (d of n scanned
// bytes deliverable), and ends it once a scan delivers, leaving the
// engine's deadline.
func (c *Conn) timeHead(out outcome, d, n int) {
	switch {
	case d > 0:
		if c.timing {
			c.timing = false
			c.setHeadDeadline(time.Time{})
		}
	case out == outMore && n > 0 && !c.timing && c.sc.msgs > 0 && c.sc.lim.HeadTimeout > 0:
		c.timing = true
		c.setHeadDeadline(time.Now().Add(c.sc.lim.HeadTimeout))
	}
}

// settle acts on the outcome of a scan, once the bytes after the
// deliverable ones are in buf[v:w].
func (c *Conn) settle(out outcome) {
	switch out {
	case outPass:
		c.phase.Store(phasePass)
	case outPending:
		c.setPending()
		c.early = c.v < c.w
		c.limitEarly()
	case outBad:
		c.refuse(c.sc.ref)
	}
}

// readEarly reads more of the client's bytes while an upgrade or CONNECT
// request awaits its response, with some held already. It holds them and
// returns only the socket's error: net/http's background read must get
// neither a byte, which it would keep as the next request's, nor an error
// of the guard's, which would cancel the request's context. The caller
// goes round again, and delivers or scans the held bytes once the response
// is written.
func (c *Conn) readEarly() error {
	b := c.room()
	n, err := c.Conn.Read(b[c.w:min(len(b), c.v+c.sc.lim.MaxHeaderBytes+1)])
	c.w += n
	c.limitEarly()
	if c.bad != badNone {
		return nil
	}
	return err
}

// limitEarly refuses the held early bytes when there are more of them
// than MaxHeaderBytes.
func (c *Conn) limitEarly() {
	if c.early && c.w-c.v > c.sc.lim.MaxHeaderBytes {
		c.w, c.early = c.v, false
		c.refuse(c.sc.early())
	}
}

// decideEarly settles the held early bytes once the response is written:
// after a 101 (or a 2xx to CONNECT) they are delivered as they are; after
// any other final response they are scanned as the start of the next
// request.
func (c *Conn) decideEarly() {
	c.early = false
	if c.phase.Load() == phasePass {
		c.v = c.w
		return
	}
	c.scanHeld(c.v, c.w)
}

// refuse enters the refused state and reports r.
func (c *Conn) refuse(r *Refusal) {
	c.bad, c.status = badHead, r.Status
	if r.InBody && !r.HeadHeld {
		c.bad = badBody
		c.bodyRefused.Store(true)
	}
	if c.buf != nil && c.r == c.w {
		c.release()
	}
	if c.onRefuse != nil {
		c.onRefuse(r)
	}
}

// readRefused is Read once a head was refused. A 1-byte read is net/http's
// background read while a handler may still be answering an earlier
// request: it must not write, so it discards until the socket fails. Any
// other read writes the refusal once and returns io.EOF.
func (c *Conn) readRefused(p []byte) (int, error) {
	if len(p) == 1 {
		if c.scratch == nil {
			c.scratch = make([]byte, 512)
		}
		for {
			if _, err := c.Conn.Read(c.scratch); err != nil {
				return 0, err
			}
		}
	}
	if !c.answered {
		c.answered = true
		if c.phase.Load() != phasePass && c.status != 0 {
			// An error here changes nothing: the connection is ending.
			if _, err := c.Conn.Write(responses[c.status]); err == nil {
				c.linger()
			}
		}
	}
	return 0, io.EOF
}

// take copies validated held bytes into p.
func (c *Conn) take(p []byte) int {
	n := copy(p, (*c.buf)[c.r:c.v])
	c.r += n
	if c.r == c.w {
		c.release()
	}
	return n
}

// hold copies the unfinished head h aside, into a pooled buffer.
func (c *Conn) hold(h []byte) {
	if c.buf != nil {
		c.release()
	}
	bp := bufPool.Get().(*[]byte)
	if len(h) >= len(*bp) {
		bufPool.Put(bp)
		b := make([]byte, 2*len(h))
		bp = &b
	}
	c.buf = bp
	c.r, c.v, c.w = 0, 0, copy(*bp, h)
}

// room moves the held bytes to the front of buf, grows buf if it is full,
// and returns it.
func (c *Conn) room() []byte {
	b := *c.buf
	if c.r > 0 {
		c.w = copy(b, b[c.r:c.w])
		c.r, c.v = 0, 0
	}
	if c.w == len(b) {
		nb := make([]byte, 2*len(b))
		copy(nb, b)
		c.release()
		c.buf, c.w = &nb, len(b)
		b = nb
	}
	return b
}

// release returns buf to the pool: nothing is held.
func (c *Conn) release() {
	if len(*c.buf) == bufSize {
		bufPool.Put(c.buf)
	}
	c.buf = nil
	c.r, c.v, c.w = 0, 0, 0
}
