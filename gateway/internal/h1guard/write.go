package h1guard

import (
	"errors"
	"fmt"
)

// watcher reads the status line of the engine's response to an upgrade or
// CONNECT request, across writes of any size.
type watcher struct {
	connect bool     // the request was CONNECT: a 2xx opens a tunnel too
	n       int      // bytes of line filled
	line    [12]byte // "HTTP/1.1 101"
	skip    bool     // skipping the rest of an interim (1xx) response head
	match   int      // bytes of "\r\n\r\n" matched while skipping
}

// Write writes p to the wrapped conn. While an upgrade or CONNECT request
// awaits its final response, it first reads the status line in p and
// settles the phase, so the bytes of a client answering the response are
// never held as early ones. Otherwise it only loads one atomic.
func (c *Conn) Write(p []byte) (int, error) {
	if c.phase.Load() == phasePending {
		c.observe(p)
	}
	return c.Conn.Write(p)
}

// CloseWrite shuts down the writing side of the wrapped conn, if it can,
// for half-closed tunnels.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("h1guard: close write on %T: %w", c.Conn, errors.ErrUnsupported)
}

// setPending starts watching for the response to the request just read.
func (c *Conn) setPending() {
	c.wmu.Lock()
	c.watch = watcher{connect: c.sc.m.connect}
	c.phase.Store(phasePending)
	c.wmu.Unlock()
}

// observe feeds the response bytes p to the watcher.
func (c *Conn) observe(p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	w := &c.watch
	for len(p) > 0 && c.phase.Load() == phasePending {
		if w.skip {
			p = w.skipHead(p)
			continue
		}
		k := copy(w.line[w.n:], p)
		w.n += k
		p = p[k:]
		if w.n < len(w.line) {
			return
		}
		c.phase.Store(w.decide())
	}
}

// decide returns the phase a complete status line leads to: pass-through
// after a 101 (or a 2xx to CONNECT), still pending after another 1xx,
// validation again after anything else.
func (w *watcher) decide() int32 {
	l := w.line[:]
	if string(l[:7]) != "HTTP/1." || (l[7] != '0' && l[7] != '1') || l[8] != ' ' {
		return phaseHTTP
	}
	code := 0
	for _, d := range l[9:] {
		if d < '0' || d > '9' {
			return phaseHTTP
		}
		code = code*10 + int(d-'0')
	}
	switch {
	case code == 101, w.connect && code >= 200 && code < 300:
		return phasePass
	case code >= 100 && code < 200:
		w.skip, w.match, w.n = true, 0, 0
		return phasePending
	}
	return phaseHTTP
}

// skipHead skips p up to the end of an interim response head and returns
// what follows it.
func (w *watcher) skipHead(p []byte) []byte {
	const end = "\r\n\r\n"
	for i, c := range p {
		switch {
		case c == end[w.match]:
			w.match++
		case c == '\r':
			w.match = 1
		default:
			w.match = 0
		}
		if w.match == len(end) {
			w.skip = false
			return p[i+1:]
		}
	}
	return nil
}
