package h2guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// fakeConn is a scripted client. Read returns its pieces one per call
// (split further if p is smaller), then io.EOF. Writes are recorded; with
// block set, a Write waits for unblock or Close first. It is safe for the
// guard's reader, writer and closer to use at once.
type fakeConn struct {
	mu       sync.Mutex
	pieces   [][]byte
	out      bytes.Buffer
	closed   bool
	shutWr   bool
	block    chan struct{} // if set, Write signals entered and waits on unblock
	entered  chan struct{}
	unblock  chan struct{}
	shutdown chan struct{} // closed by Close
}

func newFake(pieces ...[]byte) *fakeConn {
	return &fakeConn{pieces: pieces, shutdown: make(chan struct{})}
}

func (f *fakeConn) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.pieces) > 0 && len(f.pieces[0]) == 0 {
		f.pieces = f.pieces[1:]
	}
	if f.closed {
		return 0, net.ErrClosed
	}
	if len(f.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.pieces[0])
	f.pieces[0] = f.pieces[0][n:]
	return n, nil
}

func (f *fakeConn) Write(p []byte) (int, error) {
	if f.block != nil {
		f.entered <- struct{}{}
		select {
		case <-f.unblock:
		case <-f.shutdown:
			return 0, net.ErrClosed
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.shutWr {
		return 0, net.ErrClosed
	}
	return f.out.Write(p)
}

// blocking makes every later Write wait: it reports entering on entered
// and returns once unblock is closed (or the conn is).
func (f *fakeConn) blocking() {
	f.block, f.entered, f.unblock = make(chan struct{}), make(chan struct{}, 1), make(chan struct{})
}

func (f *fakeConn) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.shutdown)
	}
	return nil
}

func (f *fakeConn) CloseWrite() error                { f.mu.Lock(); f.shutWr = true; f.mu.Unlock(); return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// state returns what was written, whether the conn was closed and whether
// its writing side was shut down.
func (f *fakeConn) state() (out []byte, closed, shutWr bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.out.Bytes()), f.closed, f.shutWr
}

// frame returns a raw HTTP/2 frame: any length, any type.
func frame(typ, flags byte, id uint32, payload []byte) []byte {
	b := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags}
	b = binary.BigEndian.AppendUint32(b, id)
	return append(b, payload...)
}

// block is a valid HPACK block for GET http://a/: :method GET, :scheme
// http, :path /, :authority a.
var block = []byte{0x82, 0x86, 0x84, 0x01, 0x01, 'a'}

// headers returns a HEADERS frame opening stream id (END_STREAM,
// END_HEADERS).
func headers(id uint32) []byte { return frame(frameHeaders, 0x5, id, block) }

// rst returns a RST_STREAM frame on stream id with CANCEL.
func rst(id uint32) []byte { return frame(frameRSTStream, 0, id, []byte{0, 0, 0, 8}) }

// attack returns n pairs of HEADERS and RST_STREAM on streams first,
// first+2, and so on.
func attack(first uint32, n int) []byte {
	var b []byte
	for i := range n {
		id := first + 2*uint32(i)
		b = append(b, headers(id)...)
		b = append(b, rst(id)...)
	}
	return b
}

// opens returns n HEADERS frames opening streams first, first+2, and so
// on.
func opens(first uint32, n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, headers(first+2*uint32(i))...)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// splitEvery splits b into pieces of at most n bytes.
func splitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// readAll reads g until an error, with size-byte reads, and returns what
// it read and that error.
func readAll(t testing.TB, g net.Conn, size int) ([]byte, error) {
	t.Helper()
	buf := make([]byte, size)
	var got []byte
	for {
		n, err := g.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// sum is what a test checks of one frame read back with x/net's Framer.
type sum struct {
	Type     http2.FrameType
	StreamID uint32
	Length   uint32
	Code     http2.ErrCode // of a GOAWAY
	Last     uint32        // of a GOAWAY
}

// parseBack reads b back with x/net's Framer and sums up its frames; it
// fails the test on bytes that are not whole, valid frames.
func parseBack(t testing.TB, b []byte) []sum {
	t.Helper()
	fr := http2.NewFramer(nil, bytes.NewReader(b))
	fr.SetMaxReadFrameSize(1<<24 - 1)
	var fs []sum
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return fs
		}
		if err != nil {
			t.Fatalf("frame %d of the output does not parse: %v", len(fs), err)
		}
		h := f.Header()
		s := sum{Type: h.Type, StreamID: h.StreamID, Length: h.Length}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			s.Code, s.Last = ga.ErrCode, ga.LastStreamID
		}
		fs = append(fs, s)
	}
}
