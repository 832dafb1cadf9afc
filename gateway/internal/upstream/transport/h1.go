package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// h1Conn is one pooled HTTP/1.1 connection to an upstream. An exchange
// runs on the caller's goroutine (a second one only writes a request
// body), which is what makes this engine cheaper than http.Transport: no
// per-connection read and write loops, no channel hand-offs.
type h1Conn struct {
	pool   *Pool
	nc     net.Conn
	lim    countingReader
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	born   time.Time // for connectionPool.tcp.maxConnectionDuration
	reused bool
	uses   int
	closed atomic.Bool
	// interrupted is set once the request's context ended the exchange:
	// deadlines stay in the past from then on.
	interrupted atomic.Bool
}

func newH1Conn(p *Pool, nc net.Conn) *h1Conn {
	pc := &h1Conn{pool: p, nc: nc, born: time.Now()}
	pc.lim = countingReader{r: nc, n: math.MaxInt64}
	pc.br = bufio.NewReaderSize(&pc.lim, 8<<10)
	pc.bw = bufio.NewWriterSize(nc, 8<<10)
	return pc
}

// countingReader limits and counts what the response parser reads and,
// while a response head is read, keeps a copy of it in tee.
type countingReader struct {
	r    io.Reader
	n    int64   // bytes still allowed
	read int64   // bytes read since the counter was reset
	tee  *[]byte // when set, receives every byte read
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	c.read += int64(n)
	if c.tee != nil {
		*c.tee = append(*c.tee, p[:n]...)
	}
	return n, err
}

var aLongTimeAgo = time.Unix(1, 0)

// interrupt makes every pending and future I/O on the connection fail; it
// is how a cancelled context stops an exchange.
func (pc *h1Conn) interrupt() {
	pc.interrupted.Store(true)
	pc.nc.SetDeadline(aLongTimeAgo)
}

