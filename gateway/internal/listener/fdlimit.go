package listener

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// isFDExhausted reports whether accept failed for want of a file
// descriptor (per process, or system-wide).
func isFDExhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// IdleConns tracks the keep-alive connections waiting for their next
// request, across every listener (http.Server.ConnState), so that when
// accept runs out of descriptors the longest idle ones can be closed to
// make room, as nginx reuses connections.
type IdleConns struct {
	mu    sync.Mutex
	since map[net.Conn]time.Time
}

// Track is an http.Server.ConnState hook.
func (ic *IdleConns) Track(c net.Conn, st http.ConnState) {
	ic.mu.Lock()
	if st == http.StateIdle {
		if ic.since == nil {
			ic.since = map[net.Conn]time.Time{}
		}
		ic.since[c] = time.Now()
	} else {
		delete(ic.since, c)
	}
	ic.mu.Unlock()
}

// closeOldest closes up to n of the longest idle connections and returns
// how many it closed.
func (ic *IdleConns) closeOldest(n int) int {
	ic.mu.Lock()
	conns := make([]net.Conn, 0, len(ic.since))
	for c := range ic.since {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b net.Conn) int { return ic.since[a].Compare(ic.since[b]) })
	conns = conns[:min(n, len(conns))]
	for _, c := range conns {
		delete(ic.since, c)
	}
	ic.mu.Unlock()
	for _, c := range conns {
		if cn, ok := c.(interface{ CloseNow() error }); ok {
			cn.CloseNow() // an HTTP/2 guard would linger: the descriptor is needed now
		} else {
			c.Close()
		}
	}
	return len(conns)
}

// reclaimFDs makes room after accept ran out of file descriptors: it
// closes the longest idle keep-alive connections (a few at a time, so
// that a flood of new clients cannot evict every idle one at once).
func (d *Deps) reclaimFDs(listener string, err error) int {
	n := d.Idle.closeOldest(8)
	d.Metrics.FDExhausted()
	if ok, held := d.RefusalLog.Allow(); ok {
		d.Log.Warn("out of file descriptors: closed idle keep-alive connections to make room",
			"listener", listener, "error", err, "closed", n, "similar_lines_suppressed", held)
	}
	return n
}

// reserveListener keeps one file descriptor in reserve for the admin
// endpoints: when accept fails for want of descriptors, the reserve is
// given up for that one connection, so that /healthz/ready and the
// metrics answer while the data ports are full, and taken again once it
// closes.
type reserveListener struct {
	net.Listener
	onUse func() // called each time the reserve is spent
	mu    sync.Mutex
	spare io.Closer // nil while lent
}

// NewReserveListener returns ln with one file descriptor in reserve;
// onUse is called each time the reserve is spent.
func NewReserveListener(ln net.Listener, onUse func()) net.Listener {
	l := &reserveListener{Listener: ln, onUse: onUse}
	l.take()
	return l
}

func (l *reserveListener) take() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare == nil {
		if f, err := os.Open(os.DevNull); err == nil {
			l.spare = f
		}
	}
}

// Accept accepts a connection, spending the reserve if it must.
func (l *reserveListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil || !isFDExhausted(err) {
		return c, err
	}
	l.mu.Lock()
	spare := l.spare
	l.spare = nil
	l.mu.Unlock()
	if spare == nil {
		return nil, err
	}
	spare.Close()
	l.onUse()
	c, err = l.Listener.Accept()
	if err != nil {
		l.take()
		return nil, err
	}
	return &retakeConn{Conn: c, l: l}, nil
}

// retakeConn gives the reserve back when it closes.
type retakeConn struct {
	net.Conn
	l    *reserveListener
	once sync.Once
}

func (c *retakeConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.l.take)
	return err
}
