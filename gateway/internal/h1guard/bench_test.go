package h1guard

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// typicalGET is a browser-like keep-alive GET with a 300-byte head.
const typicalGET = "GET /api/v1/users/12345?include=profile HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0\r\n" +
	"Accept: application/json\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Cookie: session=0123456789abcdef0123456789\r\n" +
	"Connection: keep-alive\r\n\r\n"

// loopConn serves data over and over.
type loopConn struct {
	fakeConn
	all []byte
}

func (l *loopConn) Read(p []byte) (int, error) {
	if len(l.data) == 0 {
		l.data = l.all
	}
	return l.fakeConn.Read(p)
}

// TestNoAllocs pins the steady state of a keep-alive connection, heads
// split across reads and chunked bodies included, at zero allocations.
func TestNoAllocs(t *testing.T) {
	stream := get + chunked + "5;a=b\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" + withCL("Content-Length: 3\r\n", "abc")
	for _, step := range []int{0, 50} {
		l := &loopConn{all: []byte(strings.Repeat(stream, 4))}
		l.step = step
		g := New(l, Limits{}, nil)
		buf := make([]byte, 4096)
		if a := testing.AllocsPerRun(1000, func() {
			if _, err := g.Read(buf); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("step %d: %v allocations per Read, want 0", step, a)
		}
	}
}

// readStream reads perOp bytes of c's endless stream per iteration with
// size-byte reads, as an engine would.
func readStream(b *testing.B, c net.Conn, perOp, size int) {
	buf := make([]byte, size)
	b.SetBytes(int64(perOp))
	b.ReportAllocs()
	carry := 0
	for b.Loop() {
		got := carry
		for got < perOp {
			n, err := c.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
		carry = got - perOp
	}
}

// endless returns a conn serving stream over and over, step bytes per Read
// at most (0: as many as fit).
func endless(stream string, step int) *loopConn {
	l := &loopConn{all: []byte(stream)}
	l.step = step
	return l
}

// BenchmarkGET reads keep-alive GETs: one per socket read, as a client
// waiting for each response sends them, and pipelined in 4 KiB reads, where
// heads straddle reads and are held. raw is the same reads unguarded.
func BenchmarkGET(b *testing.B) {
	n := len(typicalGET)
	pipelined := strings.Repeat(typicalGET, 64)
	b.Run("raw", func(b *testing.B) { readStream(b, endless(typicalGET, n), n, 4096) })
	b.Run("guard", func(b *testing.B) { readStream(b, New(endless(typicalGET, n), Limits{}, nil), n, 4096) })
	b.Run("guard-pipelined", func(b *testing.B) { readStream(b, New(endless(pipelined, 0), Limits{}, nil), n, 4096) })
}

// BenchmarkBody reads POSTs with a 1 MiB body in 32 KiB reads, framed by
// Content-Length or chunked in 16 KiB chunks.
func BenchmarkBody(b *testing.B) {
	body := strings.Repeat("x", 1<<20)
	cl := withCL(fmt.Sprintf("Content-Length: %d\r\n", len(body)), body)
	var ch strings.Builder
	ch.WriteString(chunked)
	for i := 0; i < len(body); i += 16 << 10 {
		fmt.Fprintf(&ch, "%x\r\n%s\r\n", 16<<10, body[i:i+16<<10])
	}
	ch.WriteString("0\r\n\r\n")
	const size = 32 << 10
	b.Run("content-length/raw", func(b *testing.B) { readStream(b, endless(cl, 0), len(cl), size) })
	b.Run("content-length/guard", func(b *testing.B) { readStream(b, New(endless(cl, 0), Limits{}, nil), len(cl), size) })
	b.Run("chunked/guard", func(b *testing.B) { readStream(b, New(endless(ch.String(), 0), Limits{}, nil), ch.Len(), size) })
}
