package listener

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h1guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/h2guard"
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
	"github.com/pires/go-proxyproto"
)

// ConnInfo is what the gateway knows about a downstream connection beyond
// what net/http keeps: the physical peer, which a PROXY header hides from
// RemoteAddr, and the local address the connection arrived on.
type ConnInfo struct {
	Peer    netip.AddrPort
	Local   netip.AddrPort
	Proxied bool // RemoteAddr comes from a PROXY header
	// XFCC is the X-Forwarded-Client-Cert value for the connection's
	// client certificate, made on first use.
	XFCC atomic.Pointer[string]
	// TLS is the TLS state of a connection the HTTP/1.1 engine serves
	// behind the request validator, which hides the *tls.Conn from it.
	TLS *tls.ConnectionState
	// Guard is the HTTP/1.1 request validator in front of the engine, nil
	// on HTTP/2.
	Guard *h1guard.Conn
}

type connInfoKey struct{}

// WithConnInfo is http.Server.ConnContext: it records the physical peer.
func WithConnInfo(ctx context.Context, c net.Conn) context.Context {
	return NewContext(ctx, NewConnInfo(c))
}

// NewContext returns ctx carrying ci, for ConnInfoOf.
func NewContext(ctx context.Context, ci *ConnInfo) context.Context {
	return context.WithValue(ctx, connInfoKey{}, ci)
}

// NewConnInfo unwraps c down to the socket to find the physical peer and
// the local address. It never reads from c.
func NewConnInfo(c net.Conn) *ConnInfo {
	ci := &ConnInfo{}
	raw := c
	for unwrapped := false; !unwrapped; {
		switch pc := raw.(type) {
		case *h1guard.Conn:
			ci.Guard = pc
			raw = pc.NetConn()
		case *h2guard.Conn:
			raw = pc.NetConn()
		case *h2guard.TLSConn:
			raw = pc.NetConn()
		case *tls.Conn:
			if ci.TLS == nil {
				cs := pc.ConnectionState()
				ci.TLS = &cs
			}
			raw = pc.NetConn()
		case *countedConn:
			raw = pc.Conn
		case *prefixConn:
			raw = pc.Conn
		case *headerConn:
			raw, ci.Proxied = pc.Conn, pc.remote != nil
		default:
			unwrapped = true
		}
	}
	// The socket's addresses: the header's are not the socket's.
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		ci.Peer = a.AddrPort()
	}
	if a, ok := raw.LocalAddr().(*net.TCPAddr); ok {
		ci.Local = a.AddrPort()
	}
	return ci
}

// BodyRefused reports whether the request validator refused the body of
// the connection's current request.
func (ci *ConnInfo) BodyRefused() bool { return ci.Guard != nil && ci.Guard.BodyRefused() }

// ConnInfoOf returns the connection information of a request.
func ConnInfoOf(ctx context.Context) *ConnInfo {
	if ci, ok := ctx.Value(connInfoKey{}).(*ConnInfo); ok {
		return ci
	}
	return &ConnInfo{}
}

// Why a connection was refused at its PROXY protocol header: the label
// values of gatehouse_proxy_protocol_refused_total and the reasons logged.
const (
	ProxyUntrusted   = "untrusted_peer"       // the peer may not send PROXY headers
	ProxyMissing     = "missing_header"       // a trusted peer sent something else first
	ProxyMalformed   = "malformed_header"     // a PROXY header that does not parse or whose TLVs overrun
	ProxyFamily      = "unsupported_family"   // a PROXY header for AF_UNIX or UDP on a TCP listener
	ProxyTimeout     = "timeout"              // the header did not arrive in time
	ProxyClosedEarly = "closed_before_header" // the peer closed without sending anything (health checks)
)

// errProxyFamily refuses a PROXY header whose addresses are not TCP over
// IPv4 or IPv6: a Unix socket path or a UDP address is not the client of
// a TCP connection (security.md PP-07).
var errProxyFamily = errors.New("PROXY header is not for TCP over IPv4 or IPv6")

