package h2guard

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"
)

// loopConn serves its data over and over, after head once, and discards
// writes.
type loopConn struct {
	head, data []byte
	off        int
}

func (l *loopConn) Read(p []byte) (int, error) {
	if len(l.head) > 0 {
		n := copy(p, l.head)
		l.head = l.head[n:]
		return n, nil
	}
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func (l *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (l *loopConn) Close() error                     { return nil }
func (l *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (l *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (l *loopConn) SetDeadline(time.Time) error      { return nil }
func (l *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (l *loopConn) SetWriteDeadline(time.Time) error { return nil }

// clientMix is what a busy HTTP/2 client sends: requests with bodies, a
// reset now and then, window updates and pings.
func clientMix() []byte {
	var b []byte
	for i := range 50 {
		id := uint32(2*i + 1)
		b = cat(b, headers(id), frame(0x0, 1, id, bytes.Repeat([]byte{'x'}, 100*i)), frame(0x8, 0, 0, []byte{0, 0, 1, 0}))
	}
	return cat(b, rst(99), frame(0x6, 0, 0, make([]byte, 8)))
}

// costCases are the connections the cost tests read and write.
func costCases() []struct {
	name       string
	head, data []byte
} {
	return []struct {
		name       string
		head, data []byte
	}{
		{"HTTP/2", []byte(preface), clientMix()},
		{"HTTP/1.1", nil, []byte(get)},
	}
}

// TestNoAllocs pins the steady state of a guarded connection, HTTP/2 or
// not, reads split anywhere and writes of many frames, at zero
// allocations.
func TestNoAllocs(t *testing.T) {
	for _, tc := range costCases() {
		for _, size := range []int{9, 1000, 16384} {
			l := &loopConn{head: tc.head, data: tc.data}
			g := New(l, Limits{}, nil)
			buf := make([]byte, size)
			if a := testing.AllocsPerRun(1000, func() {
				if _, err := g.Read(buf); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("%s, reads of %d: %v allocations per Read, want 0", tc.name, size, a)
			}
			if g.Active() != (tc.head != nil) {
				t.Errorf("%s: Active() = %v", tc.name, g.Active())
			}
			out := tc.data // what the server writes does not matter here
			if a := testing.AllocsPerRun(1000, func() {
				if _, err := g.Write(out); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("%s: %v allocations per Write, want 0", tc.name, a)
			}
		}
	}
}

// benchRead reads c with reads of size bytes.
func benchRead(b *testing.B, c net.Conn, size int) {
	buf := make([]byte, size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead compares reads through a guard with reads of the bare
// conn, with x/net's read sizes (9-byte headers) and larger ones.
func BenchmarkRead(b *testing.B) {
	for _, tc := range costCases() {
		for _, size := range []int{9, 4096} {
			b.Run(tc.name+"/bare/"+strconv.Itoa(size), func(b *testing.B) {
				benchRead(b, &loopConn{head: tc.head, data: tc.data}, size)
			})
			b.Run(tc.name+"/guarded/"+strconv.Itoa(size), func(b *testing.B) {
				benchRead(b, New(&loopConn{head: tc.head, data: tc.data}, Limits{}, nil), size)
			})
		}
	}
}

// BenchmarkWrite writes the frames of a busy server through a guard.
func BenchmarkWrite(b *testing.B) {
	l := &loopConn{head: []byte(preface), data: clientMix()}
	g := New(l, Limits{}, nil)
	g.Read(make([]byte, len(preface)))
	out := clientMix()
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Write(out); err != nil {
			b.Fatal(err)
		}
	}
}
