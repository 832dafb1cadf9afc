package transport

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// testClient is the client's side of a request without a body, as the
// proxy's would be.
type testClient struct{ o *Request }

func (c testClient) Replayable() bool                      { return c.o.Upgrade == "" }
func (testClient) Rewind()                                 {}
func (c testClient) TrailerBody() (http.Header, io.Reader) { return nil, c.o.Body }
func (testClient) BodyReadDeadline(time.Time) bool         { return true }
func (testClient) BodyEnd()                                {}
func (testClient) SendingBody()                            {}
func (testClient) AbortBody()                              {}
func (testClient) BodyRefused() error                      { return nil }

// newTestRequest describes r for the engines as the proxy prepares it,
// before the route's path.
func newTestRequest(r *http.Request) *Request {
	o := &Request{Fields: r.Header, Method: r.Method, RawQuery: r.URL.RawQuery, Host: r.Host, ConnectTimeout: 10 * time.Second}
	o.Client = testClient{o}
	return o
}

// chanListener is a net.Listener fed by deliver, so that a test server can
// be handed the in-memory connections of a testUpstream. (The gateway's
// own, which its listeners use, is out of reach of this package.)
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

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
