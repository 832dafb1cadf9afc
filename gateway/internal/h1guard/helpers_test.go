package h1guard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// errWait is what fakeConn returns when the client has sent everything
// scheduled so far: like a read deadline, it is a timeout.
var errWait net.Error = waitError{}

type waitError struct{}

func (waitError) Error() string   { return "no more client bytes yet" }
func (waitError) Timeout() bool   { return true }
func (waitError) Temporary() bool { return true }

// fakeConn is a scripted client. Read returns the bytes of data in pieces
// of at most step bytes (0: as many as fit), then io.EOF, or errWait while
// more is to be pushed. Writes are recorded.
type fakeConn struct {
	data   []byte
	step   int
	more   bool // the client is not done: errWait instead of io.EOF
	reads  int
	out    bytes.Buffer
	closed bool
}

func (f *fakeConn) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		if f.more {
			return 0, errWait
		}
		return 0, io.EOF
	}
	f.reads++
	n := len(p)
	if f.step > 0 {
		n = min(n, f.step)
	}
	n = copy(p, f.data[:min(n, len(f.data))])
	f.data = f.data[n:]
	return n, nil
}

func (f *fakeConn) push(s string)                    { f.data = append(f.data, s...) }
func (f *fakeConn) Write(p []byte) (int, error)      { return f.out.Write(p) }
func (f *fakeConn) Close() error                     { f.closed = true; return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// result is what one run of a guard produced.
type result struct {
	delivered string     // bytes the engine read
	refusals  []*Refusal // onRefuse calls
	written   string     // bytes written back to the client
	err       error      // the error that ended the engine's reads
}

// guarded returns a guard over f that records its refusals into res.
func guarded(f *fakeConn, lim Limits, res *result) *Conn {
	return New(f, lim, func(r *Refusal) { res.refusals = append(res.refusals, r) })
}

// drain reads from g with size-byte reads until an error, as an engine
// would, appending what it reads to res.delivered.
func drain(t testing.TB, g *Conn, size int, res *result) {
	t.Helper()
	buf := make([]byte, size)
	got := []byte(res.delivered)
	defer func() { res.delivered = string(got) }()
	for i := 0; ; i++ {
		if i > 10<<20 {
			t.Fatal("Read loops without end")
		}
		n, err := g.Read(buf)
		if n < 0 || n > size {
			t.Fatalf("Read returned n = %d for a %d-byte buffer", n, size)
		}
		got = append(got, buf[:n]...)
		if err != nil {
			res.err = err
			return
		}
	}
}

// run feeds in to a guard step bytes at a time and drains it with
// size-byte reads until the client's EOF or a refusal.
func run(t testing.TB, in string, lim Limits, step, size int) result {
	t.Helper()
	f := &fakeConn{data: []byte(in), step: step}
	var res result
	drain(t, guarded(f, lim, &res), size, &res)
	res.written = f.out.String()
	return res
}

// refusal returns the single refusal of res, nil if none, and fails the
// test when there were several.
func (res result) refusal(t testing.TB) *Refusal {
	t.Helper()
	switch len(res.refusals) {
	case 0:
		return nil
	case 1:
		return res.refusals[0]
	}
	t.Fatalf("onRefuse called %d times, want at most once", len(res.refusals))
	return nil
}

// checkErr checks the error that ended the reads against the refusal.
func (res result) checkErr(t testing.TB, r *Refusal) {
	t.Helper()
	want := io.EOF
	if r != nil && r.InBody && !r.HeadHeld {
		want = ErrBadRequestBody
	}
	if !errors.Is(res.err, want) {
		t.Errorf("final Read error = %v, want %v", res.err, want)
	}
}

// short abbreviates s for failure messages.
func short(s string) string {
	if len(s) <= 200 {
		return s
	}
	return fmt.Sprintf("%q...%q (%d bytes)", s[:100], s[len(s)-100:], len(s))
}
