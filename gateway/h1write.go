package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-proxy/gatehouse/gateway/internal/mesh"
)

// Errors of an upstream exchange; the proxy turns each into Envoy's local
// reply for it.
var (
	// errStreamIdle ends an exchange on which nothing moved for the
	// stream idle timeout (Envoy's stream_idle_timeout).
	errStreamIdle     = errors.New("stream idle timeout")
	errStaleConn      = errors.New("pooled upstream connection was closed by the upstream")
	errHeaderTooLarge = errors.New("upstream response headers exceed the limit")
)

// connectError is a failure to connect to an endpoint (Envoy's UF).
type connectError struct{ err error }

func (e *connectError) Error() string { return "upstream connect error: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// resetError is a connection closed or reset before the response head was
// complete (Envoy's UC/UR).
type resetError struct{ err error }

func (e *resetError) Error() string { return "upstream reset before response: " + e.err.Error() }
func (e *resetError) Unwrap() error { return e.err }

// protocolError is a response the gateway cannot parse or accept.
type protocolError struct{ err error }

func (e *protocolError) Error() string { return "upstream protocol error: " + e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }

// clientBodyError is a failure reading the client's request body while
// sending it upstream: the client's fault, answered 400 if still possible.
type clientBodyError struct{ err error }

func (e *clientBodyError) Error() string { return "reading request body: " + e.err.Error() }
func (e *clientBodyError) Unwrap() error { return e.err }

// requestError is an upstream request the gateway refuses to send: its
// request line or a header field is not valid HTTP. A CR, LF or NUL there
// would end the line early and let the rest be read as more fields or
// another request. Nothing of the request was sent.
type requestError struct {
	part string // "method", "path", "query", "host", "header name" or "header value"
	name string // the header, for a header value
	err  error  // net/http's refusal, when it refused first
}

func (e *requestError) Error() string {
	switch {
	case e.err != nil:
		return "upstream request not sent: " + e.err.Error()
	case e.name != "":
		return fmt.Sprintf("upstream request not sent: invalid %s for %q", e.part, e.name)
	}
	return "upstream request not sent: invalid " + e.part
}

func (e *requestError) Unwrap() error { return e.err }

// Classes of the bytes a request head may hold.
const (
	tokenByte   = 1 << iota // a tchar: methods and field names (RFC 9110 5.6.2)
	valueByte               // a field value's: no control byte but HTAB (RFC 9110 5.5)
	visibleByte             // the request target's and the Host's: no control byte, no space
)

// byteClass gives each byte its classes.
var byteClass = func() (c [256]uint8) {
	const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for b := range 256 {
		switch {
		case b == '\t' || b == ' ':
			c[b] = valueByte
		case b < ' ' || b == 0x7f:
			// control bytes: none
		case strings.IndexByte(tchars, byte(b)) >= 0:
			c[b] = tokenByte | valueByte | visibleByte
		default:
			c[b] = valueByte | visibleByte
		}
	}
	return c
}()

// valid reports whether every byte of s is of class.
func valid(s string, class uint8) bool {
	for i := 0; i < len(s); i++ {
		if byteClass[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

// appendHead appends the request line and headers to b. Each string is
// checked as it is copied; on an error, b holds part of a head that must
// be dropped.
func appendHead(b []byte, o *outbound) ([]byte, error) {
	b, err := appendLine(b, o)
	if err != nil {
		return b, err
	}
	for k, vs := range o.in.Header {
		if o.skip(k) {
			continue
		}
		for _, v := range vs {
			if b, err = appendField(b, k, v); err != nil {
				return b, err
			}
		}
	}
	for _, e := range o.extra {
		if b, err = appendField(b, e.k, e.v); err != nil {
			return b, err
		}
	}
	if o.upgrade != "" {
		b = append(b, "Connection: Upgrade\r\n"...)
		if b, err = appendField(b, "Upgrade", o.upgrade); err != nil {
			return b, err
		}
	}
	if cl, ok := o.contentLength(); ok {
		b = append(append(append(b, "Content-Length: "...), cl...), "\r\n"...)
	} else if o.bodyLen < 0 {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// appendLine appends the request line and the Host field.
func appendLine(b []byte, o *outbound) ([]byte, error) {
	if err := o.checkLine(); err != nil {
		return b, err
	}
	b = append(append(append(b, o.method...), ' '), o.path...)
	if o.rawQuery != "" {
		b = append(append(b, '?'), o.rawQuery...)
	}
	b = append(append(b, " HTTP/1.1\r\nHost: "...), o.host...)
	return append(b, "\r\n"...), nil
}

// appendField appends one header field.
func appendField(b []byte, k, v string) ([]byte, error) {
	if err := checkField(k, v); err != nil {
		return b, err
	}
	b = append(append(append(b, k...), ": "...), v...)
	return append(b, "\r\n"...), nil
}

// checkField checks a header field's name and value.
func checkField(k, v string) error {
	switch {
	case k == "" || !valid(k, tokenByte):
		return &requestError{part: "header name"}
	case !valid(v, valueByte):
		return &requestError{part: "header value", name: k}
	}
	return nil
}

// writeField writes one header field as it stands (the 101 response
// relayed to a client, whose fields http.ReadResponse checked).
func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// copyBufs holds the 32 KiB buffers bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeBody streams the client's body to the upstream, framed by length
// or chunked. A client-side read failure poisons the upstream connection
// so that the upstream never takes a truncated body for a whole one.
func (pc *h1Conn) writeBody(o *outbound) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var dst io.Writer = pc.bw
	var cw io.WriteCloser
	if o.bodyLen < 0 {
		cw = httputil.NewChunkedWriter(pc.bw)
		dst = cw
	}
	src := o.body
	if o.bodyLen > 0 {
		src = io.LimitReader(src, o.bodyLen)
	}
	n, rerr, werr := copyFlushing(dst, pc.bw, &idleReader{r: src, o: o}, *bp)
	o.bodyReadDeadline(time.Time{})
	if rerr == nil && o.bodyLen > 0 && n < o.bodyLen {
		rerr = io.ErrUnexpectedEOF
	}
	if rerr != nil {
		pc.close()
		return &clientBodyError{err: rerr}
	}
	if werr != nil {
		return werr
	}
	if cw != nil {
		// Request trailers are dropped, as Envoy drops HTTP/1 trailers:
		// fields there would escape the header checks.
		cw.Close()
		pc.bw.WriteString("\r\n")
	}
	return pc.bw.Flush()
}

// idleReader bounds each read of the client's body by streamIdleTimeout:
// a client that stops sending is cut off instead of holding the upstream.
type idleReader struct {
	r io.Reader
	o *outbound
}

func (r *idleReader) Read(p []byte) (int, error) {
	if !r.o.bodyReadDeadline(time.Now().Add(r.o.idleOr(mesh.StreamIdleTimeout))) {
		return 0, errBodyAborted
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.o.touchUpstream() // an upload in progress is activity
	}
	if err != nil {
		r.o.bodyEnd()
	}
	return n, err
}

// copyFlushing copies src to dst, flushing after every read so that a
// streaming body reaches the upstream as it arrives. It separates read
// errors (the client's) from write errors (the upstream's).
func copyFlushing(dst io.Writer, bw *bufio.Writer, src io.Reader, buf []byte) (n int64, rerr, werr error) {
	for {
		nr, err := src.Read(buf)
		if nr > 0 {
			if _, werr = dst.Write(buf[:nr]); werr == nil {
				werr = bw.Flush()
			}
			if werr != nil {
				return n, nil, werr
			}
			n += int64(nr)
		}
		if err == io.EOF {
			return n, nil, nil
		}
		if err != nil {
			return n, err, nil
		}
	}
}

// upgradedConn is the body of a 101 response: the raw connection, with
// whatever the upstream sent after the response head still buffered.
type upgradedConn struct{ pc *h1Conn }

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.pc.nc.Write(p) }
func (u *upgradedConn) Close() error                { u.pc.close(); return nil }

// CloseWrite half-closes the upstream side of the tunnel.
func (u *upgradedConn) CloseWrite() error {
	if cw, ok := u.pc.nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return fmt.Errorf("connection %T cannot half-close", u.pc.nc)
}

var _ net.Conn = (*net.TCPConn)(nil)
