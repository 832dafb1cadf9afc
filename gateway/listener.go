package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/listener"
)

// DefaultHeaderTimeout is Options.HeaderTimeout's default: Envoy's
// request_headers_timeout as Istio's edge guidance sets it.
const DefaultHeaderTimeout = 10 * time.Second

// Limits of the downstream HTTP servers (security.md HTTP-05, HTTP-06).
const (
	idleTimeout    = 5 * time.Minute
	maxHeaderBytes = 64 << 10
)

// portListener is one bound socket. It lives as long as some Gateway server
// uses its bind address and port, across any number of reloads: what it
// does with each connection is read from the snapshot current when the
// connection is accepted.
type portListener struct {
	s    *Server
	key  listener.Key
	ln   net.Listener
	http *http.Server // plaintext HTTP/1.1 and h2c
	tls  *http.Server // HTTPS after the handshake, HTTP/1.1 and h2
	// plain and secure feed accepted connections to the two servers.
	plain, secure *chanListener
	done          chan struct{} // closed when the accept loop has returned
	conns         sync.WaitGroup
	active        atomic.Int64 // connections held, when a cap applies (connlimit.go)
}

// bind opens the socket for k. It serves nothing until serve is called.
func (s *Server) bind(k listener.Key) (*portListener, error) {
	network, addr := s.listenAddr(k)
	ln, err := s.opts.Listen(context.Background(), network, addr)
	if err != nil {
		return nil, err
	}
	l := &portListener{s: s, key: k, ln: ln, done: make(chan struct{})}
	l.plain, l.secure = newChanListener(ln.Addr()), newChanListener(ln.Addr())
	h := &httpHandler{s: s, key: k}
	h.h2c = newH2CHandler(h)
	l.http = s.newHTTPServer(h, ln.Addr().String())
	l.http.Protocols = new(http.Protocols)
	l.http.Protocols.SetHTTP1(true)
	l.http.Protocols.SetUnencryptedHTTP2(true)
	l.tls = s.newHTTPServer(h, ln.Addr().String())
	if err := l.newH2Server(l.tls, h); err != nil {
		ln.Close()
		return nil, err
	}
	return l, nil
}

// newHTTPServer configures a downstream HTTP server with edge limits.
func (s *Server) newHTTPServer(h http.Handler, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.opts.HeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return s.requests },
		ConnContext:       withConnInfo,
		ConnState:         s.idle.track,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 100,
			// Envoy's and the protocol's default: clients that send frames
			// as large as advertised, whatever the flow-control window, are
			// not reset.
			MaxReadFrameSize:              16 << 10,
			MaxReceiveBufferPerConnection: 1 << 20,
			MaxReceiveBufferPerStream:     64 << 10,
		},
		ErrorLog: slog.NewLogLogger(s.log.With("listener", name).Handler(), slog.LevelDebug),
	}
}

// serve runs the accept loop and the HTTP servers.
func (l *portListener) serve() {
	go l.http.Serve(l.plain)
	go l.tls.Serve(l.secure)
	defer close(l.done)
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if isFDExhausted(err) {
				if l.s.reclaimFDs(l.ln.Addr().String(), err) > 0 {
					backoff = 5 * time.Millisecond // room was made: try again soon
				}
			} else {
				l.s.log.Warn("accept failed; retrying", "listener", l.ln.Addr().String(), "error", err, "retry_in", backoff)
			}
			time.Sleep(backoff) // never spin
			continue
		}
		backoff = 0
		l.dispatch(c)
	}
}

// dispatch hands a new connection to whatever the current snapshot says
// this port is. Nothing here blocks the accept loop: reading a PROXY
// header, a TLS handshake or dialling an upstream happen on the
// connection's own goroutine. A peer that may not send PROXY headers to
// a listener that takes them is closed at once (or, with
// proxy-protocol-untrusted: plain, served as a direct client).
func (l *portListener) dispatch(c net.Conn) {
	snap := l.s.snap.Load()
	lc := snap.listeners[l.key]
	if lc == nil {
		c.Close()
		return
	}
	if c = l.admit(c, lc); c == nil {
		return
	}
	if p := lc.Proxy; p != nil {
		switch {
		case p.IsTrusted(peerAddr(c)):
			l.conns.Go(func() {
				hc, reason, err := readProxyHeader(c, p)
				if err != nil {
					l.refuseProxy(c, reason, err)
					return
				}
				l.route(hc, lc, snap)
			})
			return
		case !p.PlainUntrusted:
			c.Close()
			l.refuseProxy(c, proxyUntrusted, nil)
			return
		}
	}
	l.route(c, lc, snap)
}

// route hands a connection, its PROXY header read, to what serves its
// listener's protocol.
func (l *portListener) route(c net.Conn, lc *listener.Config, snap *Snapshot) {
	switch {
	case lc.Family == listener.FamilyHTTP:
		l.deliver(l.plain, l.h2Guard(l.guard(c, lc, false)))
	case lc.Family == listener.FamilyTLS && lc.OnlyHTTPS():
		l.conns.Go(func() { l.serveHTTPS(c, lc) })
	default:
		l.conns.Go(func() { l.s.serveConn(l, c, lc, snap) })
	}
}

func (l *portListener) deliver(to *chanListener, c net.Conn) {
	if !to.deliver(c) {
		c.Close()
	}
}

// drain stops accepting, then lets in-flight requests finish until ctx
// ends, when the remaining connections are closed.
func (l *portListener) drain(ctx context.Context) {
	l.ln.Close()
	<-l.done
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{l.http, l.tls} {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		})
	}
	wg.Wait()
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
	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	empty  chan struct{} // closed while there are no connections
	closed bool          // closeAll ran: new connections are closed at once
}

// add tracks c; after closeAll it closes c instead.
func (t *tracker) add(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return
	}
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
	t.conns, t.closed = nil, true
	t.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}
