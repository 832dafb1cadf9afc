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
		case *tls.Conn:
			raw = pc.NetConn()
		case *prefixConn:
			raw = pc.Conn
		case *proxyproto.Conn:
			raw, ci.proxied = pc.Raw(), true
		case *headerConn:
			raw, ci.proxied = pc.Conn, pc.remote != nil
		default:
			unwrapped = true
		}
	}
	// The socket's addresses: a proxyproto.Conn would block here to read
	// its header, and the header's addresses are not the socket's.
	if a, ok := raw.RemoteAddr().(*net.TCPAddr); ok {
		ci.peer = a.AddrPort()
	}
	if a, ok := raw.LocalAddr().(*net.TCPAddr); ok {
		ci.local = a.AddrPort()
	}
	return ci
}

// connInfoOf returns the connection information of a request.
func connInfoOf(ctx context.Context) *connInfo {
	if ci, ok := ctx.Value(connInfoKey{}).(*connInfo); ok {
		return ci
	}
	return &connInfo{}
}

// acceptProxy applies a listener's PROXY protocol settings to a new
// connection: a peer that may not send a header is refused, or passed on
// as a direct client; a trusted peer's header is read lazily, by the first
// read of whoever serves the connection. It returns nil when the
// connection was refused.
func acceptProxy(c net.Conn, p *proxySettings) net.Conn {
	if p == nil {
		return c
	}
	peer := netip.Addr{}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr()
	}
	if !p.isTrusted(peer) {
		if p.plainUntrusted {
			return c
		}
		c.Close()
		return nil
	}
	policy := proxyproto.REQUIRE
	if p.allowMissing {
		policy = proxyproto.USE
	}
	return proxyproto.NewConn(c, proxyproto.WithPolicy(policy), proxyproto.SetReadHeaderTimeout(p.timeout),
		proxyproto.ValidateHeader(validTLVs))
}

// validTLVs refuses a v2 header whose TLVs overrun or are truncated: the
// PROXY spec says such a header is invalid, and go-proxyproto only parses
// TLVs when asked.
func validTLVs(h *proxyproto.Header) error {
	_, err := h.TLVs()
	return err
}

// readProxyHeader reads the PROXY header of a connection that gatehouse
// serves itself (TCP forwarding, TLS passthrough), so that a bad or
// missing header closes it before anything is dialled upstream.
func readProxyHeader(c net.Conn, p *proxySettings) (net.Conn, error) {
	pc, ok := c.(*proxyproto.Conn)
	if !ok {
		return c, nil
	}
	raw := pc.Raw()
	br := bufio.NewReaderSize(raw, int(proxyproto.MaxV2HeaderSize)+16)
	timeout := p.timeout
	raw.SetReadDeadline(time.Now().Add(timeout))
	h, err := proxyproto.Read(br)
	if err == nil {
		err = validTLVs(h)
	}
	raw.SetReadDeadline(time.Time{})
	hc := &headerConn{Conn: raw, r: br}
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol) && pc.ProxyHeaderPolicy == proxyproto.USE:
		return hc, nil
	case err != nil:
		raw.Close()
		return nil, err
	}
	if h.Command.IsProxy() && h.TransportProtocol.IsStream() {
		hc.remote = h.SourceAddr
	}
	return hc, nil
}

// headerConn is a connection whose PROXY header has been read: reads start
// with what was buffered past the header, and RemoteAddr is the header's
// source (the socket peer for LOCAL).
type headerConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
}

func (c *headerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

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
	if b := c.r.Buffered(); b > 0 {
		data, _ := c.r.Peek(b)
		m, err := w.Write(data)
		c.r.Discard(m)
		n += int64(m)
		if err != nil {
			return n, err
		}
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
