package h1guard

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// guardListener guards every connection it accepts, reporting refusals on
// a channel. spy, if set, wraps the guarded conn; under, if set, wraps the
// accepted conn before the guard does.
type guardListener struct {
	net.Listener
	refusals chan *Refusal
	spy      func(net.Conn) net.Conn
	under    func(net.Conn) net.Conn
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if l.under != nil {
		c = l.under(c)
	}
	var g net.Conn = New(c, Limits{}, func(r *Refusal) { l.refusals <- r })
	if l.spy != nil {
		g = l.spy(g)
	}
	return g, nil
}

// serve runs a net/http server with handler h behind guards and returns
// its address and the refusals channel.
func serve(t *testing.T, h http.HandlerFunc, spy func(net.Conn) net.Conn) (string, chan *Refusal) {
	t.Helper()
	return serveOn(t, h, guardListener{spy: spy})
}

// serveOn is serve with gl's wrappers.
func serveOn(t *testing.T, h http.Handler, gl guardListener) (string, chan *Refusal) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl.Listener, gl.refusals = ln, make(chan *Refusal, 10)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(gl)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String(), gl.refusals
}

// noRefusal fails the test if the guard refused anything.
func noRefusal(t *testing.T, refusals chan *Refusal) {
	t.Helper()
	select {
	case r := <-refusals:
		t.Errorf("the guard refused: %+v", r)
	default:
	}
}

// readCount sits under the guard of one connection and closes reached
// once the guard has read want bytes from the client.
type readCount struct {
	net.Conn
	want    int64
	got     atomic.Int64
	once    sync.Once
	reached chan struct{}
}

// newReadCount returns a readCount waiting for want bytes.
func newReadCount(want int) *readCount {
	return &readCount{want: int64(want), reached: make(chan struct{})}
}

// wrap is a guardListener.under for the single connection of a test.
func (c *readCount) wrap(nc net.Conn) net.Conn {
	c.Conn = nc
	return c
}

func (c *readCount) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.got.Add(int64(n)) >= c.want {
		c.once.Do(func() { close(c.reached) })
	}
	return n, err
}

// await waits until the guard has read everything the client sent before
// the response: then whatever came after the request is held by the guard.
// The request's context must still be live.
func (c *readCount) await(t *testing.T, r *http.Request) {
	select {
	case <-c.reached:
	case <-time.After(5 * time.Second):
		t.Errorf("the guard read %d client bytes, want %d", c.got.Load(), c.want)
	}
	if err := r.Context().Err(); err != nil {
		t.Errorf("the request's context ended while its response was pending: %v", err)
	}
}

// dial connects to addr with a deadline for the whole exchange.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// TestServerRefusesCLTE sends security.md HTTP-01's CL+TE request on a
// keep-alive connection, then a GET: one 400, a close, no handler call.
func TestServerRefusesCLTE(t *testing.T) {
	var calls atomic.Int32
	addr, refusals := serve(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }, nil)
	c := dial(t, addr)
	c.Write([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" + get))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until close: %v", err)
	}
	if string(got) != string(responses[400]) {
		t.Errorf("the client got %q, want exactly the guard's 400", got)
	}
	if r := <-refusals; r.Reason != "content_length_and_transfer_encoding" {
		t.Errorf("refusal reason %q", r.Reason)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the handler ran %d times", n)
	}
}

// TestServerChunkedPost sends a valid chunked POST a byte at a time: the
// handler gets its body whole.
func TestServerChunkedPost(t *testing.T) {
	addr, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	}, nil)
	c := dial(t, addr)
	req := chunked + "5\r\nhello\r\n6;x=\"y\"\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
	for i := range len(req) {
		if _, err := c.Write([]byte{req[i]}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello world" {
		t.Errorf("response %d %q, want 200 \"hello world\"", resp.StatusCode, body)
	}
}

// bgSpy reports on a channel the first 1-byte Read: net/http's background
// read.
type bgSpy struct {
	net.Conn
	once atomic.Bool
	bg   chan struct{}
}

