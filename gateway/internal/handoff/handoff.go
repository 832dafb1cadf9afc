// Package handoff is a net.Listener that is handed its connections: one
// accept loop can pass each connection it took from a socket to whichever
// server should serve it (the plain or the TLS HTTP server of a port), and
// a test can hand a server in-memory connections. It imports nothing but
// the standard library.
package handoff

import (
	"net"
	"sync"
)

// Listener is a net.Listener whose Accept returns the connections given
// to Deliver.
type Listener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// New returns a Listener that reports addr as its address.
func New(addr net.Addr) *Listener {
	return &Listener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// Deliver passes c to the server, waiting until it accepts it; it returns
// false once the listener is closed.
func (l *Listener) Deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept returns the next delivered connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Deliver.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the address given to New.
func (l *Listener) Addr() net.Addr { return l.addr }
