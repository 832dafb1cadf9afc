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
	"github.com/gatehouse-proxy/gatehouse/gateway/internal/upstream"
)

// Errors of the HTTP/1.1 client's connections.
var (
	errStaleConn      = errors.New("pooled upstream connection was closed by the upstream")
	errHeaderTooLarge = errors.New("upstream response headers exceed the limit")
)

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
		return &upstream.RequestError{Part: "header name"}
	case !valid(v, valueByte):
		return &upstream.RequestError{Part: "header value", Name: k}
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
		return &upstream.ClientBodyError{Err: rerr}
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