func (s *bgSpy) Read(p []byte) (int, error) {
	if len(p) == 1 && s.once.CompareAndSwap(false, true) {
		close(s.bg)
	}
	return s.Conn.Read(p)
}

// TestServerPipelinedBad sends a good and a bad request together. The
// handler answers only once net/http's background read has met the
// refused head: the 200 must still come first, then the 400, then close.
func TestServerPipelinedBad(t *testing.T) {
	bg := make(chan struct{})
	spy := func(c net.Conn) net.Conn { return &bgSpy{Conn: c, bg: bg} }
	addr, refusals := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-bg:
		case <-time.After(5 * time.Second):
			t.Error("no background read while the handler ran")
		}
		w.Write([]byte("ok"))
	}, spy)
	c := dial(t, addr)
	c.Write([]byte(get + "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n"))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("first response %d %q, want 200 ok", resp.StatusCode, body)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading until close: %v", err)
	}
	if string(rest) != string(responses[400]) {
		t.Errorf("after the 200 the client got %q, want exactly the guard's 400", rest)
	}
	if r := <-refusals; r.Reason != "obs_fold" {
		t.Errorf("refusal reason %q, want obs_fold", r.Reason)
	}
}

// TestServerBadBody sends chunked bodies net/http alone would accept, after
// the handler has started on the head: the handler's body read fails, the
// guard writes nothing, the handler answers. (Sent with the head, the
// request is refused whole: TestServerBadBodyWithHead.)
func TestServerBadBody(t *testing.T) {
	tests := []struct {
		name, body, reason string
		sentinel           bool // the handler sees ErrBadRequestBody itself
	}{
		// net/http wraps the trailer read error in its own.
		{"trailer Content-Length", "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", "trailer_framing_field", false},
		{"unterminated quoted extension", "5;a=\"b\r\nhello\r\n0\r\n\r\n", "invalid_chunk", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs, entered := make(chan error, 1), make(chan struct{})
			addr, refusals := serve(t, func(w http.ResponseWriter, r *http.Request) {
				close(entered)
				_, err := io.ReadAll(r.Body)
				errs <- err
				http.Error(w, "bad body", http.StatusBadRequest)
			}, nil)
			c := dial(t, addr)
			c.Write([]byte(chunked))
			<-entered
			c.Write([]byte(tc.body))
			if err := <-errs; err == nil || tc.sentinel && err != ErrBadRequestBody {
				t.Errorf("the handler's body error = %v, want ErrBadRequestBody or net/http's wrapping", err)
			}
			if r := <-refusals; !r.InBody || r.Reason != tc.reason {
				t.Errorf("refusal %+v, want %s in the body", r, tc.reason)
			}
			got, _ := io.ReadAll(c)
			if !strings.HasPrefix(string(got), "HTTP/1.1 400 Bad Request\r\n") || strings.Contains(string(got), "connection: close") {
				t.Errorf("the client got %q, want only the handler's 400", got)
			}
		})
	}
}

// TestServerBadBodyWithHead sends the bodies of TestServerBadBody with
// their head: the guard refuses the request whole with its 400 and a
// close, and the handler never runs.
func TestServerBadBodyWithHead(t *testing.T) {
	for _, body := range []string{"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", "5;a=\"b\r\nhello\r\n0\r\n\r\n", "5\nhello\r\n0\r\n\r\n"} {
		var called atomic.Bool
		addr, refusals := serve(t, func(w http.ResponseWriter, r *http.Request) { called.Store(true) }, nil)
		c := dial(t, addr)
		c.Write([]byte(chunked + body))
		got, _ := io.ReadAll(c)
		if string(got) != string(responses[400]) {
			t.Errorf("%q: the client got %q, want the guard's 400", body, got)
		}
		if r := <-refusals; !r.InBody || !r.HeadHeld {
			t.Errorf("%q: refusal %+v, want in the body with the head held", body, r)
		}
		if called.Load() {
			t.Errorf("%q: the handler ran", body)
		}
	}
}
