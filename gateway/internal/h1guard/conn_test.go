package h1guard

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// readOnce reads once from g with an n-byte buffer.
func readOnce(t *testing.T, g *Conn, n int) (string, error) {
	t.Helper()
	buf := make([]byte, n)
	m, err := g.Read(buf)
	return string(buf[:m]), err
}

// TestBackgroundRead plays net/http's order: the engine reads a request,
// reads one byte in the background while its handler runs, aborts that read
// with a deadline, writes the response, then reads the next request. The
// refusal of a pipelined bad request must come after the response.
func TestBackgroundRead(t *testing.T) {
	f := &fakeConn{more: true, data: []byte(get + "GET / HTTP/1.1\r\nX A: b\r\n\r\nmore")}
	var res result
	g := guarded(f, Limits{}, &res)
	if got, err := readOnce(t, g, 4096); got != get || err != nil {
		t.Fatalf("first Read = %q, %v; want the GET", got, err)
	}
	if len(res.refusals) != 1 {
		t.Fatalf("refusals after the first Read = %d, want 1 (reported when found)", len(res.refusals))
	}
	if got, err := readOnce(t, g, 1); got != "" || !errors.Is(err, errWait) {
		t.Fatalf("background Read = %q, %v; want the socket's own error", got, err)
	}
	if f.out.Len() != 0 {
		t.Fatalf("the background Read wrote %q", f.out.String())
	}
	const ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
	g.Write([]byte(ok))
	f.more = false
	for range 2 {
		if got, err := readOnce(t, g, 4096); got != "" || err != io.EOF {
			t.Fatalf("Read after the refusal = %q, %v; want io.EOF", got, err)
		}
	}
	if want := ok + string(responses[400]); f.out.String() != want {
		t.Errorf("the client got %q, want %q", f.out.String(), want)
	}
}

// TestHeldHeadSurvivesTimeout checks that an unfinished head read by a
// background read survives the deadline that aborts it, and that an idle
// connection holds no buffer.
func TestHeldHeadSurvivesTimeout(t *testing.T) {
	f := &fakeConn{more: true}
	g := New(f, Limits{}, nil)
	f.push(get + "GET /next HT")
	if got, _ := readOnce(t, g, 4096); got != get {
		t.Fatalf("first Read = %q, want the GET", got)
	}
	if g.buf == nil {
		t.Fatal("the unfinished head is not held")
	}
	if got, err := readOnce(t, g, 1); got != "" || !errors.Is(err, errWait) {
		t.Fatalf("background Read = %q, %v; want the timeout", got, err)
	}
	f.push("TP/1.1\r\nHost: a\r\n\r\n")
	if got, err := readOnce(t, g, 1); got != "G" || err != nil {
		t.Fatalf("background Read = %q, %v; want G", got, err)
	}
	if got, err := readOnce(t, g, 4096); got != "ET /next HTTP/1.1\r\nHost: a\r\n\r\n" || err != nil {
		t.Fatalf("Read = %q, %v; want the rest of the head", got, err)
	}
	if g.buf != nil {
		t.Error("an idle connection holds a buffer")
	}
}

