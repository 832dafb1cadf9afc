package h2guard

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// serveXNet serves h with golang.org/x/net/http2's ServeConn (h2c with
// prior knowledge) behind guards, until the test ends.
func serveXNet(t *testing.T, h http.Handler) *guardListener {
	t.Helper()
	return serveXNetOn(t, listen(t), h)
}

// serveXNetOn serves h with x/net's ServeConn on l until the test ends.
func serveXNetOn(t *testing.T, l *guardListener, h http.Handler) *guardListener {
	t.Helper()
	srv := &http2.Server{MaxConcurrentStreams: 100}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	serveOnce(t, func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { srv.ServeConn(c, &http2.ServeConnOpts{Handler: h}) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l
}

// TestXNetRapidReset runs the rapid reset attack against x/net's server:
// 1000 streams, each reset as soon as it is opened.
func TestXNetRapidReset(t *testing.T) {
	var calls atomic.Int32
	l := serveXNet(t, counted(&calls))
	h := dialH2(t, l.Addr().String())
	checkAttacked(t, h, l, h.rapidResets(1, 1000), 999, &calls)
}

// h2cTransport returns an HTTP/2 client transport that speaks h2c with
// prior knowledge.
func h2cTransport() *http2.Transport {
	return &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// getN sends n sequential GETs to url with c and checks each answer.
func getN(t *testing.T, c *http.Client, url string, n int) {
	t.Helper()
	for i := range n {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("GET %d: %d %q, %v", i, resp.StatusCode, body, err)
		}
	}
}

// TestXNetWellBehaved sends 1000 sequential GETs on one connection: the
// guard watches it and never closes it.
func TestXNetWellBehaved(t *testing.T) {
	var calls atomic.Int32
	l := serveXNet(t, counted(&calls))
	tr := h2cTransport()
	defer tr.CloseIdleConnections()
	getN(t, &http.Client{Transport: tr}, "http://"+l.Addr().String()+"/", 1000)
	if len(l.conns) != 1 {
		t.Fatalf("%d connections for 1000 GETs, want 1", len(l.conns))
	}
	if g := <-l.conns; !g.Active() {
		t.Error("the guard did not see HTTP/2")
	}
	l.noClose(t)
}

// TestXNetSomeResets opens 600 streams on one connection, lets 400 of
// them complete and resets the other 200: a third, so the connection
// stays open and answers a PING.
func TestXNetSomeResets(t *testing.T) {
	var calls atomic.Int32
	l := serveXNet(t, counted(&calls))
	h := dialH2(t, l.Addr().String())
	for i := range 600 {
		id := 2*uint32(i) + 1
		err := h.get(id)
		if i%3 == 2 && err == nil {
			err = h.w.WriteRSTStream(id, http2.ErrCodeCancel)
		}
		if err == nil {
			err = h.bw.Flush()
		}
		if err != nil {
			t.Fatalf("stream %d: %v", id, err)
		}
		if i%3 != 2 {
			h.awaitStream(t, id)
		}
	}
	h.ping(t)
	l.noClose(t)
}

// ping sends a PING and reads until its answer; it fails on a GOAWAY.
func (h *h2Client) ping(t *testing.T) {
	t.Helper()
	data := [8]byte{'g', 'a', 't', 'e'}
	if err := h.w.WritePing(false, data); err != nil {
		t.Fatal(err)
	}
	if err := h.bw.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := h.r.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for the PING's answer: %v", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v waiting for the PING's answer", f.ErrCode)
		case *http2.PingFrame:
			if f.IsAck() && f.Data == data {
				return
			}
		}
	}
}

// When x/net's server closes a connection itself after a protocol error,
// with bytes of the client's still unread, the close must not be a TCP
// reset: the client reads the GOAWAY, then the end of the connection.
// (h2spec http2/5.1 "CONTINUATION frame after RST_STREAM" saw a reset.)
func TestXNetCloseLingers(t *testing.T) {
	t.Parallel()
	l := serveXNet(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// HEADERS without END_HEADERS, then RST_STREAM where a CONTINUATION
	// must come: a connection error. What follows stays unread by x/net.
	open := frame(frameHeaders, 0x1, 1, block)
	if _, err := c.Write(cat([]byte(preface), frame(0x4, 0, 0, nil), open, rst(1), frame(0x9, 0x4, 1, nil), make([]byte, 64<<10))); err != nil {
		t.Fatal(err)
	}
	// x/net closes 1 s after its GOAWAY; read only after that.
	time.Sleep(1500 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("after %d bytes: %v (want the GOAWAY, then a clean end)", len(got), err)
	}
	if !slices.ContainsFunc(parseBack(t, got), func(s sum) bool { return s.Type == http2.FrameGoAway }) {
		t.Fatalf("no GOAWAY in %x", got)
	}
}

// The engine's Close must never wait on a write stuck on a client that
// does not read: with a write in flight it closes at once, and the write
// fails, on plaintext and on TLS alike.
func TestCloseWithWriteInFlight(t *testing.T) {
	t.Parallel()
	for _, withTLS := range []bool{false, true} {
		l := listen(t)
		defer l.Close()
		if withTLS {
			l.tls = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"h2"}}
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			if c, err := l.Accept(); err == nil {
				accepted <- c
			}
		}()
		var c net.Conn
		var err error
		if withTLS {
			c, err = tls.Dial("tcp", l.Addr().String(), clientTLS)
		} else {
			c, err = net.Dial("tcp", l.Addr().String())
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, preface) // the client never reads
		s := <-accepted
		s.Read(make([]byte, len(preface))) // the guard sees the preface: HTTP/2
		wrote := make(chan error, 1)
		go func() {
			_, err := s.Write(make([]byte, 64<<20))
			wrote <- err
		}()
		time.Sleep(100 * time.Millisecond) // the write fills the socket buffers and blocks
		start := time.Now()
		s.Close()
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("tls %v: Close took %v with a write in flight", withTLS, d)
		}
		select {
		case err := <-wrote:
			if err == nil {
				t.Errorf("tls %v: the stuck write succeeded", withTLS)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("tls %v: the stuck write still blocks 2 s after Close", withTLS)
		}
	}
}

// The lingering close of an engine's Close runs on the runner a server
// gave (a WaitGroup's Go), so that the server can wait for it at shutdown;
// it ends once the client closes its side.
func TestLingerRunner(t *testing.T) {
	t.Parallel()
	l := listen(t)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, preface)
	<-accepted
	g := <-l.conns
	g.Read(make([]byte, len(preface))) // the guard sees the preface: HTTP/2
	var lingering sync.WaitGroup
	ran := 0
	g.SetLingerRunner(func(f func()) { ran++; lingering.Go(f) })
	g.Close()
	if ran != 1 {
		t.Fatalf("the runner ran %d lingering closes, want 1", ran)
	}
	if _, err := io.ReadAll(c); err != nil { // the server's side shut down: EOF, not a reset
		t.Fatalf("client read: %v", err)
	}
	c.Close()
	done := make(chan struct{})
	go func() {
		lingering.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("the lingering close did not end when the client closed")
	}
}
