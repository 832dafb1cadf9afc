package listener

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/handoff"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// Limits of the downstream HTTP servers (security.md HTTP-05, HTTP-06).
const (
	idleTimeout    = 5 * time.Minute
	maxHeaderBytes = 64 << 10
)

// Listener is one bound socket. It lives as long as some Gateway server
// uses its bind address and port, across any number of reloads: what it
// does with each connection is read from the generation current when the
// connection is accepted (Deps.Current).
type Listener struct {
	d    *Deps
	key  Key
	ln   net.Listener
	http *http.Server // plaintext HTTP/1.1 and h2c
	tls  *http.Server // HTTPS after the handshake, HTTP/1.1 and h2
	// plain and secure feed accepted connections to the two servers.
	plain, secure *handoff.Listener
	done          chan struct{} // closed when the accept loop has returned
	conns         sync.WaitGroup
	// lingering counts HTTP/2 connections closing after their GOAWAY
	// (h2guard's lingering close), which Drain waits for.
	lingering sync.WaitGroup
	active    atomic.Int64 // connections held, when a cap applies (connlimit.go)
}

// New makes the listener of key on the socket ln, whose HTTP requests h
// serves. It serves nothing until Serve is called. On error ln is closed.
func New(key Key, ln net.Listener, h http.Handler, d *Deps) (*Listener, error) {
	l := &Listener{d: d, key: key, ln: ln, done: make(chan struct{})}
	l.plain, l.secure = handoff.New(ln.Addr()), handoff.New(ln.Addr())
	l.http = d.newHTTPServer(h, ln.Addr().String())
	l.http.Protocols = new(http.Protocols)
	l.http.Protocols.SetHTTP1(true)
	l.http.Protocols.SetUnencryptedHTTP2(true)
	l.tls = d.newHTTPServer(h, ln.Addr().String())
	if err := l.newH2Server(l.tls, h); err != nil {
		ln.Close()
		return nil, err
	}
	return l, nil
}

// Key returns the bind address and port the listener serves.
func (l *Listener) Key() Key { return l.key }

// Addr returns the socket's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting connections; those accepted are left alone (see
// Drain).
func (l *Listener) Close() error { return l.ln.Close() }

// SetKeepAlivesEnabled switches keep-alives of both HTTP servers: off,
// responses say "Connection: close" and HTTP/2 connections get GOAWAY.
func (l *Listener) SetKeepAlivesEnabled(v bool) {
	l.http.SetKeepAlivesEnabled(v)
	l.tls.SetKeepAlivesEnabled(v)
}

// HTTPServers returns the HTTP servers of plaintext and of terminated TLS
// connections.
func (l *Listener) HTTPServers() (plain, secure *http.Server) { return l.http, l.tls }

// newHTTPServer configures a downstream HTTP server with edge limits.
func (d *Deps) newHTTPServer(h http.Handler, name string) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: d.HeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return d.Requests },
		ConnContext:       WithConnInfo,
		ConnState:         d.Idle.Track,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: 100,
			// Envoy's and the protocol's default: clients that send frames
			// as large as advertised, whatever the flow-control window, are
			// not reset.
			MaxReadFrameSize:              16 << 10,
			MaxReceiveBufferPerConnection: 1 << 20,
			MaxReceiveBufferPerStream:     64 << 10,
		},
		ErrorLog: slog.NewLogLogger(d.Log.With("listener", name).Handler(), slog.LevelDebug),
	}
}

// Serve runs the accept loop and the HTTP servers.
func (l *Listener) Serve() {
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
				if l.d.reclaimFDs(l.ln.Addr().String(), err) > 0 {
					backoff = 5 * time.Millisecond // room was made: try again soon
				}
			} else {
				l.d.Log.Warn("accept failed; retrying", "listener", l.ln.Addr().String(), "error", err, "retry_in", backoff)
			}
			time.Sleep(backoff) // never spin
			continue
		}
		backoff = 0
		l.dispatch(c)
	}
}

// dispatch hands a new connection to whatever the current generation
// says this port is. Nothing here blocks the accept loop: reading a PROXY
// header, a TLS handshake or dialling an upstream happen on the
// connection's own goroutine. A peer that may not send PROXY headers to
// a listener that takes them is closed at once (or, with
// proxy-protocol-untrusted: plain, served as a direct client).
func (l *Listener) dispatch(c net.Conn) {
	lc, gen := l.d.Current(l.key)
	if lc == nil {
		c.Close()
		return
	}
	if c = l.admit(c, lc); c == nil {
		return
	}
	switch p := lc.Proxy; p.Admit(peerAddr(c)) {
	case mesh.ProxyReadHeader:
		l.conns.Go(func() {
			hc, reason, err := ReadProxyHeader(c, p)
			if err != nil {
				l.refuseProxy(c, reason, err)
				return
			}
			l.route(hc, lc, gen)
		})
	case mesh.ProxyRefuse:
		c.Close()
		l.refuseProxy(c, ProxyUntrusted, nil)
	default:
		l.route(c, lc, gen)
	}
}

// route hands a connection, its PROXY header read, to what serves its
// listener's protocol.
func (l *Listener) route(c net.Conn, lc *Config, gen any) {
	switch {
	case lc.Family == FamilyHTTP:
		l.deliver(l.plain, l.h2Guard(l.guard(c, lc, false)))
	case lc.Family == FamilyTLS && lc.OnlyHTTPS():
		l.conns.Go(func() { l.serveHTTPS(c, lc) })
	default:
		l.conns.Go(func() { l.serveStream(c, lc, gen) })
	}
}

// deliver hands c to the HTTP server that serves it, or closes it once
// that server has stopped.
func (l *Listener) deliver(to *handoff.Listener, c net.Conn) {
	if !to.Deliver(c) {
		c.Close()
	}
}

// Drain stops accepting, then lets in-flight requests finish until ctx
// ends, when the remaining connections are closed. It returns once the
// HTTP/2 connections closed after their GOAWAY have lingered (or ctx
// ends).
func (l *Listener) Drain(ctx context.Context) {
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
	// The last HTTP/2 connections may still be lingering (at most about a
	// second): a process that exits now would reset them.
	lingered := make(chan struct{})
	go func() {
		l.lingering.Wait()
		close(lingered)
	}()
	select {
	case <-lingered:
	case <-ctx.Done():
	}
}