// TestPendingBackgroundRead plays net/http's order around an upgrade
// request with client bytes right behind it: the engine reads the request,
// reads one byte in the background while its handler runs, and that read
// must return neither a held byte (net/http would keep it as the next
// request's) nor an error of the guard's (it would cancel the request's
// context), only the socket's own once net/http's deadline aborts it (here
// errWait). Then the engine writes its response and reads again: the
// response decides what becomes of the held bytes.
func TestPendingBackgroundRead(t *testing.T) {
	over := strings.Repeat("\x00", 101)
	tests := []struct {
		name     string
		lim      Limits
		early    string // the client's bytes after the upgrade request
		response string
		size     int    // of the read after the response
		read     string // what it returns
		err      error
		written  string // what the guard writes after the response
		reason   string // of the refusal, "" for none
	}{
		{name: "101 delivers the held bytes", early: frames, response: ws101, size: 4096, read: frames},
		{name: "403 delivers a held request", early: get, response: resp403, size: 4096, read: get},
		{name: "403 then a background read of the held request", early: get, response: resp403, size: 1, read: "G"},
		{name: "403 refuses held bytes that are not HTTP", early: frames, response: resp403, size: 4096, err: io.EOF, written: string(responses[400]), reason: "request_line_invalid"},
		{name: "over the limit then 101 writes nothing", lim: Limits{MaxHeaderBytes: 100}, early: over, response: ws101, size: 4096, err: io.EOF, reason: reasonEarly},
		{name: "over the limit then 403 refuses", lim: Limits{MaxHeaderBytes: 100}, early: over, response: resp403, size: 4096, err: io.EOF, written: string(responses[400]), reason: reasonEarly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeConn{more: true, step: 7, data: []byte(wsReq)}
			var res result
			g := guarded(f, tc.lim, &res)
			if got, err := readOnce(t, g, 4096); got != wsReq || err != nil {
				t.Fatalf("first Read = %q, %v; want the upgrade request", got, err)
			}
			f.push(tc.early)
			for range 2 {
				if got, err := readOnce(t, g, 1); got != "" || !errors.Is(err, errWait) {
					t.Fatalf("background Read = %q, %v; want nothing and the timeout", got, err)
				}
			}
			if len(f.data) != 0 || f.out.Len() != 0 {
				t.Fatalf("the background reads left %d client bytes unread and wrote %q; want all read and nothing written", len(f.data), f.out.String())
			}
			if _, err := g.Write([]byte(tc.response)); err != nil {
				t.Fatal(err)
			}
			if got, err := readOnce(t, g, tc.size); got != tc.read || err != tc.err {
				t.Errorf("Read after the response = %q, %v; want %q, %v", got, err, tc.read, tc.err)
			}
			if want := tc.response + tc.written; f.out.String() != want {
				t.Errorf("the client got %q, want %q", f.out.String(), want)
			}
			if got := reasonOf(res.refusal(t)); got != tc.reason {
				t.Errorf("refusal reason %q, want %q", got, tc.reason)
			}
		})
	}
}

// A body violation after its head was delivered (here: the body comes in
// a later read) fails every Read from then on, and nothing is written.
func TestBadBodyIsSticky(t *testing.T) {
	f := &piecesConn{pieces: [][]byte{[]byte(chunked), []byte("5\nhello")}}
	g := New(f, Limits{}, nil)
	if got, err := readOnce(t, g, 4096); got != chunked || err != nil {
		t.Fatalf("first Read = %q, %v; want the head", got, err)
	}
	if got, err := readOnce(t, g, 4096); got != "5" || err != nil {
		t.Fatalf("second Read = %q, %v; want the body up to the violation", got, err)
	}
	for range 3 {
		if _, err := readOnce(t, g, 4096); err != ErrBadRequestBody {
			t.Fatalf("Read error = %v, want ErrBadRequestBody", err)
		}
	}
	if f.out.Len() != 0 {
		t.Errorf("wrote %q for a bad body, want nothing", f.out.String())
	}
}

func TestPassThroughCopy(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	in := preface + strings.Repeat("\x00\x00\x00\x04\x01\r\n\n", 10000)
	g := New(&fakeConn{data: []byte(in), step: 1000}, Limits{AllowH2C: true}, nil)
	var out bytes.Buffer
	if n, err := io.Copy(&out, g); err != nil || n != int64(len(in)) {
		t.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, len(in))
	}
	if out.String() != in {
		t.Error("io.Copy changed the bytes")
	}
}

func TestCloseWriteAndNetConn(t *testing.T) {
	f := &fakeConn{}
	g := New(f, Limits{}, nil)
	if g.NetConn() != f {
		t.Error("NetConn is not the wrapped conn")
	}
	if err := g.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseWrite on a conn without it = %v, want ErrUnsupported", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := New(c, Limits{}, nil).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("peer Read after CloseWrite = %d, %v; want io.EOF", n, err)
	}
}

