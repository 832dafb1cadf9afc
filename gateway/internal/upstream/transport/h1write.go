package transport

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

// Errors of the HTTP/1.1 client's connections.
var (
	errStaleConn      = errors.New("pooled upstream connection was closed by the upstream")
	errHeaderTooLarge = errors.New("upstream response headers exceed the limit")
)

// copyBufs holds the 32 KiB buffers bodies are copied through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeBody streams the client's body to the upstream, framed by length
// or chunked. A client-side read failure poisons the upstream connection
// so that the upstream never takes a truncated body for a whole one.
func (pc *h1Conn) writeBody(o *Request) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var dst io.Writer = pc.bw
	var cw io.WriteCloser
	if o.BodyLen < 0 {
		cw = httputil.NewChunkedWriter(pc.bw)
		dst = cw
	}
	src := o.Body
	if o.BodyLen > 0 {
		src = io.LimitReader(src, o.BodyLen)
	}
	n, rerr, werr := copyFlushing(dst, pc.bw, &idleReader{r: src, o: o}, *bp)
	o.Client.BodyReadDeadline(time.Time{})
	if rerr == nil && o.BodyLen > 0 && n < o.BodyLen {
		rerr = io.ErrUnexpectedEOF
	}
	if rerr != nil {
		pc.close()
		return &ClientBodyError{Err: rerr}
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
	o *Request
}

func (r *idleReader) Read(p []byte) (int, error) {
	if !r.o.Client.BodyReadDeadline(time.Now().Add(r.o.IdleOr(defaultStreamIdle))) {
		return 0, errBodyAborted
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.o.touchUpstream() // an upload in progress is activity
	}
	if err != nil {
		r.o.Client.BodyEnd()
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
