package gateway

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

// connInfo is what the gateway knows about a downstream connection beyond
// what net/http keeps: the physical peer, which a PROXY header hides from
// RemoteAddr, and the local address the connection arrived on.
type connInfo struct {
	peer    netip.AddrPort
	local   netip.AddrPort
	proxied bool // RemoteAddr comes from a PROXY header
	// xfcc is the X-Forwarded-Client-Cert value for the connection's
	// client certificate, made on first use.
	xfcc atomic.Pointer[string]
	// tls is the TLS state of a connection the HTTP/1.1 engine serves
	// behind the request validator, which hides the *tls.Conn from it.
	tls *tls.ConnectionState
	// guard is the HTTP/1.1 request validator in front of the engine, nil
	// on HTTP/2.
	guard *h1guard.Conn
}

type connInfoKey struct{}

// withConnInfo is http.Server.ConnContext: it records the physical peer.
func withConnInfo(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connInfoKey{}, newConnInfo(c))
}

// newConnInfo unwraps c down to the socket to find the physical peer and
// the local address. It never reads from c.
func newConnInfo(c net.Conn) *connInfo {
	ci := &connInfo{}
	raw := c
	for unwrapped := false; !unwrapped; {
		switch pc := raw.(type) {
		case *h1guard.Conn:
			ci.guard = pc
			raw = pc.NetConn()
		case *h2guard.Conn:
			raw = pc.NetConn()
		case *h2guard.TLSConn:
			raw = pc.NetConn()
		case *tls.Conn:
			if ci.tls == nil {
				cs := pc.ConnectionState()
				ci.tls = &cs
			}
			raw = pc.NetConn()
		case *countedConn:
			raw = pc.Conn
		case *prefixConn:
			raw = pc.Conn
		case *headerConn:
			raw, ci.proxied = pc.Conn, pc.remote != nil
		default:
			unwrapped = true
		}
	}
	// The socket's addresses: the header's are not the socket's.
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		ci.peer = a.AddrPort()
	}
	if a, ok := raw.LocalAddr().(*net.TCPAddr); ok {
		ci.local = a.AddrPort()
	}
	return ci
}

// bodyRefused reports whether the request validator refused the body of
// the connection's current request.
func (ci *connInfo) bodyRefused() bool { return ci.guard != nil && ci.guard.BodyRefused() }

// connInfoOf returns the connection information of a request.
func connInfoOf(ctx context.Context) *connInfo {
	if ci, ok := ctx.Value(connInfoKey{}).(*connInfo); ok {
		return ci
	}
	return &connInfo{}
}

// Why a connection was refused at its PROXY protocol header: the label
// values of gatehouse_proxy_protocol_refused_total and the reasons logged.
const (
	proxyUntrusted   = "untrusted_peer"       // the peer may not send PROXY headers
	proxyMissing     = "missing_header"       // a trusted peer sent something else first
	proxyMalformed   = "malformed_header"     // a PROXY header that does not parse or whose TLVs overrun
	proxyFamily      = "unsupported_family"   // a PROXY header for AF_UNIX or UDP on a TCP listener
	proxyTimeout     = "timeout"              // the header did not arrive in time
	proxyClosedEarly = "closed_before_header" // the peer closed without sending anything (health checks)
)

// errProxyFamily refuses a PROXY header whose addresses are not TCP over
// IPv4 or IPv6: a Unix socket path or a UDP address is not the client of
// a TCP connection (security.md PP-07).
var errProxyFamily = errors.New("PROXY header is not for TCP over IPv4 or IPv6")

// readProxyHeader reads and checks the PROXY header of a new connection
// from a peer trusted to send one, within the listener's timeout, so that
// a bad or missing header closes the connection before anything parses
// it as HTTP or TLS, or dials an upstream. It returns the connection to
// serve, whose RemoteAddr is the header's source (the socket peer for
// LOCAL and UNKNOWN), or the refusal reason and error; c is then closed.
func readProxyHeader(c net.Conn, p *mesh.ProxySettings) (net.Conn, string, error) {
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
		return proxyFamily
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return proxyMissing
	case errors.Is(err, io.EOF):
		return proxyClosedEarly
	case errors.As(err, &ne) && ne.Timeout():
		return proxyTimeout
	}
	return proxyMalformed
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
func (c *headerConn) CloseWrite() error { return closeWrite(c.Conn) }

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
func (c *prefixConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c if it can, else closes it.
func closeWrite(c net.Conn) error {
	if hc, ok := c.(halfCloser); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}
