package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits of the downstream HTTP servers (security.md HTTP-05, HTTP-06).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 5 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// listener is one bound socket. It lives as long as some Gateway server
// uses its bind address and port, across any number of reloads: what it
// does with each connection is read from the snapshot current when the
// connection is accepted.
type listener struct {
	s    *Server
	key  listenerKey
	ln   net.Listener
	http *http.Server
	conn *chanListener // feeds accepted connections to http
	done chan struct{} // closed when the accept loop has returned
}

// bind opens the socket for k. It serves nothing until serve is called.
func (s *Server) bind(k listenerKey) (*listener, error) {
	network, addr := s.listenAddr(k)
	ln, err := s.opts.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	l := &listener{s: s, key: k, ln: ln, done: make(chan struct{})}
	l.conn = newChanListener(ln.Addr())
	l.http = &http.Server{
		Handler:           &httpHandler{s: s, key: k},
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.With("listener", ln.Addr().String()).Handler(), slog.LevelDebug),
	}
	return l, nil
}

// serve runs the accept loop and the HTTP server.
func (l *listener) serve() {
	go l.http.Serve(l.conn)
	defer close(l.done)
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, never spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.s.log.Warn("accept failed; retrying", "listener", l.ln.Addr().String(), "error", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		l.dispatch(c)
	}
}

// dispatch hands a new connection to whatever the current snapshot says
// this port is.
func (l *listener) dispatch(c net.Conn) {
	lc := l.s.snap.Load().listeners[l.key]
	if lc == nil {
		c.Close()
		return
	}
	switch lc.family {
	case familyHTTP:
		if !l.conn.deliver(c) {
			c.Close()
		}
	default:
		c.Close()
	}
}

// drain stops accepting, then lets in-flight requests finish until ctx
// ends, when the remaining connections are closed.
func (l *listener) drain(ctx context.Context) {
	l.ln.Close()
	<-l.done
	if err := l.http.Shutdown(ctx); err != nil {
		l.http.Close()
	}
}

// chanListener is a net.Listener fed by the accept loop, so that one
// socket can hand connections to different servers.
type chanListener struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// deliver passes c to the server; it returns false once the listener is
// closed.
func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept returns the next delivered connection.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops Accept.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr returns the socket's address.
func (l *chanListener) Addr() net.Addr { return l.addr }

// tracker holds connections that http.Server.Shutdown does not know about
// (hijacked for WebSocket tunnels), so that shutdown can close them.
type tracker struct {
	mu    sync.Mutex
	conns map[io.Closer]struct{}
	empty chan struct{} // closed while there are no connections
}

func (t *tracker) add(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conns == nil {
		t.conns = map[io.Closer]struct{}{}
	}
	if len(t.conns) == 0 {
		t.empty = make(chan struct{})
	}
	t.conns[c] = struct{}{}
}

func (t *tracker) remove(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if len(t.conns) == 0 {
		close(t.empty)
	}
}

// wait returns when no connection is tracked or ctx ends.
func (t *tracker) wait(ctx context.Context) {
	t.mu.Lock()
	empty := t.empty
	n := len(t.conns)
	t.mu.Unlock()
	if n == 0 {
		return
	}
	select {
	case <-empty:
	case <-ctx.Done():
	}
}

// closeAll closes every tracked connection.
func (t *tracker) closeAll() {
	t.mu.Lock()
	conns := t.conns
	t.conns = nil
	t.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}
