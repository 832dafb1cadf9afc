package h2guard

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/net/http2"
)

// serverFrames returns frames as x/net's server writes them, DATA payloads
// of dataLen bytes, and the offsets at which its frames end.
func serverFrames(t *testing.T, dataLen int) ([]byte, []int) {
	t.Helper()
	var buf bytes.Buffer
	var ends []int
	fr := http2.NewFramer(&buf, nil)
	data := bytes.Repeat([]byte{'d'}, dataLen)
	writes := []func() error{
		func() error { return fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}) },
		func() error { return fr.WriteWindowUpdate(0, 1<<20) },
		fr.WriteSettingsAck,
		func() error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88}, EndHeaders: true})
		},
		func() error { return fr.WriteData(1, false, data) },
		func() error { return fr.WriteData(1, true, nil) },
		func() error { return fr.WritePing(true, [8]byte{1}) },
		func() error { return fr.WriteRSTStream(3, http2.ErrCodeCancel) },
		func() error { return fr.WriteData(5, true, data[:dataLen/3]) },
	}
	for _, w := range writes {
		if err := w(); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, buf.Len())
	}
	return buf.Bytes(), ends
}

// armedAt sets up an HTTP/2 guard whose server has written stream[:s] (in
// pieces of at most chunk bytes), trips it in the test's goroutine, then
// writes the rest of stream in one Write. It returns that Write's result
// and all the bytes that went to the client.
func armedAt(t *testing.T, h2c bool, stream []byte, s, chunk int) (int, error, []byte) {
	t.Helper()
	f := newFake()
	g := New(f, Limits{}, nil)
	client := preface + string(headers(5))
	if h2c {
		f.pieces = [][]byte{[]byte(h2cReq)}
		readAll(t, g, 4096)
		mustWrite(t, g, stream[:len(status101)])
		stream, s = stream[len(status101):], s-len(status101)
	}
	for _, p := range splitEvery(stream[:s], chunk) {
		mustWrite(t, g, p)
	}
	f.pieces = [][]byte{[]byte(client)}
	readAll(t, g, 4096)
	g.arm()
	n, err := g.Write(stream[s:])
	out, _, _ := f.state()
	return n, err, out
}

func TestGoAwayNeverInsideAFrame(t *testing.T) {
	tests := []struct {
		name    string
		h2c     bool
		dataLen int
		chunk   int
	}{
		{"prior knowledge", false, 300, 1 << 20},
		{"prior knowledge, writes of 7 bytes", false, 300, 7},
		{"h2c, after the 101", true, 300, 1 << 20},
		{"h2c, writes of 7 bytes", true, 300, 7},
		{"large DATA frames", false, 70000, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, ends := serverFrames(t, tt.dataLen)
			head := 0
			if tt.h2c {
				head = len(h2c101)
				stream = append([]byte(h2c101), stream...)
				for i := range ends {
					ends[i] += head
				}
			}
			for _, s := range offsets(stream, ends, head) {
				n, err, out := armedAt(t, tt.h2c, stream, s, tt.chunk)
				if err := checkCut(t, stream, ends, head, s, n, err, out); err != nil {
					t.Fatalf("tripped after %d bytes: %v", s, err)
				}
			}
		})
	}
}

// offsets returns the split points to try: all of them in a short stream,
// else those near a frame end and a stride through payloads.
func offsets(stream []byte, ends []int, head int) []int {
	var out []int
	for s := min(head, len(status101)); s <= len(stream); s++ {
		near := false
		for _, e := range append([]int{head}, ends...) {
			near = near || (s >= e-10 && s <= e+10)
		}
		if len(stream) <= 4096 || near || s%997 == 0 {
			out = append(out, s)
		}
	}
	return out
}

// checkCut checks the result of armedAt at split s: the frames up to the
// first frame end at or after s, then the GOAWAY, and nothing else.
func checkCut(t *testing.T, stream []byte, ends []int, head, s, n int, err error, out []byte) error {
	b := len(stream)
	for _, e := range append([]int{head}, ends...) {
		if e >= s {
			b = e
			break
		}
	}
	ga := goAwayFrame(5)
	if want := append(stream[:b:b], ga[:]...); !bytes.Equal(out, want) {
		return fmt.Errorf("wrote %d bytes ending %q, want %d bytes: the frames up to %d, then the GOAWAY", len(out), out[max(0, len(out)-30):], len(want), b)
	}
	wantErr := b < len(stream) || s == b
	if n != b-s || (err != nil) != wantErr || (err != nil && !errors.Is(err, ErrPrematureResets)) {
		return fmt.Errorf("the Write after the trip returned %d, %v; want %d, error %v", n, err, b-s, wantErr)
	}
	fs := parseBack(t, out[head:])
	if last := fs[len(fs)-1]; last.Type != http2.FrameGoAway || last.Code != http2.ErrCodeEnhanceYourCalm || last.Last != 5 {
		return fmt.Errorf("the last frame is %+v, want a GOAWAY, ENHANCE_YOUR_CALM, last stream 5", last)
	}
	return nil
}

// mustWrite writes p to g and fails the test if it does not all go.
func mustWrite(t *testing.T, g *Conn, p []byte) {
	t.Helper()
	if n, err := g.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
	}
}