// TestHeadsDeliveredWhole feeds heads a byte at a time: no byte of a head
// may reach the engine before the head's last byte was read from the
// client, whatever the engine's read size.
func TestHeadsDeliveredWhole(t *testing.T) {
	heads := []string{get, withField("X-A: b\r\n"), "GET /x HTTP/1.0\r\n\r\n", get}
	stream, ends := "", []int{}
	for _, h := range heads {
		stream += h
		ends = append(ends, len(stream))
	}
	for _, size := range []int{4096, 7, 1} {
		f := &fakeConn{data: []byte(stream), step: 1}
		g := New(f, Limits{}, nil)
		buf := make([]byte, size)
		delivered := 0
		for {
			n, err := g.Read(buf)
			delivered += n
			read := len(stream) - len(f.data)
			for _, end := range ends {
				if end >= delivered && n > 0 && end > read {
					t.Fatalf("reads of %d: %d bytes delivered when only %d of the head ending at %d were read", size, delivered, read, end)
				}
				if end >= delivered {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if delivered != len(stream) {
			t.Errorf("reads of %d: delivered %d bytes, want %d", size, delivered, len(stream))
		}
	}
}

// TestWholeHeadIsNotCopied checks the common case: a head arriving whole
// is read straight into the engine's buffer, with no buffer of the guard's.
func TestWholeHeadIsNotCopied(t *testing.T) {
	f := &fakeConn{data: []byte(get), more: true}
	g := New(f, Limits{}, nil)
	buf := make([]byte, 4096)
	if n, err := g.Read(buf); string(buf[:n]) != get || err != nil {
		t.Fatalf("Read = %q, %v; want the GET", buf[:n], err)
	}
	if g.buf != nil || f.reads != 1 {
		t.Errorf("the guard took a buffer (%v) or read %d times, want none and once", g.buf != nil, f.reads)
	}
}

// A body violation in the read that brought its head refuses the request
// whole: the head is never delivered, the guard writes the 400, every Read
// returns io.EOF. So does a bad first chunk-size line begun in that read
// and ended in a later one: the head waits for the line.
func TestBadBodyWithItsHeadRefusedWhole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
		reason string
	}{
		{"bare LF in the chunk-size line", []string{get + chunked + "5\nhello\r\n0\r\n\r\n"}, "bare_lf"},
		{"Content-Length in the trailers", []string{chunked + "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"}, "trailer_framing_field"},
		{"the size line split", []string{chunked + "5;a=", "\"b\r\nhello\r\n0\r\n\r\n"}, "invalid_chunk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pieces [][]byte
			for _, p := range tc.pieces {
				pieces = append(pieces, []byte(p))
			}
			f := &piecesConn{pieces: pieces}
			var refusals []*Refusal
			g := New(f, Limits{}, func(r *Refusal) { refusals = append(refusals, r) })
			var got []byte
			buf := make([]byte, 4096)
			for {
				n, err := g.Read(buf)
				got = append(got, buf[:n]...)
				if err != nil {
					if err != io.EOF {
						t.Fatalf("Read error %v, want io.EOF", err)
					}
					break
				}
			}
			if want := strings.TrimSuffix(tc.pieces[0], tc.pieces[0][strings.Index(tc.pieces[0], chunked):]); string(got) != want {
				t.Errorf("delivered %q, want %q (only what came before the request)", got, want)
			}
			if f.out.String() != string(responses[400]) {
				t.Errorf("wrote %q, want the 400", f.out.String())
			}
			if len(refusals) != 1 || !refusals[0].InBody || !refusals[0].HeadHeld || refusals[0].Reason != tc.reason {
				t.Errorf("refusals %+v, want one %s in the body with the head held", refusals, tc.reason)
			}
		})
	}
}

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	piecesConn
	deadlines []time.Time
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.deadlines = append(d.deadlines, t)
	return nil
}

// Limits.HeadTimeout: the head of a request after the first is timed from
// its first byte, once: the first request's head is the engine's to time,
// and so is a head delivered whole. Once delivered, the engine's deadline
// is back.
func TestHeadTimeout(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
		timed  int
	}{
		{"a second head in pieces", []string{get, "GET / HT", "TP/1.1\r\n", "Host: a\r\n\r\n"}, 1},
		{"a first head in pieces", []string{"GET / HT", "TP/1.1\r\nHost: a\r\n\r\n"}, 0},
		{"a second head whole", []string{get, get}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &deadlineConn{}
			for _, p := range tc.pieces {
				c.pieces = append(c.pieces, []byte(p))
			}
			g := New(c, Limits{HeadTimeout: time.Minute}, nil)
			start := time.Now()
			var res result
			drain(t, g, 4096, &res)
			if res.delivered != strings.Join(tc.pieces, "") {
				t.Errorf("delivered %q", res.delivered)
			}
			var set []time.Time
			for _, d := range c.deadlines {
				if !d.IsZero() {
					set = append(set, d)
				}
			}
			if len(set) != tc.timed {
				t.Fatalf("%d read deadlines set, want %d", len(set), tc.timed)
			}
			if n := len(c.deadlines); n > 0 && !c.deadlines[n-1].IsZero() {
				t.Errorf("deadline left at %v once the head was delivered, want the engine's (none)", c.deadlines[n-1])
			}
			for _, d := range set {
				if d.Before(start.Add(time.Minute)) || d.After(time.Now().Add(time.Minute)) {
					t.Errorf("deadline %v, want a minute from the head's first byte", d)
				}
			}
		})
	}
}
