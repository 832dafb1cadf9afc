package h2guard

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// guardListener guards every connection it accepts and reports the
// guards on conns and what onClose was told on closes. With tls set, it
// does the TLS handshake first and guards the TLS connection.
type guardListener struct {
	net.Listener
	tls    *tls.Config
	conns  chan *Conn
	closes chan string
}

func listen(t *testing.T) *guardListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &guardListener{Listener: ln, conns: make(chan *Conn, 10), closes: make(chan string, 10)}
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.tls != nil {
		tc := tls.Server(c, l.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	g := New(c, Limits{}, func(r string) { l.closes <- r })
	l.conns <- g
	return g.ForServer(), nil
}

// noClose fails the test if a guard of l closed a connection.
func (l *guardListener) noClose(t *testing.T) {
	t.Helper()
	select {
	case r := <-l.closes:
		t.Errorf("the guard closed a connection: %s", r)
	default:
	}
}

// counted returns a handler answering "ok" that counts its calls.
func counted(calls *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.WriteString(w, "ok")
	}
}

// h2Client is a raw HTTP/2 client over a connection: Framers to write and
// to read, and an HPACK encoder.
type h2Client struct {
	c    net.Conn
	bw   *bufio.Writer
	w    *http2.Framer
	r    *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
	tls  bool // :scheme https
}

// dialH2 connects to addr and sends the preface and SETTINGS.
func dialH2(t *testing.T, addr string) *h2Client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return startH2(t, c, bufio.NewReader(c))
}

// startH2 sends the preface and SETTINGS on c, whose bytes br reads.
func startH2(t *testing.T, c net.Conn, br *bufio.Reader) *h2Client {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, isTLS := c.(*tls.Conn)
	h := &h2Client{c: c, bw: bufio.NewWriter(c), tls: isTLS}
	h.w, h.r = http2.NewFramer(h.bw, nil), http2.NewFramer(nil, br)
	h.enc = hpack.NewEncoder(&h.hbuf)
	h.bw.WriteString(http2.ClientPreface)
	h.w.WriteSettings()
	if err := h.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return h
}

// get sends a GET on stream id, HPACK-encoded.
func (h *h2Client) get(id uint32) error {
	h.hbuf.Reset()
	scheme := "http"
	if h.tls {
		scheme = "https"
	}
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", scheme}, {":path", "/"}, {":authority", "a"}} {
		h.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return h.w.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hbuf.Bytes(), EndStream: true, EndHeaders: true})
}

// rapidResets sends n streams from stream first on, each reset at once,
// on another goroutine. The channel reports the first write error.
func (h *h2Client) rapidResets(first uint32, n int) chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < n && err == nil; i++ {
			id := first + 2*uint32(i)
			if err = h.get(id); err == nil {
				err = h.w.WriteRSTStream(id, http2.ErrCodeCancel)
			}
		}
		if err == nil {
			err = h.bw.Flush()
		}
		done <- err
	}()
	return done
}

// awaitGoAway reads frames until a GOAWAY and returns it.
func (h *h2Client) awaitGoAway(t *testing.T) *http2.GoAwayFrame {
	t.Helper()
	for {
		f, err := h.r.ReadFrame()
		if err != nil {
			t.Fatalf("the connection ended without a GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return ga
		}
	}
}

// awaitStream reads frames until stream id ends, and fails on a GOAWAY.
func (h *h2Client) awaitStream(t *testing.T, id uint32) {
	t.Helper()
	for {
		f, err := h.r.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for stream %d: %v", id, err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v waiting for stream %d", ga.ErrCode, id)
		}
		if f.Header().StreamID == id && f.Header().Flags.Has(http2.FlagDataEndStream) {
			return
		}
	}
}

// checkAttacked checks the end of a rapid reset attack whose 1000th frame
// pair was written by the writer reporting on wrote: a GOAWAY with
// ENHANCE_YOUR_CALM naming stream last, the connection closed right
// after, onClose told premature_resets, the handler run for fewer than
// 500 streams.
func checkAttacked(t *testing.T, h *h2Client, l *guardListener, wrote chan error, last uint32, calls *atomic.Int32) {
	t.Helper()
	ga := h.awaitGoAway(t)
	if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || ga.LastStreamID != last {
		t.Errorf("GOAWAY %v, last stream %d; want ENHANCE_YOUR_CALM, %d", ga.ErrCode, ga.LastStreamID, last)
	}
	h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f, err := h.r.ReadFrame(); err == nil || isTimeout(err) {
		t.Errorf("after the GOAWAY: frame %v, error %v; want the connection closed", f, err)
	}
	h.c.Close()
	<-wrote
	if r := <-l.closes; r != ReasonPrematureResets {
		t.Errorf("onClose(%q)", r)
	}
	if n := calls.Load(); n >= DefaultMinStreams {
		t.Errorf("the handler ran %d times, want fewer than %d", n, DefaultMinStreams)
	} else {
		t.Logf("the handler ran %d times for 1000 streams", n)
	}
}

// isTimeout reports whether err is a deadline's.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serveOnce runs f on a new goroutine and waits for it at cleanup.
func serveOnce(t *testing.T, f func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f()
	}()
	t.Cleanup(wg.Wait)
}
