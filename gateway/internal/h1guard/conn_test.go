package h1guard

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
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

// TestRefusedThen101 checks that no refusal is written into a connection
// the engine has already switched with a 101.
func TestRefusedThen101(t *testing.T) {
	f := &fakeConn{more: true, data: []byte(wsReq + "early")}
	g := New(f, Limits{}, nil)
	readOnce(t, g, 4096)
	if _, err := readOnce(t, g, 1); !errors.Is(err, errWait) {
		t.Fatalf("background Read error = %v, want the timeout", err)
	}
	g.Write([]byte(ws101))
	if _, err := readOnce(t, g, 4096); err != io.EOF {
		t.Fatalf("Read error = %v, want io.EOF", err)
	}
	if f.out.String() != ws101 {
		t.Errorf("the client got %q, want only the 101", f.out.String())
	}
}

func TestBadBodyIsSticky(t *testing.T) {
	f := &fakeConn{data: []byte(chunked + "5\nhello")}
	g := New(f, Limits{}, nil)
	readOnce(t, g, 4096)
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
