package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"sync"
	"time"
)

// Errors of an upstream exchange; the proxy turns each into Envoy's local
// reply for it.
var (
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

// writeHead writes the request line and headers into bw without flushing.
func writeHead(bw *bufio.Writer, o *outbound) {
	bw.WriteString(o.method)
	bw.WriteByte(' ')
	bw.WriteString(o.path)
	if o.rawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(o.rawQuery)
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(o.host)
	bw.WriteString("\r\n")
	for k, vs := range o.in.Header {
		if o.skip(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	for _, e := range o.extra {
		writeField(bw, e.k, e.v)
	}
	if o.upgrade != "" {
		writeField(bw, "Connection", "Upgrade")
		writeField(bw, "Upgrade", o.upgrade)
	}
	if cl, ok := o.contentLength(); ok {
		writeField(bw, "Content-Length", cl)
	} else if o.bodyLen < 0 {
		writeField(bw, "Transfer-Encoding", "chunked")
	}
	bw.WriteString("\r\n")
}

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
	if !r.o.bodyReadDeadline(time.Now().Add(streamIdleTimeout)) {
		return 0, errBodyAborted
	}
	n, err := r.r.Read(p)
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
