package transport

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// h2Pool holds the HTTP/2 connections of one upstream pool. Each
// connection carries many requests at once: a request takes a stream slot
// on a connection with room, and a connection is opened only when none
// has one, by one request at a time while the others wait for it.
//
// It is built on net/http's ClientConn rather than its Transport because
// the Transport retries on its own, without bound: an upstream that sends
// GOAWAY on every new connection made it dial thousands per second, and
// one that refuses every stream held the request for a minute of
// backoff (security.md UP-06). Here every attempt is one stream on one
// connection; the route's retry policy decides about another.
type h2Pool struct {
	tr     *http.Transport // makes connections (NewClientConn) and nothing else
	scheme string
	addr   string // what NewClientConn is given; the pool's dial ignores it
	limits Limits
	pool   *Pool // counts open connections

	mu      sync.Mutex
	conns   []*h2Conn
	dialing chan struct{} // closed when the connection being opened is ready or failed
	closed  atomic.Bool   // set under mu; read by state hooks, which must not take it

	// changed is closed, and replaced, whenever a connection may have
	// room again: a request waiting for the connection limit looks again.
	changedMu sync.Mutex
	changed   chan struct{}
}

// h2Conn is one HTTP/2 connection of an h2Pool.
type h2Conn struct {
	cc   *http.ClientConn
	born time.Time
	uses int // requests sent, for maxRequestsPerConnection
}

// errH2NoStreams is a fresh HTTP/2 connection that allows no stream at
// all: the upstream would never process a request on it.
var errH2NoStreams = errors.New("upstream HTTP/2 connection allows no streams")

func newH2Pool(p *Pool, tr *http.Transport, scheme string) *h2Pool {
	addr := p.addr
	if p.network == "unix" {
		addr = "localhost:0" // NewClientConn wants host:port; the dial uses the socket path
	}
	return &h2Pool{tr: tr, scheme: scheme, addr: addr, limits: p.limits, pool: p, changed: make(chan struct{})}
}

// roundTrip sends req as one stream on a connection with room.
func (h *h2Pool) roundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	cc, err := h.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return cc.RoundTrip(req)
}

// acquire returns a connection with a stream slot reserved for the caller.
func (h *h2Pool) acquire(ctx context.Context) (*http.ClientConn, error) {
	for {
		changed := h.changedCh() // before looking: a slot freed after this wakes us
		h.mu.Lock()
		if h.closed.Load() {
			h.mu.Unlock()
			return nil, &ConnectError{Err: errors.New("upstream pool closed by a configuration change")}
		}
		stale := h.pruneLocked()
		if cc := h.reserveLocked(); cc != nil {
			h.mu.Unlock()
			closeAll(stale)
			return cc, nil
		}
		var wait <-chan struct{}
		if h.dialing != nil {
			wait = h.dialing
		}
		if wait == nil && h.limits.MaxConnections > 0 && len(h.conns) >= h.limits.MaxConnections {
			wait = changed
		}
		if wait != nil {
			h.mu.Unlock()
			closeAll(stale)
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}
		h.dialing = make(chan struct{})
		h.mu.Unlock()
		closeAll(stale)
		return h.dial(ctx)
	}
}

// dial opens a connection and reserves the caller's slot on it before any
// other request may take one.
func (h *h2Pool) dial(ctx context.Context) (*http.ClientConn, error) {
	h.pool.open.Add(1)
	cc, err := h.tr.NewClientConn(ctx, h.scheme, h.addr)
	h.mu.Lock()
	done := h.dialing
	h.dialing = nil
	if err == nil {
		switch {
		case h.closed.Load():
			err = errors.New("upstream pool closed by a configuration change")
		case cc.Reserve() != nil:
			err = &RefusedStreamError{Err: errH2NoStreams}
		default:
			h.conns = append(h.conns, &h2Conn{cc: cc, born: time.Now(), uses: 1})
		}
		if err != nil {
			cc.Close()
		}
	}
	h.mu.Unlock()
	close(done)
	if err != nil {
		h.pool.open.Add(-1)
		if errors.As(err, new(*RefusedStreamError)) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, &ConnectError{Err: err}
	}
	cc.SetStateHook(h.stateChanged)
	return cc, nil
}

// reserveLocked reserves a slot on the most used connection with room,
// so that idle connections stay idle and close on their timeout.
func (h *h2Pool) reserveLocked() *http.ClientConn {
	for i := len(h.conns) - 1; i >= 0; i-- {
		c := h.conns[i]
		if h.retiring(c) || c.cc.Reserve() != nil {
			continue
		}
		c.uses++
		return c.cc
	}
	return nil
}

// retiring reports whether c takes no new request: it reached
// maxRequestsPerConnection or outlived maxConnectionDuration.
func (h *h2Pool) retiring(c *h2Conn) bool {
	if n := h.limits.MaxRequestsPerConn; n > 0 && c.uses >= n {
		return true
	}
	d := h.limits.MaxConnDuration
	return d > 0 && time.Since(c.born) >= d
}

// pruneLocked drops the connections that failed, went away (GOAWAY) or
// retired with nothing in flight, and returns those still to be closed.
func (h *h2Pool) pruneLocked() []*http.ClientConn {
	var stale []*http.ClientConn
	keep := h.conns[:0]
	for _, c := range h.conns {
		switch {
		case c.cc.Err() != nil, (h.closed.Load() || h.retiring(c)) && c.cc.InFlight() == 0:
			stale = append(stale, c.cc)
			h.pool.open.Add(-1)
		default:
			keep = append(keep, c)
		}
	}
	clear(h.conns[len(keep):])
	h.conns = keep
	return stale
}

// close stops the pool: idle connections close now, the others once
// their last request ends.
func (h *h2Pool) close() {
	h.mu.Lock()
	h.closed.Store(true)
	h.mu.Unlock()
	h.prune()
	h.signal()
}

// prune closes the connections pruneLocked drops.
func (h *h2Pool) prune() {
	h.mu.Lock()
	stale := h.pruneLocked()
	h.mu.Unlock()
	closeAll(stale)
}

// stateChanged is every connection's state hook: a request may end, a
// slot free up or the connection fail. It may run inside Reserve, under
// h.mu, so it never takes it itself.
func (h *h2Pool) stateChanged(*http.ClientConn) {
	h.signal()
	if h.closed.Load() {
		go h.prune()
	}
}

func (h *h2Pool) changedCh() <-chan struct{} {
	h.changedMu.Lock()
	defer h.changedMu.Unlock()
	return h.changed
}

// signal wakes the requests waiting for room. It runs from the
// connections' state hooks, so it never takes h.mu.
func (h *h2Pool) signal() {
	h.changedMu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.changedMu.Unlock()
}

func closeAll(conns []*http.ClientConn) {
	for _, cc := range conns {
		cc.Close()
	}
}

// h2NotProcessed are the messages of net/http's HTTP/2 client errors that
// mean the upstream never processed the stream: the connection was no
// longer usable, or the upstream's GOAWAY excluded it.
var h2NotProcessed = []string{
	"http2: client conn not usable",
	"http2: Transport received Server's graceful shutdown GOAWAY",
	"http2: client conn could not be established",
}

// notProcessed reports whether err says the upstream never processed the
// request, so that sending it again is safe (Envoy's refused-stream).
func notProcessed(err error) bool {
	msg := err.Error()
	if strings.Contains(msg, "REFUSED_STREAM") {
		return true
	}
	for _, m := range h2NotProcessed {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