// ReadProxyHeader reads and checks the PROXY header of a new connection
// from a peer trusted to send one, within the listener's timeout, so that
// a bad or missing header closes the connection before anything parses
// it as HTTP or TLS, or dials an upstream. It returns the connection to
// serve, whose RemoteAddr is the header's source (the socket peer for
// LOCAL and UNKNOWN), or the refusal reason and error; c is then closed.
func ReadProxyHeader(c net.Conn, p *mesh.ProxySettings) (net.Conn, string, error) {
	br := bufio.NewReaderSize(c, int(proxyproto.MaxV2HeaderSize)+16)
	c.SetReadDeadline(time.Now().Add(p.Timeout))
	var h *proxyproto.Header
	// A peer that sends nothing at all is told apart from one that sends
	// something else than a header.
	_, err := br.Peek(1)
	if err == nil {
		h, err = proxyproto.Read(br)
	}
	if err == nil {
		err = checkProxyHeader(h)
	}
	c.SetReadDeadline(time.Time{})
	hc := &headerConn{Conn: c, r: br}
	if err != nil {
		if errors.Is(err, proxyproto.ErrNoProxyProtocol) && p.AllowMissing {
			return hc, "", nil
		}
		c.Close()
		return nil, proxyRefusalReason(err), err
	}
	if h.Command.IsProxy() && h.TransportProtocol.IsStream() {
		hc.remote = h.SourceAddr
	}
	return hc, "", nil
}

// checkProxyHeader refuses a v2 header whose TLVs overrun or are
// truncated (the PROXY spec says such a header is invalid, and
// go-proxyproto only parses TLVs when asked), and one that proxies
// anything but TCP over IPv4 or IPv6. LOCAL (health checks) and v1
// UNKNOWN carry no client: the socket peer stands.
func checkProxyHeader(h *proxyproto.Header) error {
	if _, err := h.TLVs(); err != nil {
		return err
	}
	if !h.Command.IsProxy() {
		return nil
	}
	switch h.TransportProtocol {
	case proxyproto.TCPv4, proxyproto.TCPv6, proxyproto.UNSPEC:
		return nil
	}
	return errProxyFamily
}

// proxyRefusalReason classifies a failure to read a PROXY header.
func proxyRefusalReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errProxyFamily):
		return ProxyFamily
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return ProxyMissing
	case errors.Is(err, io.EOF):
		return ProxyClosedEarly
	case errors.As(err, &ne) && ne.Timeout():
		return ProxyTimeout
	}
	return ProxyMalformed
}

// headerConn is a connection whose PROXY header has been read: reads start
// with what was buffered past the header, and RemoteAddr is the header's
// source (the socket peer for LOCAL). Once the buffer is drained it is
// dropped and reads go straight to the socket, so an idle connection
// holds no buffer.
type headerConn struct {
	net.Conn
	r      *bufio.Reader // nil once drained
	remote net.Addr
}

func (c *headerConn) Read(p []byte) (int, error) {
	if c.r == nil {
		return c.Conn.Read(p)
	}
	n, err := c.r.Read(p)
	if c.r.Buffered() == 0 {
		c.r = nil
	}
	return n, err
}

// RemoteAddr returns the client address the header gave.
func (c *headerConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// WriteTo sends what was buffered, then the rest of the stream, letting
// the kernel splice socket to socket where it can.
func (c *headerConn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if c.r != nil {
		if b := c.r.Buffered(); b > 0 {
			data, _ := c.r.Peek(b)
			m, err := w.Write(data)
			c.r.Discard(m)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
		c.r = nil
	}
	m, err := io.Copy(w, c.Conn)
	return n + m, err
}

// CloseWrite half-closes the connection.
func (c *headerConn) CloseWrite() error { return CloseWrite(c.Conn) }

// prefixConn replays bytes already read (a peeked ClientHello) before the
// rest of the stream.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// WriteTo sends the prefix, then the stream (spliced where possible).
func (c *prefixConn) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(c.prefix)
	c.prefix = nil
	if err != nil {
		return int64(n), err
	}
	m, err := io.Copy(w, c.Conn)
	return int64(n) + m, err
}

// CloseWrite half-closes the connection.
func (c *prefixConn) CloseWrite() error { return CloseWrite(c.Conn) }

// CloseWrite half-closes c if it can, else closes it.
func CloseWrite(c net.Conn) error {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}

// RawConn returns the socket under a connection's wrappers.
func RawConn(c net.Conn) net.Conn {
	for {
		switch w := c.(type) {
		case *tls.Conn:
			c = w.NetConn()
		case *h1guard.Conn:
			c = w.NetConn()
		case *h2guard.Conn:
			c = w.NetConn()
		case *h2guard.TLSConn:
			c = w.NetConn()
		case *countedConn:
			c = w.Conn
		case *prefixConn:
			c = w.Conn
		case *headerConn:
			c = w.Conn
		default:
			return c
		}
	}
}