// extendRead moves the read deadline to t, unless the exchange was
// interrupted: an upload or download still in progress when the request
// ended must not revive the connection it was cut from (the response
// head would then be awaited until the stream idle timeout).
func (pc *h1Conn) extendRead(t time.Time) {
	pc.nc.SetReadDeadline(t)
	if pc.interrupted.Load() { // interrupt may have run before the line above
		pc.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// close closes the connection once, freeing its slot in the cluster's
// connection limit.
func (pc *h1Conn) close() {
	if pc.closed.Swap(true) {
		return
	}
	pc.nc.Close()
	pc.pool.open.Add(-1)
	if pc.pool.limiter != nil {
		pc.pool.limiter.release()
	}
}

// alive checks a connection that sat idle for a while: the upstream must
// not have closed it or sent anything unasked.
func (pc *h1Conn) alive() bool {
	if time.Since(pc.idleAt) < probeIdleAfter {
		return true
	}
	return pc.br.Buffered() == 0 && !peerClosed(pc.nc)
}

// roundTrip sends o and reads the response head. A connection taken from
// the pool that turns out to have been closed by the upstream before it
// answered anything is replaced once by a new connection, when the request
// can be replayed.
func (p *Pool) roundTrip(ctx context.Context, o *Request) (*http.Response, error) {
	for try := 0; ; try++ {
		pc, err := p.get(ctx, o.ConnectTimeout, try > 0)
		if err != nil {
			return nil, err
		}
		resp, err := pc.exchange(ctx, o)
		if err == nil {
			return resp, nil
		}
		if try == 0 && errors.Is(err, errStaleConn) && o.Idempotent() && o.Client.Replayable() && ctx.Err() == nil {
			o.Client.Rewind()
			continue
		}
		if errors.Is(err, errStaleConn) {
			err = &ResetError{Err: err} // the route's retry policy decides
		}
		return nil, err
	}
}

// exchange writes the request and reads the response head. The returned
// body hands the connection back to the pool when read to the end.
func (pc *h1Conn) exchange(ctx context.Context, o *Request) (*http.Response, error) {
	// The head is built in the writer's free space: a request refused
	// there leaves nothing written, and the connection can serve another.
	head, err := o.AppendHead(pc.bw.AvailableBuffer())
	if err != nil {
		pc.pool.put(pc)
		return nil, err
	}
	stop := context.AfterFunc(ctx, pc.interrupt)
	pc.bw.Write(head)
	// The head goes out at once, so the upstream can answer (or refuse)
	// before the body arrives.
	if err := pc.bw.Flush(); err != nil {
		stop()
		pc.close()
		return nil, pc.failure(ctx, err, true)
	}
	// The stream idle timeout, as a read deadline moved on by every
	// upload chunk and every response read.
	o.upConn = pc
	o.touchUpstream()
	var bodyDone chan error
	if o.HasBody() {
		bodyDone = make(chan error, 1)
		o.Client.SendingBody()
		go func() { bodyDone <- pc.writeBody(o) }()
	}
	resp, err := pc.readHead(o)
	if err != nil {
		stop()
		pc.close()
		if bodyDone != nil {
			o.Client.AbortBody() // never wait on a stalled client
			// The client's fault wins, unless the client went away. A
			// stalled client is not gone, nor is one whose body the
			// validator refused, though net/http cancels the request on
			// the read error either causes (and the cancellation may cut
			// the upload before the body read reports the error).
			berr := <-bodyDone
			if refused := o.Client.BodyRefused(); refused != nil {
				return nil, &ClientBodyError{Err: refused}
			}
			if errors.As(berr, new(*ClientBodyError)) && (ctx.Err() == nil || errors.Is(berr, os.ErrDeadlineExceeded)) {
				return nil, berr
			}
		}
		return nil, pc.failure(ctx, err, pc.lim.read == 0)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The connection becomes the tunnel: the route timeout no longer
		// applies to it.
		if !stop() {
			pc.close()
			return nil, context.Cause(ctx)
		}
		o.upConn = nil
		pc.nc.SetReadDeadline(time.Time{}) // the tunnel has its own idle limit
		resp.Body = &upgradedConn{pc: pc}
		return resp, nil
	}
	b := &respBody{pc: pc, o: o, rc: resp.Body, stop: stop, bodyDone: bodyDone, keep: !resp.Close}
	if resp.Body == http.NoBody {
		b.finish(true)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// responseTo is the request http.ReadResponse reads a response to: only
// its method matters (no body after HEAD), and nil stands for any method
// but HEAD.
func responseTo(method string) *http.Request {
	if method == http.MethodHead {
		return &http.Request{Method: method}
	}
	return nil
}

// readHead reads the response head, skipping interim 1xx responses other
// than 101, with the head size capped. The final head's framing fields are
// checked as received (checkFraming).
//
// http.ReadResponse drops what the check needs (a Content-Length beside
// Transfer-Encoding, Transfer-Encoding on HTTP/1.0), so the bytes it reads
// are copied aside while the head is read. What it consumed of them is
// exactly the heads read so far: the rest, the start of the body, is still
// buffered in br.
func (pc *h1Conn) readHead(o *Request) (*http.Response, error) {
	raw := headBufs.Get().(*[]byte)
	buffered, _ := pc.br.Peek(pc.br.Buffered()) // none on a clean connection
	*raw = append((*raw)[:0], buffered...)
	pc.lim.n, pc.lim.read, pc.lim.tee = maxResponseHeaderBytes, 0, raw
	defer func() {
		pc.lim.n, pc.lim.tee = math.MaxInt64, nil
		if cap(*raw) <= maxPooledHeadBuf {
			headBufs.Put(raw)
		}
	}()
	for interim := 0; ; interim++ {
		resp, err := http.ReadResponse(pc.br, responseTo(o.Method))
		if err != nil {
			return nil, err
		}
		end := len(*raw) - pc.br.Buffered() // (*raw)[:end] is resp's head
		switch {
		case resp.StatusCode < 100 || interim >= 5:
			return nil, &ProtocolError{Err: fmt.Errorf("upstream sent status %d (after %d interim responses)", resp.StatusCode, interim)}
		case resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols:
			if err := checkFraming((*raw)[:end], resp); err != nil {
				return nil, &ProtocolError{Err: err}
			}
			return resp, nil
		}
		*raw = (*raw)[:copy(*raw, (*raw)[end:])]
		pc.lim.n = maxResponseHeaderBytes
	}
}

// failure classifies an exchange error. untouched means the connection was
// reused and not one response byte arrived: the upstream had closed it.
func (pc *h1Conn) failure(ctx context.Context, err error, untouched bool) error {
	switch {
	case ctx.Err() != nil:
		return context.Cause(ctx)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ErrStreamIdle // the read deadline of the stream idle timeout
	case untouched && pc.reused:
		return errStaleConn
	case errors.Is(err, errHeaderTooLarge):
		return &ProtocolError{Err: err}
	case errors.As(err, new(*ProtocolError)):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isNetError(err):
		return &ResetError{Err: err}
	}
	return &ProtocolError{Err: err}
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// respBody returns the connection to the pool once the response has been
// read to its end, the request body was fully sent, and the context did
// not interrupt the connection.
type respBody struct {
	pc       *h1Conn
	o        *Request
	rc       io.ReadCloser
	stop     func() bool
	bodyDone chan error
	keep     bool
	done     bool
}

func (b *respBody) Read(p []byte) (int, error) {
	b.o.touchUpstream()
	n, err := b.rc.Read(p)
	if err != nil && !b.done {
		b.finish(err == io.EOF)
	}
	return n, err
}

// Close ends the exchange; an unread body means the connection is closed.
func (b *respBody) Close() error {
	b.finish(false)
	return nil
}

func (b *respBody) finish(eof bool) {
	if b.done {
		return
	}
	b.done = true
	// Bytes beyond the response's framing (a body on a HEAD, an overlong
	// body) would answer the next request: such a connection is closed.
	reuse := eof && b.keep && b.pc.br.Buffered() == 0 && b.stop()
	if b.bodyDone != nil {
		select {
		case err := <-b.bodyDone:
			reuse = reuse && err == nil
		default:
			// The upstream answered before reading the whole request body:
			// stop reading the client's and close.
			reuse = false
			b.pc.close()
			b.o.Client.AbortBody()
			<-b.bodyDone
		}
	}
	if reuse {
		b.pc.uses++
		b.pc.nc.SetReadDeadline(time.Time{})
		b.pc.pool.put(b.pc)
	} else {
		b.pc.close()
	}
}
